"""Built-in data sets (offline, one call each) and the :class:`Dataset` they all return.

Every loader in :mod:`babysit.data` (built in or from files) returns a :class:`Dataset`:
arrays by attribute (``ds.x_train``, ``ds.y_test``) or as ``(x, y)`` pairs
(``ds.train``, ``ds.val``, ``ds.test``). Labels are int64 class indices in
``[0, n_classes)``; images are ``(N, C, H, W)`` unless ``flatten=True`` asks for ``(N, C*H*W)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from babysit.backend import as_float_dtype
from babysit.data.splits import split_indices


@dataclass(frozen=True, eq=False)
class Dataset:
    """Training, test and optional validation arrays of one data set.

    Attributes
    ----------
    name : str
    x_train, y_train : arrays (N_train, ...), (N_train,) int64
    x_test, y_test : arrays (N_test, ...), (N_test,) int64
    n_classes : int
    x_val, y_val : arrays, or ``None`` when no validation split was asked for
    class_names : tuple of str, or ``None`` where classes have no names beyond their index
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x_train, y_train)``."""
        return self.x_train, self.y_train

    @property
    def val(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(x_val, y_val)``, or ``None`` without a validation split."""
        return None if self.x_val is None else (self.x_val, self.y_val)

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x_test, y_test)``."""
        return self.x_test, self.y_test

    def __repr__(self) -> str:
        parts = [f"train={self.x_train.shape}", f"test={self.x_test.shape}"]
        if self.x_val is not None:
            parts.insert(1, f"val={self.x_val.shape}")
        return f"Dataset({self.name!r}, {', '.join(parts)}, n_classes={self.n_classes}, dtype={self.x_train.dtype})"


def make_dataset(
    name: str, x_train, y_train, x_test, y_test, *, n_classes: int, class_names=None, val_size=None, seed: int = 0,
    dtype=np.float32,
) -> Dataset:  # fmt: skip
    """Assemble a :class:`Dataset`: cast ``x`` to ``dtype`` (a copy), labels to int64, and carve
    a stratified validation split of ``val_size`` (fraction or count) off the training set."""
    dtype = np.dtype(dtype)
    x_train, x_test = np.array(x_train, dtype=dtype), np.array(x_test, dtype=dtype)
    y_train, y_test = np.array(y_train, dtype=np.int64), np.array(y_test, dtype=np.int64)
    x_val = y_val = None
    if val_size is not None:
        train, val = split_indices(y_train, val_size, stratify=True, rng=seed)
        x_train, x_val, y_train, y_val = x_train[train], x_train[val], y_train[train], y_train[val]
    names = None if class_names is None else tuple(class_names)
    return Dataset(name, x_train, y_train, x_test, y_test, n_classes, x_val, y_val, names)


def digits(*, test_size: float = 0.2, val_size=None, flatten: bool = False, seed: int = 0, dtype=np.float32) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), split train/test.

    Read from the files shipped inside scikit-learn (no download); scikit-learn is an
    optional dependency. Pixel values are 0-16, unscaled.

    Parameters
    ----------
    test_size : float
        Fraction held out as the test set (stratified, seeded by ``seed``).
    val_size : float or int, optional
        Stratified validation split carved off the training set.
    flatten : bool
        ``(N, 64)`` instead of ``(N, 1, 8, 8)``.
    seed : int
        Seed of the test and validation splits.
    dtype : float32 (default) or float64
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "babysit.data.digits() reads scikit-learn's bundled digits files: pip install scikit-learn"
        ) from error
    bunch = load_digits()
    images = bunch.images.reshape(-1, 64) if flatten else bunch.images[:, None]
    train, test = split_indices(bunch.target, test_size, stratify=True, rng=seed)
    return make_dataset(
        "digits", images[train], bunch.target[train], images[test], bunch.target[test],
        n_classes=10, val_size=val_size, seed=seed, dtype=as_float_dtype(dtype),
    )  # fmt: skip


def spirals(
    n_train: int = 300, n_test: int = 300, *, n_classes: int = 3, noise: float = 0.2, val_size=None,
    seed: int = 0, dtype=np.float32,
) -> Dataset:  # fmt: skip
    """Interleaved 2-D spirals, one arm per class (CS231n's toy set), for decision-boundary plots.

    A point of class ``k`` at radius ``r ~ U(0, 1)`` sits at angle ``4 (k + r) + noise * N(0, 1)``:
    ``x = (r sin(angle), r cos(angle))``. Not linearly separable; a small MLP separates it.
    Classes are balanced (within one point); train and test are independent draws.
    """
    _check_toy_arguments("spirals", n_train, n_test, n_classes)
    rng = np.random.default_rng(seed)
    parts = []
    for n in (n_train, n_test):
        labels = np.arange(n) % n_classes
        radius = rng.uniform(0.0, 1.0, n)
        angle = 4.0 * (labels + radius) + noise * rng.standard_normal(n)
        parts.append((np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1), labels))
    (x_train, y_train), (x_test, y_test) = parts
    return make_dataset(
        "spirals", x_train, y_train, x_test, y_test,
        n_classes=n_classes, val_size=val_size, seed=seed, dtype=as_float_dtype(dtype),
    )  # fmt: skip


def blobs(
    n_train: int = 300, n_test: int = 300, *, n_classes: int = 3, std: float = 1.0, centers=None, val_size=None,
    seed: int = 0, dtype=np.float32,
) -> Dataset:  # fmt: skip
    """Isotropic Gaussian blobs in 2-D, one per class: a linearly separable toy set.

    ``centers`` (n_classes, 2) defaults to points evenly spaced on a circle of radius 4,
    so blobs of ``std=1`` barely overlap. Classes are balanced; train and test are
    independent draws.
    """
    _check_toy_arguments("blobs", n_train, n_test, n_classes)
    if centers is None:
        angles = 2 * np.pi * np.arange(n_classes) / n_classes
        centers = 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    centers = np.asarray(centers, dtype=np.float64)
    if centers.shape != (n_classes, 2):
        raise ValueError(f"blobs: centers must have shape (n_classes, 2) = ({n_classes}, 2); got {centers.shape}")
    rng = np.random.default_rng(seed)
    parts = []
    for n in (n_train, n_test):
        labels = np.arange(n) % n_classes
        parts.append((centers[labels] + std * rng.standard_normal((n, 2)), labels))
    (x_train, y_train), (x_test, y_test) = parts
    return make_dataset(
        "blobs", x_train, y_train, x_test, y_test,
        n_classes=n_classes, val_size=val_size, seed=seed, dtype=as_float_dtype(dtype),
    )  # fmt: skip


def _check_toy_arguments(name: str, n_train: int, n_test: int, n_classes: int) -> None:
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"{name}: n_classes must be an integer >= 2; got {n_classes!r}")
    for label, n in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(n, (int, np.integer)) or n < n_classes:
            raise ValueError(f"{name}: {label} must be an integer >= n_classes ({n_classes}); got {n!r}")
