"""Input checks shared by the data package: each error names what it received and expected."""

from __future__ import annotations

import numpy as np

from babysit.errors import InputError

_CHUNK_ELEMENTS = 1 << 22  # scan large arrays in 16 MiB (float32) pieces: no full-size temporaries


def as_array(x, where: str, name: str = "x") -> np.ndarray:
    """``x`` as an ndarray with at least one axis (a view where possible)."""
    array = np.asarray(x)
    if array.ndim == 0:
        raise InputError(where, f"{name} must be an array with one row per sample; received a scalar {array!r}")
    if array.dtype.hasobject or array.dtype.kind not in "biuf":
        raise InputError(where, f"{name} must hold numbers; received dtype {array.dtype}")
    return array


def check_lengths(x: np.ndarray, y, where: str) -> None:
    """``x`` and ``y`` must have one entry per sample each."""
    if y is not None and len(x) != len(y):
        raise InputError(
            where,
            f"x and y have different numbers of samples: x has {len(x)} (shape {x.shape}), "
            f"y has {len(y)} (shape {np.shape(y)}); expected one label per sample",
        )


def check_finite(x: np.ndarray, where: str, name: str = "x") -> None:
    """Refuse NaN or infinite values, naming how many and where the first one is.

    Scans in chunks of rows, so checking a large data set allocates no full-size mask.
    """
    if x.dtype.kind != "f" or x.size == 0:
        return
    step = max(1, _CHUNK_ELEMENTS // max(1, x[0].size))
    chunks = [(start, x[start : start + step]) for start in range(0, len(x), step)]
    bad_chunks = [(start, chunk) for start, chunk in chunks if not np.isfinite(chunk).all()]
    if not bad_chunks:
        return
    total = sum(int((~np.isfinite(chunk)).sum()) for _, chunk in bad_chunks)
    start, chunk = bad_chunks[0]
    position = np.unravel_index(np.argmax(~np.isfinite(chunk)), chunk.shape)
    value = chunk[position]
    index = (int(position[0]) + start, *(int(i) for i in position[1:]))
    raise InputError(
        where,
        f"{name} contains {total} non-finite value(s) (first: {value} at index {index}); "
        "expected finite numbers: fill or drop missing values first",
    )


def check_labels(y, where: str, n_classes: int | None = None) -> np.ndarray:
    """Class labels: a 1-D integer array with values in ``[0, n_classes)``."""
    labels = np.asarray(y)
    expected = f"integers in [0, {n_classes})" if n_classes is not None else "non-negative integers"
    if labels.ndim != 1:
        hint = " (one-hot? pass y.argmax(axis=1))" if labels.ndim == 2 else ""
        raise InputError(where, f"labels must be a 1-D array of class indices; received shape {labels.shape}{hint}")
    if labels.dtype.kind not in "iu":
        raise InputError(
            where,
            f"labels must be {expected}; received dtype {labels.dtype}"
            + (f" (first values {labels[:3].tolist()})" if labels.size else "")
            + ": convert with y.astype(np.int64) if they are whole numbers",
        )
    if labels.size:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or (n_classes is not None and high >= n_classes):
            bad = labels[(labels < 0) | (labels >= (n_classes if n_classes is not None else high + 1))]
            raise InputError(
                where, f"labels must be {expected}; received values from {low} to {high} (e.g. {int(bad[0])})"
            )
    return labels


def check_ndim(x: np.ndarray, where: str, allowed: tuple[int, ...], layout: str) -> None:
    """A transform that needs particular axes: name the received shape and the expected layout."""
    if x.ndim not in allowed:
        raise InputError(where, f"expected a batch of shape {layout}; received shape {x.shape} ({x.ndim}-D)")
