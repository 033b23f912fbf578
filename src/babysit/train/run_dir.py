"""The run directory: what a Trainer with an ``out_dir`` writes, and when.

::

    model.npz                 the final model (babysit.load)
    history.json, history.csv the History, rewritten after every epoch
    checkpoints/last.npz      the full training state (fit(resume=True) continues from it)
    checkpoints/last.prev.npz the one before it: the fallback if last.npz is damaged

Every file is written to a temporary name and renamed into place, so a run killed at any
instant leaves each file whole: the old version or the new one.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from babysit.serialization import save_model
from babysit.train.checkpoint import previous_path, save_checkpoint


class RunDirectory:
    """Writes a run's files and keeps ``last.prev.npz`` a checkpoint of the same run.

    ``last.npz`` is rotated into ``last.prev.npz`` only when it is known to be this run's
    and good (written by it, or resumed from). A fresh run in a used directory overwrites
    ``last.npz`` and deletes the earlier run's ``last.prev.npz``; a run that fell back to
    ``last.prev.npz`` overwrites the damaged ``last.npz`` and keeps its fallback.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.trusted = False  # last.npz is this run's own
        self.previous_is_stale = False  # last.prev.npz is an earlier run's

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoints" / "last.npz"

    def start_fresh(self) -> None:
        """A run starting from scratch: earlier checkpoints here are not its own."""
        self.remove_temporaries()
        if self.trusted:  # a second fit() of the same trainer continues its own run
            return
        self.previous_is_stale = True
        if self.checkpoint_path.exists():
            warnings.warn(f"{self.checkpoint_path} holds a checkpoint of an earlier run; this fresh run "
                          "overwrites it (pass resume=True to continue that run instead)", UserWarning, stacklevel=4)

    def resumed_from(self, path) -> None:
        self.remove_temporaries()
        self.trusted = Path(path) == self.checkpoint_path

    def remove_temporaries(self) -> None:
        """Half-written temporary files that a killed run left behind."""
        folder = self.checkpoint_path.parent
        leftovers = [*folder.glob(".last.npz.*.tmp"), *folder.glob(".last.prev.npz.link"),
                     *self.path.glob(".history.*.tmp")]
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)

    def save_history(self, history) -> None:
        history.save_json(self.path / "history.json")
        history.save_csv(self.path / "history.csv")

    def save_checkpoint(self, trainer) -> None:
        save_checkpoint(trainer, self.checkpoint_path, keep_previous=self.trusted)
        if self.previous_is_stale:  # the earlier run's fallback must not be mistaken for this run's
            previous_path(self.checkpoint_path).unlink(missing_ok=True)
            self.previous_is_stale = False
        self.trusted = True

    def save_model(self, model) -> None:
        """``model.npz``, unless the parameters are not finite (then the last checkpoint is the
        last good state) or the model cannot be stored as a file; a warning says which."""
        path = self.path / "model.npz"
        if not all(np.isfinite(p.data).all() for p in model.parameters()):
            warnings.warn(f"{path} not written: the model's parameters are not finite; "
                          f"the last good state is in {self.checkpoint_path}", UserWarning, stacklevel=4)
            return
        try:
            save_model(model, path)
        except TypeError as error:  # a custom module whose arguments cannot be stored
            warnings.warn(f"{path} not written: {error}", UserWarning, stacklevel=4)
