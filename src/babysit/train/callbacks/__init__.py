"""Callbacks: code that runs at fixed points of the Trainer's loop (Keras-style hooks)."""

from babysit.train.callbacks.base import Callback, CallbackList
from babysit.train.callbacks.csv_logger import CSVLogger
from babysit.train.callbacks.early_stopping import EarlyStopping
from babysit.train.callbacks.explosion_guard import ExplosionGuard
from babysit.train.callbacks.model_checkpoint import ModelCheckpoint
from babysit.train.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from babysit.train.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "ExplosionGuard", "ModelCheckpoint",
    "ReduceLROnPlateau", "TerminateOnNaN",
]
