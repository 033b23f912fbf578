"""Data: built-in data sets, file readers, splits, preprocessing, augmentation and batching.

Every data set function returns a :class:`Dataset` (``x_train``, ``y_train``, ``x_test``,
``y_test``, optional ``x_val``/``y_val``; ``.train``/``.val``/``.test`` give ``(x, y)``
pairs). Built in and offline: :func:`mnist1d` (and its shuffled variant), :func:`digits`,
:func:`spirals`, :func:`blobs`. From files you have: :func:`load_cifar10`,
:func:`load_mnist`, :func:`load_fashion_mnist`. See docs/data.md.

Note: ``babysit.data.mnist1d`` is the function; the module is ``babysit.data.mnist1d`` in
``sys.modules`` (import its other names with ``from babysit.data.mnist1d import ...``).
"""

from babysit.data.augment import (
    AddGaussianNoise,
    Augmentation,
    ColorJitter,
    Compose,
    Cutout,
    RandomCrop,
    RandomHorizontalFlip,
    RandomScale,
    RandomTranslate,
    translate,
    tta_predict,
)
from babysit.data.datasets import Dataset, blobs, digits, make_dataset, spirals
from babysit.data.formats import load_cifar10, load_fashion_mnist, load_mnist, read_idx, write_idx
from babysit.data.loader import DataLoader
from babysit.data.mnist1d import make_mnist1d, mnist1d
from babysit.data.preprocessing import (
    Preprocessor,
    Standardize,
    ZeroCenter,
    load_preprocessor,
    save_preprocessor,
)
from babysit.data.splits import kfold_indices, split_indices, train_val_split
from babysit.data.whitening import PCA, PCAWhitening, ZCAWhitening

__all__ = [
    "PCA",
    "AddGaussianNoise",
    "Augmentation",
    "ColorJitter",
    "Compose",
    "Cutout",
    "DataLoader",
    "Dataset",
    "PCAWhitening",
    "Preprocessor",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomScale",
    "RandomTranslate",
    "Standardize",
    "ZCAWhitening",
    "ZeroCenter",
    "blobs",
    "digits",
    "kfold_indices",
    "load_cifar10",
    "load_fashion_mnist",
    "load_mnist",
    "load_preprocessor",
    "make_dataset",
    "make_mnist1d",
    "mnist1d",
    "read_idx",
    "save_preprocessor",
    "spirals",
    "split_indices",
    "train_val_split",
    "translate",
    "tta_predict",
    "write_idx",
]
