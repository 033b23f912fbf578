"""CSVLogger: the per-epoch metrics as a CSV file, kept in step with the run."""

from __future__ import annotations

from pathlib import Path

from babysit.train.callbacks.base import Callback


class CSVLogger(Callback):
    """After every epoch, write every epoch's row of the trainer's history to ``path``.

    The file is rewritten whole and atomically (temp file + rename) rather than appended
    to: a run killed at any instant leaves a complete file, and a resumed run's file has
    each epoch exactly once (an append would repeat the epochs redone after the last
    checkpoint). Columns are the union of the rows' keys.

    Parameters
    ----------
    path : str or Path
    separator : str
        One character, ``","`` by default.
    """

    def __init__(self, path, separator: str = ","):
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be one character, got {separator!r}")
        self.path, self.separator = Path(path), separator

    def on_epoch_end(self, trainer, logs):
        trainer.history.save_csv(self.path, separator=self.separator)
