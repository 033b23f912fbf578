"""Training: the Trainer loop, its History, callbacks and crash-safe checkpoints."""

from babysit.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    ExplosionGuard,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from babysit.train.checkpoint import read_checkpoint
from babysit.train.history import History
from babysit.train.trainer import Trainer

__all__ = [
    "CSVLogger", "Callback", "EarlyStopping", "ExplosionGuard", "History", "ModelCheckpoint", "ReduceLROnPlateau",
    "TerminateOnNaN", "Trainer", "read_checkpoint",
]
