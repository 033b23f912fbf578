"""Mini-batches over in-memory (or memory-mapped) arrays, shuffled per epoch from a seeded rng."""

from __future__ import annotations

import math

import numpy as np

from babysit.backend import as_rng
from babysit.data._checks import as_array, check_finite, check_labels, check_lengths
from babysit.errors import InputError


class DataLoader:
    """Iterate ``(x_batch, y_batch)`` mini-batches; a new shuffle each epoch.

    Parameters
    ----------
    x : array (N, ...)
        Kept by reference, never copied whole: each batch is one fancy-indexed copy of
        ``batch_size`` rows (so peak memory is the data plus a few batches, and a
        ``np.memmap`` reads only the rows it needs).
    y : array (N,) of int class indices in ``[0, n_classes)``, or None
        ``None`` yields ``(x_batch, None)``.
    batch_size : int
    shuffle : bool
        Draw a fresh permutation from ``rng`` at the start of every epoch. Without it,
        batches are read-only views of ``x`` in order (no copy).
    drop_last : bool
        Skip the last batch when it is smaller than ``batch_size``.
    transform : callable ``(x, y, rng) -> (x, y)``, optional
        Applied to every batch with the loader's generator: an augmentation from
        :mod:`babysit.data.augment`, a fitted preprocessor, a :class:`Compose` of them, or
        your own function. It must not modify its input in place.
    rng : int seed or numpy Generator, optional
        Drives the shuffling and the transform: the same seed gives the same batches.
    n_classes : int, optional
        When given, labels must lie in ``[0, n_classes)``.

    Raises
    ------
    InputError
        ``x`` and ``y`` of different lengths, NaN or infinite values in ``x``, labels that
        are not integers in range - each naming what was received and what was expected.

    Examples
    --------
    >>> loader = DataLoader(x_train, y_train, batch_size=64, rng=0)
    >>> for epoch in range(3):
    ...     for x_batch, y_batch in loader:
    ...         ...
    """

    def __init__(
        self, x, y=None, *, batch_size: int = 128, shuffle: bool = True, drop_last: bool = False, transform=None,
        rng=None, n_classes: int | None = None,
    ):  # fmt: skip
        where = "DataLoader"
        self.x = as_array(x, where)
        check_lengths(self.x, y, where)
        check_finite(self.x, where)
        self.y = None if y is None else check_labels(y, where, n_classes)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InputError(where, f"batch_size must be a positive integer; received {batch_size!r}")
        if transform is not None and not callable(transform):
            raise InputError(where, f"transform must be a callable (x, y, rng) -> (x, y); received {transform!r}")
        if drop_last and batch_size > len(self.x):
            raise InputError(where, f"drop_last=True with batch_size={batch_size} > {len(self.x)} samples: no batch")
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        self.transform = transform
        self.n_classes = n_classes
        self.rng = as_rng(rng)

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def n_samples(self) -> int:
        return len(self.x)

    def __iter__(self):
        order = self.rng.permutation(len(self.x)) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = min(start + self.batch_size, len(self.x))
            if order is None:
                x_batch, y_batch = (
                    _read_only(self.x[start:stop]),
                    None if self.y is None else _read_only(self.y[start:stop]),
                )
            else:
                index = order[start:stop]
                x_batch, y_batch = self.x[index], None if self.y is None else self.y[index]
            if self.transform is not None:
                x_batch, y_batch = self._apply_transform(x_batch, y_batch)
            yield x_batch, y_batch

    def _apply_transform(self, x_batch, y_batch):
        result = self.transform(x_batch, y_batch, self.rng)
        if not (isinstance(result, tuple) and len(result) == 2):
            received = f"{type(result).__name__} of shape {result.shape}" if hasattr(result, "shape") else repr(result)
            raise InputError(
                "DataLoader", f"transform {self.transform!r} must return a pair (x, y); it returned a {received}"
            )
        return result

    def __repr__(self) -> str:
        return (
            f"DataLoader(n_samples={len(self.x)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, batches={len(self)})"
        )


def _read_only(view: np.ndarray) -> np.ndarray:
    """A view of the data set that refuses in-place edits (which would change the data itself)."""
    view = view.view()
    view.flags.writeable = False
    return view
