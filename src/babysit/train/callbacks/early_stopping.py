"""EarlyStopping: stop when the validation metric stops improving (the course note's advice)."""

from __future__ import annotations

from babysit.train.callbacks._monitor import MonitoredMetric
from babysit.train.callbacks.base import Callback


class EarlyStopping(Callback):
    """Stop training once ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A key of the epoch's row: ``"val_loss"`` (default), ``"val_accuracy"``, ``"loss"``...
    patience : int
        Epochs without improvement tolerated; 0 stops at the first one.
    min_delta : float
        An improvement must beat the best value by more than this.
    mode : {"auto", "min", "max"}
        ``auto``: higher is better for accuracies, lower for the rest.
    restore_best : bool
        At the end of training put back the weights of the best epoch, so the model
        the run returns (and saves) is the best one seen, not the last.

    Notes
    -----
    The best weights are part of :meth:`state_dict`, so a resumed run restores them too.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best: bool = True):
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.metric = MonitoredMetric("EarlyStopping", monitor, mode, min_delta)
        self.patience, self.restore_best = patience, bool(restore_best)
        self._reset()

    def _reset(self) -> None:
        self.best = self.best_epoch = self.stopped_epoch = None
        self.wait = 0
        self.best_weights = None

    def on_train_begin(self, trainer, logs):
        self._reset()

    def on_epoch_end(self, trainer, logs):
        value = self.metric.value(logs)
        if self.metric.improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, logs["epoch"], 0
            if self.restore_best:
                self.best_weights = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = logs["epoch"]
            trainer.stop(self._reason(), self._details())

    def on_train_end(self, trainer, logs):
        if self.restore_best and self.best_weights is not None and self.best_epoch != trainer.epoch:
            trainer.model.load_state_dict(self.best_weights)

    def _reason(self) -> str:
        best = "none (never finite)" if self.best is None else f"{self.best:.4g} at epoch {self.best_epoch}"
        return (f"early stopping: {self.metric.monitor} did not improve by more than {self.metric.min_delta:g} "
                f"for {self.wait} epochs (best {best})")

    def _details(self) -> dict:
        restored = f"; the weights of epoch {self.best_epoch} are restored" if self.restore_best else ""
        return {"name": "early_stopping", "status": "ok",
                "measured": f"no improvement of {self.metric.describe()} for {self.wait} epochs",
                "expected": f"an improvement within {self.patience} epochs",
                "advice": f"training stopped at epoch {self.stopped_epoch}{restored}",
                "data": {"monitor": self.metric.monitor, "best": self.best, "best_epoch": self.best_epoch,
                         "stopped_epoch": self.stopped_epoch}}

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.stopped_epoch, self.best_weights = state["stopped_epoch"], state["best_weights"]
