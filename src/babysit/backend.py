"""Array namespace, dtype policy and random-number helpers.

Kernels never reach for a global ``np``: they ask :func:`xp` for the namespace of
their inputs, so arrays from another NumPy-compatible library (CuPy) flow through
the same code.
"""

from __future__ import annotations

import numpy as np

DEFAULT_DTYPE = np.dtype(np.float32)


def xp(*arrays):
    """Return the array namespace (module) of ``arrays``: CuPy for CuPy arrays, else NumPy."""
    for array in arrays:
        module = type(array).__module__
        if module.startswith("cupy"):
            import cupy  # noqa: PLC0415 - optional, only when CuPy arrays are passed

            return cupy
    return np


def as_rng(rng=None) -> np.random.Generator:
    """Turn ``None``, an int seed or a Generator into a ``numpy.random.Generator``.

    ``None`` gives a fresh, unseeded generator (like scikit-learn's ``random_state=None``);
    pass an int or a Generator for runs that repeat bit for bit.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def as_float_dtype(dtype) -> np.dtype:
    """Validate and normalise a floating dtype (float32 or float64)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype
