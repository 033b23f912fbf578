"""ReduceLROnPlateau: cut the learning rate when the monitored metric stalls."""

from __future__ import annotations

import math

from babysit.train.callbacks._monitor import MonitoredMetric
from babysit.train.callbacks.base import Callback


class ReduceLROnPlateau(Callback):
    """Multiply every parameter group's ``lr`` by ``factor`` after ``patience`` epochs without
    improvement of ``monitor``, then wait ``cooldown`` epochs before counting again.

    Parameters
    ----------
    monitor : str
        Epoch metric, ``"val_loss"`` by default.
    factor : float in (0, 1)
    patience : int
        Epochs without improvement before a cut.
    min_delta : float
        Absolute change that counts as an improvement.
    cooldown : int
    min_lr : float
        No group's rate goes below this.
    mode : {"auto", "min", "max"}

    Notes
    -----
    It sets ``group["lr"]`` itself, so it cannot be combined with a schedule (the
    Trainer's ``schedule`` or an optimizer built with ``lr=schedule``), which would
    overwrite or ignore its cuts; ``on_train_begin`` refuses that combination.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, mode: str = "auto"):
        if not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"ReduceLROnPlateau: {name} must be an int >= 0, got {value!r}")
        if not isinstance(min_lr, (int, float)) or not math.isfinite(min_lr) or min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be a finite number >= 0, got {min_lr!r}")
        self.metric = MonitoredMetric("ReduceLROnPlateau", monitor, mode, min_delta)
        self.factor, self.patience, self.cooldown, self.min_lr = float(factor), patience, cooldown, float(min_lr)
        self._reset()

    def _reset(self) -> None:
        self.best = None
        self.wait = self.cooldown_left = 0
        self.reductions: list[dict] = []  # {"epoch", "lrs"} after each cut

    def on_train_begin(self, trainer, logs):
        scheduled = trainer.schedule is not None or any(callable(g["lr"]) for g in trainer.optimizer.param_groups)
        if scheduled:
            raise ValueError("ReduceLROnPlateau sets the optimizer's lr itself and cannot be combined with a "
                             "learning-rate schedule; use one or the other")
        self._reset()

    def on_epoch_end(self, trainer, logs):
        value = self.metric.value(logs)
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self.metric.improved(value, self.best):
            self.best, self.wait = value, 0
        elif self.cooldown_left == 0:
            self.wait += 1
            if self.wait >= max(self.patience, 1):
                self._cut(trainer, logs["epoch"])

    def _cut(self, trainer, epoch: int) -> None:
        groups = trainer.optimizer.param_groups
        if all(group["lr"] <= self.min_lr for group in groups):
            return  # already at the floor: nothing left to cut
        for group in groups:
            if group["lr"] > self.min_lr:  # a cut never raises a rate that is already below the floor
                group["lr"] = max(group["lr"] * self.factor, self.min_lr)
        self.reductions.append({"epoch": epoch, "lrs": [group["lr"] for group in groups]})
        self.cooldown_left, self.wait = self.cooldown, 0

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait, "cooldown_left": self.cooldown_left,
                "reductions": self.reductions}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait, self.cooldown_left = state["best"], state["wait"], state["cooldown_left"]
        self.reductions = [dict(entry) for entry in state["reductions"]]
