"""Callbacks: code that runs at fixed points of the Trainer's loop (Keras-style hooks)."""

from babysit.train.callbacks.base import Callback, CallbackList

__all__ = ["Callback", "CallbackList"]
