"""Readers for data sets a user already has on disk: CIFAR-10, MNIST and Fashion-MNIST.

Nothing is downloaded. CIFAR-10 is read from its binary version (``cifar-10-batches-bin``)
or its Python version (``cifar-10-batches-py``), either unpacked or as the ``.tar.gz``
archive itself. The Python version is a set of pickles; they are read with a restricted
unpickler that can only rebuild dicts, lists, strings, numbers and NumPy arrays, so a file
that tries to run code is refused. MNIST and Fashion-MNIST are IDX files, gzipped or not.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path
from typing import ClassVar

import numpy as np
from numpy._core.multiarray import _reconstruct

from babysit.data.datasets import Dataset, make_dataset

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

_CIFAR_SOURCE = (
    "CIFAR-10 comes from https://www.cs.toronto.edu/~kriz/cifar.html: unpack cifar-10-binary.tar.gz "
    "(folder cifar-10-batches-bin) or cifar-10-python.tar.gz (folder cifar-10-batches-py), or pass the "
    ".tar.gz itself"
)
_MNIST_SOURCE = "MNIST comes from http://yann.lecun.com/exdb/mnist/ (and its mirrors)"
_FASHION_SOURCE = "Fashion-MNIST comes from https://github.com/zalandoresearch/fashion-mnist (folder data/fashion)"
_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CIFAR_RECORD = 1 + 3 * 32 * 32


# ---------------------------------------------------------------------------------------------- CIFAR-10


def load_cifar10(path, *, val_size=None, flatten: bool = False, seed: int = 0, dtype=np.float32) -> Dataset:
    """CIFAR-10 from local files: 50000 training and 10000 test images, ``(N, 3, 32, 32)``.

    Parameters
    ----------
    path : str or Path
        The folder ``cifar-10-batches-bin`` or ``cifar-10-batches-py`` (or a folder that
        contains one), or the downloaded ``cifar-10-binary.tar.gz`` / ``cifar-10-python.tar.gz``.
    val_size : float or int, optional
        Stratified validation split carved off the training set, seeded by ``seed``.
    flatten : bool
        ``(N, 3072)`` instead of ``(N, 3, 32, 32)``.
    dtype : float32 (default), float64 or uint8
        Pixel values stay 0-255 in every dtype: preprocessing (e.g. ``ZeroCenter``) is yours.

    Raises
    ------
    FileNotFoundError
        Naming the files expected and where CIFAR-10 comes from.
    ValueError
        A file of the wrong size or content; ``pickle.UnpicklingError`` for a pickle that
        names anything but plain data.
    """
    files = _Files(path, _CIFAR_SOURCE)
    binary = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    python = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for folder in ("", "cifar-10-batches-bin/", "cifar-10-batches-py/"):
        if files.has_all([folder + name for name in binary]):
            batches = [_cifar_binary(files, folder + name) for name in binary]
            break
        if files.has_all([folder + name for name in python]):
            batches = [_cifar_python(files, folder + name) for name in python]
            break
    else:
        files.missing(
            "data_batch_1.bin ... data_batch_5.bin and test_batch.bin (binary version), or "
            "data_batch_1 ... data_batch_5 and test_batch (python version)"
        )
    x_train = np.concatenate([x for x, _ in batches[:5]])
    y_train = np.concatenate([y for _, y in batches[:5]])
    x_test, y_test = batches[5]
    return _image_dataset("cifar10", x_train, y_train, x_test, y_test, CIFAR10_CLASSES, val_size, flatten, seed, dtype)


def _cifar_binary(files: _Files, name: str) -> tuple[np.ndarray, np.ndarray]:
    raw = np.frombuffer(files.read(name), dtype=np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise ValueError(
            f"{files.describe(name)}: {raw.size} bytes is not a whole number of CIFAR-10 records "
            f"({_CIFAR_RECORD} bytes each: 1 label byte + 3072 pixel bytes)"
        )
    records = raw.reshape(-1, _CIFAR_RECORD)
    return records[:, 1:].reshape(-1, 3, 32, 32), _check_label_bytes(records[:, 0], files.describe(name))


def _cifar_python(files: _Files, name: str) -> tuple[np.ndarray, np.ndarray]:
    where = files.describe(name)
    batch = restricted_load(files.read(name), where)
    if not isinstance(batch, dict):
        raise ValueError(f"{where}: expected a pickled dict with 'data' and 'labels'; found {type(batch).__name__}")
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{where}: expected keys 'data' and 'labels'; found {sorted(map(str, batch))}")
    data, labels = batch["data"], np.asarray(batch["labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{where}: 'data' must be a uint8 array of shape (N, 3072); found {found}")
    if labels.shape != (len(data),):
        raise ValueError(f"{where}: {len(data)} images but labels of shape {labels.shape}")
    return data.reshape(-1, 3, 32, 32), _check_label_bytes(labels, where)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain data only: the one class lookup a NumPy array needs, nothing else.

    Dicts, lists, tuples, strings and numbers need no lookup. A NumPy array in the CIFAR
    pickles names ``numpy.core.multiarray._reconstruct`` (``numpy._core`` in NumPy 2),
    ``numpy.ndarray`` and ``numpy.dtype``; any other name, ``os.system`` say, is refused
    before anything is called.
    """

    ALLOWED: ClassVar[dict] = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def __init__(self, stream, where: str):
        super().__init__(stream, encoding="latin1")
        self.where = where

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"{self.where}: refused to load '{module}.{name}': this file may only hold plain data "
                "(dicts, lists, numbers, strings, NumPy arrays), and a pickle that names anything else "
                "could run code. Not loaded."
            ) from None


def restricted_load(data: bytes, where: str = "pickle"):
    """Unpickle ``data`` allowing only plain data and NumPy arrays; see :class:`_RestrictedUnpickler`."""
    try:
        return _RestrictedUnpickler(io.BytesIO(data), where).load()
    except pickle.UnpicklingError:
        raise
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
        raise pickle.UnpicklingError(f"{where}: not a readable pickle ({type(error).__name__}: {error})") from error


# --------------------------------------------------------------------------------- MNIST / Fashion-MNIST


def load_mnist(path, *, val_size=None, flatten: bool = False, seed: int = 0, dtype=np.float32) -> Dataset:
    """MNIST from its four IDX files: 60000 training and 10000 test images, ``(N, 1, 28, 28)``.

    ``path`` is the folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally gzipped
    (``.gz``; the spelling ``train-images.idx3-ubyte`` is accepted too). Pixel values stay
    0-255. Other arguments as in :func:`load_cifar10`.
    """
    return _load_idx_set("mnist", path, _MNIST_SOURCE, None, val_size, flatten, seed, dtype)


def load_fashion_mnist(path, *, val_size=None, flatten: bool = False, seed: int = 0, dtype=np.float32) -> Dataset:
    """Fashion-MNIST from its four IDX files (the same names and format as MNIST; see :func:`load_mnist`)."""
    return _load_idx_set("fashion-mnist", path, _FASHION_SOURCE, FASHION_MNIST_CLASSES, val_size, flatten, seed, dtype)


def _load_idx_set(name, path, source, class_names, val_size, flatten, seed, dtype) -> Dataset:
    files = _Files(path, source)
    found = {}
    for key, stem in _IDX_FILES.items():
        dotted = stem.replace("-idx", ".idx")
        candidates = [stem, stem + ".gz", dotted, dotted + ".gz"]
        found[key] = next((c for c in candidates if files.has_all([c])), None)
    if None in found.values():
        files.missing(", ".join(f"{stem}[.gz]" for stem in _IDX_FILES.values()))
    arrays = {key: read_idx(files.read(file), where=files.describe(file)) for key, file in found.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{files.describe(found[split + '_images'])}: expected images (N, rows, cols) and labels (N,); "
                f"found {images.shape} and {labels.shape}"
            )
        arrays[f"{split}_labels"] = _check_label_bytes(labels, files.describe(found[split + "_labels"]))
    return _image_dataset(
        name, arrays["train_images"][:, None], arrays["train_labels"], arrays["test_images"][:, None],
        arrays["test_labels"], class_names, val_size, flatten, seed, dtype,
    )  # fmt: skip


def read_idx(source, *, where: str | None = None) -> np.ndarray:
    """Read an IDX array (the MNIST format) from a path or from bytes; gzip is detected.

    Header: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each size as a big-endian
    uint32; the values follow, big-endian, row-major.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, where = bytes(source), where or "IDX data"
    else:
        data, where = Path(source).read_bytes(), where or str(source)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{where}: not an IDX file (magic bytes {data[:4].hex()}; expected 0000 + type + ndim)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(data[4:header], dtype=">u4")) if ndim else ()
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header + dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise ValueError(f"{where}: {len(data)} bytes, but its header (shape {shape}, {dtype}) implies {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``); inverse of :func:`read_idx`."""
    array = np.asarray(array)
    codes = {np.dtype(dtype).newbyteorder("="): code for code, dtype in _IDX_DTYPES.items()}
    if array.dtype not in codes or array.ndim > 255:
        raise ValueError(f"write_idx: cannot store dtype {array.dtype}; IDX holds {sorted(map(str, codes))}")
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)


# -------------------------------------------------------------------------------------------- helpers


class _Files:
    """Files by name inside a folder or a .tar.gz archive, with errors that say what was expected."""

    def __init__(self, path, source: str):
        self.path, self.source = Path(path).expanduser(), source
        self.archive = None  # member name -> bytes, for a .tar(.gz) archive, read in one pass
        if self.path.is_file() and tarfile.is_tarfile(self.path):
            with tarfile.open(self.path) as archive:
                self.archive = {
                    member.name.removeprefix("./"): archive.extractfile(member).read()
                    for member in archive.getmembers()
                    if member.isfile()
                }
        elif self.path.is_file():
            raise FileNotFoundError(
                f"{self.path}: is a single file; pass the folder that holds the data set's files, or its .tar.gz. "
                f"{self.source}."
            )
        elif not self.path.is_dir():
            self.missing(None)

    def has_all(self, names: list[str]) -> bool:
        if self.archive is not None:
            return all(name in self.archive for name in names)
        return all((self.path / name).is_file() for name in names)

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes() if self.archive is None else self.archive[name]

    def describe(self, name: str) -> str:
        return f"{self.path}:{name}" if self.archive is not None else str(self.path / name)

    def missing(self, expected: str | None):
        problem = "no such file or folder" if expected is None else f"expected {expected} in it"
        listing = ""
        if self.archive is not None:
            listing = f"; the archive holds {sorted(self.archive)[:8]}"
        elif self.path.is_dir():
            listing = f"; the folder holds {sorted(p.name for p in self.path.iterdir())[:8]}"
        raise FileNotFoundError(f"{self.path}: {problem}{listing}. {self.source}.")


def _check_label_bytes(labels: np.ndarray, where: str, n_classes: int = 10) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or (labels.size and (labels.min() < 0 or labels.max() >= n_classes)):
        raise ValueError(f"{where}: labels must be integers in [0, {n_classes}); found {labels.dtype} {labels[:5]}")
    return labels.astype(np.int64)


def _image_dataset(name, x_train, y_train, x_test, y_test, class_names, val_size, flatten, seed, dtype) -> Dataset:
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint8)):
        raise ValueError(f"dtype must be float32, float64 or uint8; got {dtype}")
    if flatten:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    return make_dataset(
        name, x_train, y_train, x_test, y_test,
        n_classes=10, class_names=class_names, val_size=val_size, seed=seed, dtype=dtype,
    )  # fmt: skip
