"""Training: the Trainer loop and its History."""

from babysit.train.history import History
from babysit.train.trainer import Trainer

__all__ = ["History", "Trainer"]
