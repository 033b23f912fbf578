"""Train/validation splits and k-fold indices: seeded, stratified when asked.

The first argument of :func:`split_indices` and :func:`kfold_indices` is either the number
of samples or the array of class labels; stratifying needs the labels. Indices come back
sorted, so the selected rows keep their original order.
"""

from __future__ import annotations

import numpy as np

from babysit.backend import as_rng
from babysit.data._checks import as_array, check_labels, check_lengths
from babysit.errors import InputError


def train_val_split(x, y=None, *, val_size: float | int = 0.2, stratify: bool = False, rng=0):
    """Split ``(x, y)`` into a training and a validation part.

    Parameters
    ----------
    x : array (N, ...)
    y : array (N,), optional
        Labels; needed for ``stratify=True``.
    val_size : float in (0, 1) or int
        Fraction of the samples, or their number, that go to validation.
    stratify : bool
        Keep each class's share the same in both parts (within one sample).
    rng : int seed or numpy Generator
        Default 0: the same split every call.

    Returns
    -------
    ((x_train, y_train), (x_val, y_val))
        Copies (fancy-indexed); the ``y`` parts are ``None`` when ``y`` is ``None``.

    Examples
    --------
    >>> (x_tr, y_tr), (x_val, y_val) = train_val_split(x, y, val_size=0.1, stratify=True)
    """
    where = "train_val_split"
    x = as_array(x, where)
    check_lengths(x, y, where)
    train, val = split_indices(y if stratify else len(x), val_size, stratify=stratify, rng=rng)
    if y is None:
        return (x[train], None), (x[val], None)
    y = np.asarray(y)
    return (x[train], y[train]), (x[val], y[val])


def split_indices(n_or_labels, val_size: float | int = 0.2, *, stratify: bool = False, rng=0):
    """Indices ``(train, val)`` of a random split of ``n`` samples; see :func:`train_val_split`.

    Stratified: each class gives ``val_size`` of its samples to validation, rounded so the
    total is exactly the requested number (largest remainders get the extra samples).
    """
    where = "split_indices"
    n, labels = _samples(n_or_labels, stratify, where)
    n_val = _count(val_size, n, where)
    rng = as_rng(rng)
    if labels is None:
        val = rng.permutation(n)[:n_val]
    else:
        classes, counts = np.unique(labels, return_counts=True)
        quotas = _apportion(counts, n_val)
        members = [np.flatnonzero(labels == c) for c in classes]
        val = np.concatenate([rng.permutation(group)[:quota] for group, quota in zip(members, quotas, strict=True)])
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def kfold_indices(n_or_labels, k: int = 5, *, stratify: bool = False, shuffle: bool = True, rng=0):
    """``k`` pairs ``(train, val)`` of index arrays; every sample is in exactly one ``val``.

    Fold sizes differ by at most one. Stratified, each class's samples are dealt round-robin
    over the folds (after shuffling), so every fold holds each class within one sample.
    ``shuffle=False`` (unstratified only) gives contiguous folds in order.
    """
    where = "kfold_indices"
    n, labels = _samples(n_or_labels, stratify, where)
    if not isinstance(k, (int, np.integer)) or not 2 <= k <= n:
        raise InputError(where, f"k must be an integer from 2 to the number of samples ({n}); received {k!r}")
    if labels is not None and not shuffle:
        raise InputError(where, "stratified folds are dealt from shuffled classes: use shuffle=True")
    order = as_rng(rng).permutation(n) if shuffle else np.arange(n)
    if labels is None:
        fold_of = np.empty(n, dtype=np.int64)
        for fold, part in enumerate(np.array_split(order, k)):
            fold_of[part] = fold
    else:
        dealt = order[np.argsort(labels[order], kind="stable")]  # shuffled within each class
        fold_of = np.empty(n, dtype=np.int64)
        fold_of[dealt] = np.arange(n) % k
    return [(np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)) for fold in range(k)]


def _samples(n_or_labels, stratify: bool, where: str) -> tuple[int, np.ndarray | None]:
    if isinstance(n_or_labels, (int, np.integer)):
        if stratify:
            raise InputError(where, f"stratify=True needs the class labels; received only a count ({n_or_labels})")
        if n_or_labels < 2:
            raise InputError(where, f"need at least 2 samples to split; received {n_or_labels}")
        return int(n_or_labels), None
    if n_or_labels is None:
        raise InputError(where, "stratify=True needs the class labels y; received y=None")
    labels = check_labels(n_or_labels, where)
    if len(labels) < 2:
        raise InputError(where, f"need at least 2 samples to split; received {len(labels)}")
    return len(labels), (labels if stratify else None)


def _count(size, n: int, where: str) -> int:
    """The number of validation samples for ``val_size`` (fraction or count) out of ``n``."""
    if isinstance(size, (bool, np.bool_)):
        size = None
    if isinstance(size, (float, np.floating)) and 0 < size < 1:
        count = round(size * n)
    elif isinstance(size, (int, np.integer)):
        count = int(size)
    else:
        raise InputError(where, f"val_size must be a fraction in (0, 1) or a number of samples; received {size!r}")
    if not 1 <= count <= n - 1:
        raise InputError(
            where, f"val_size={size!r} leaves {count} of {n} samples for validation; expected 1 to {n - 1}"
        )
    return count


def _apportion(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``counts`` (largest remainder, ties to the first)."""
    exact = counts * total / counts.sum()
    quotas = np.floor(exact).astype(np.int64)
    remainder = exact - quotas
    extra = np.argsort(-remainder, kind="stable")[: total - quotas.sum()]
    quotas[extra] += 1
    return np.minimum(quotas, counts)
