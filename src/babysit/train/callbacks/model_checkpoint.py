"""ModelCheckpoint: keep the best model (and the latest, and every k-th) as loadable files."""

from __future__ import annotations

from pathlib import Path

from babysit.serialization import encode_module, save_arrays
from babysit.train.callbacks._monitor import MonitoredMetric
from babysit.train.callbacks.base import Callback


class ModelCheckpoint(Callback):
    """Save the model after epochs, as files :func:`babysit.load` reads.

    Written in ``directory`` (default: the trainer's ``out_dir/checkpoints``):

    - ``best.npz`` whenever ``monitor`` improves (its metadata names the epoch and value);
    - ``last_model.npz`` after every epoch (``save_last``);
    - ``epoch_0005.npz`` every ``every`` epochs, for averaging checkpoints of one run
      (:func:`babysit.evaluation.averaging.average_checkpoints`).

    These are model files. The full training state that ``fit(resume=True)`` continues
    from is the trainer's own ``checkpoints/last.npz``.

    Parameters
    ----------
    directory : str or Path, optional
    monitor, mode, min_delta
        As for :class:`EarlyStopping`.
    save_best, save_last : bool
    every : int, optional
    """

    def __init__(self, directory=None, *, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0,
                 save_best: bool = True, save_last: bool = True, every: int | None = None):
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"ModelCheckpoint: every must be a positive int or None, got {every!r}")
        self.directory = None if directory is None else Path(directory)
        self.metric = MonitoredMetric("ModelCheckpoint", monitor, mode, min_delta)
        self.save_best, self.save_last, self.every = bool(save_best), bool(save_last), every
        self.best = self.best_epoch = None  # kept across fit() calls, like the file on disk
        self._target = None

    @property
    def best_path(self) -> Path | None:
        return None if self._target is None else self._target / "best.npz"

    def on_train_begin(self, trainer, logs):
        if self.directory is None and trainer.out_dir is None:
            raise ValueError("ModelCheckpoint: give it a directory, or give the Trainer an out_dir")
        self._target = self.directory or trainer.out_dir / "checkpoints"
        try:  # fail now, not after the first epoch's work
            encode_module(trainer.model)
        except TypeError as error:
            raise ValueError(f"ModelCheckpoint: this model cannot be saved as a file: {error}") from error

    def on_epoch_end(self, trainer, logs):
        epoch = logs["epoch"]
        if self.save_best:
            value = self.metric.value(logs)
            if self.metric.improved(value, self.best):
                self.best, self.best_epoch = value, epoch
                self._save(trainer.model, self.best_path, epoch, value)
        if self.save_last:
            self._save(trainer.model, self._target / "last_model.npz", epoch, logs.get(self.metric.monitor))
        if self.every is not None and epoch % self.every == 0:
            self._save(trainer.model, self._target / f"epoch_{epoch:04d}.npz", epoch, logs.get(self.metric.monitor))

    def _save(self, model, path: Path, epoch: int, value) -> None:
        metadata = {"kind": "model", "architecture": encode_module(model),
                    "checkpoint": {"epoch": epoch, "monitor": self.metric.monitor, "value": value}}
        save_arrays(path, model.state_dict(), metadata)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
