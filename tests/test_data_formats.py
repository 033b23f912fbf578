"""File readers: CIFAR-10 (binary, python, tar.gz), MNIST/Fashion-MNIST IDX; small files built here."""

import gzip
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from babysit.data import load_cifar10, load_fashion_mnist, load_mnist, read_idx, write_idx
from babysit.data.formats import CIFAR10_CLASSES, restricted_load

PER_BATCH = 6


def _cifar_batches(seed=0):
    """Six (images uint8 (n, 3, 32, 32), labels) batches: five training, one test."""
    rng = np.random.default_rng(seed)
    return [
        (rng.integers(0, 256, (PER_BATCH, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, PER_BATCH)) for _ in range(6)
    ]


def _names(suffix=""):
    return [f"data_batch_{i}{suffix}" for i in range(1, 6)] + [f"test_batch{suffix}"]


def write_cifar_binary(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (images, labels) in zip(_names(".bin"), batches, strict=True):
        records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
        (folder / name).write_bytes(records.tobytes())
    (folder / "batches.meta.txt").write_text("\n".join(CIFAR10_CLASSES) + "\n")


def py2_pickle(batch: dict) -> bytes:
    """A protocol-2 pickle laid out as Python 2's cPickle wrote the CIFAR-10 python batches."""

    def string(value: bytes) -> bytes:
        return (b"U" + bytes([len(value)]) if len(value) < 256 else b"T" + struct.pack("<I", len(value))) + value

    def array(a: np.ndarray) -> bytes:
        shape = b"(" + b"".join(b"J" + struct.pack("<i", s) for s in a.shape) + b"t"
        dtype = b"cnumpy\ndtype\n" + string(b"u1") + b"K\x00K\x01\x87R"
        dtype += b"(K\x03" + string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        head = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + string(b"b") + b"\x87R"
        return head + b"(K\x01" + shape + dtype + b"\x89" + string(a.tobytes()) + b"tb"

    def value(v) -> bytes:
        if isinstance(v, np.ndarray):
            return array(v)
        if isinstance(v, bytes):
            return string(v)
        return (
            b"](" + b"".join(value(item) for item in v) + b"e" if isinstance(v, list) else b"J" + struct.pack("<i", v)
        )

    body = b"".join(string(key.encode()) + value(v) for key, v in batch.items())
    return b"\x80\x02}(" + body + b"u."


def write_cifar_python(folder, batches, style="py2"):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (images, labels) in zip(_names(), batches, strict=True):
        batch = {"batch_label": b"training batch", "labels": [int(v) for v in labels],
                 "data": images.reshape(len(images), -1), "filenames": [b"x.png"] * len(labels)}  # fmt: skip
        payload = py2_pickle(batch) if style == "py2" else pickle.dumps(batch, protocol=4)
        (folder / name).write_bytes(payload)


def _check_cifar(data, batches):
    train_x = np.concatenate([x for x, _ in batches[:5]])
    train_y = np.concatenate([y for _, y in batches[:5]])
    assert data.x_train.shape == (5 * PER_BATCH, 3, 32, 32) and data.x_train.dtype == np.float32
    np.testing.assert_array_equal(data.x_train, train_x)
    np.testing.assert_array_equal(data.y_train, train_y)
    np.testing.assert_array_equal(data.x_test, batches[5][0])
    assert data.y_test.dtype == np.int64 and data.class_names == CIFAR10_CLASSES and data.n_classes == 10


def test_cifar_binary_round_trip(tmp_path):
    batches = _cifar_batches()
    write_cifar_binary(tmp_path / "cifar-10-batches-bin", batches)
    _check_cifar(load_cifar10(tmp_path / "cifar-10-batches-bin"), batches)
    _check_cifar(load_cifar10(tmp_path), batches)  # the folder above is found too


@pytest.mark.parametrize("style", ["py2", "protocol4"])
def test_cifar_python_round_trip(tmp_path, style):
    batches = _cifar_batches(1)
    write_cifar_python(tmp_path / "cifar-10-batches-py", batches, style)
    _check_cifar(load_cifar10(tmp_path / "cifar-10-batches-py"), batches)


@pytest.mark.parametrize("version", ["bin", "py"])
def test_cifar_from_the_tar_gz_archive(tmp_path, version):
    batches = _cifar_batches(2)
    folder = tmp_path / f"cifar-10-batches-{version}"
    (write_cifar_binary if version == "bin" else write_cifar_python)(folder, batches)
    archive = tmp_path / "cifar-10.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    _check_cifar(load_cifar10(archive), batches)


def test_cifar_options_flatten_dtype_and_validation(tmp_path):
    batches = _cifar_batches()
    write_cifar_binary(tmp_path, batches)
    flat = load_cifar10(tmp_path, flatten=True, dtype=np.uint8)
    assert flat.x_train.shape == (30, 3072) and flat.x_train.dtype == np.uint8
    # channel-major rows: the first 1024 values are the red plane
    np.testing.assert_array_equal(flat.x_train[0, :1024].reshape(32, 32), batches[0][0][0, 0])
    split = load_cifar10(tmp_path, val_size=6)
    assert split.x_val.shape == (6, 3, 32, 32) and split.x_train.shape == (24, 3, 32, 32)
    with pytest.raises(ValueError, match="float32, float64 or uint8"):
        load_cifar10(tmp_path, dtype=np.int16)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_cifar_pickle_that_runs_code_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    write_cifar_python(tmp_path, _cifar_batches())
    evil = {"data": np.zeros((1, 3072), np.uint8), "labels": [0], "payload": _RunsCode(marker)}
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps(evil, protocol=4))
    with pytest.raises(pickle.UnpicklingError, match=r"refused to load '(os|posix)\.system'") as error:
        load_cifar10(tmp_path)
    assert "data_batch_3" in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "target", [(eval, ("1",)), (np.load, ("x.npy",)), (np.frombuffer, (b"\x00",)), (print, ("hi",))]
)
def test_restricted_unpickler_allows_nothing_but_plain_data(target):
    class Reducer:
        def __reduce__(self):
            return target

    with pytest.raises(pickle.UnpicklingError, match="refused to load"):
        restricted_load(pickle.dumps({"x": Reducer()}, protocol=2))
    plain = {"a": [1, 2.5, "s", b"b", (3, None)], "arr": np.arange(6, dtype=np.float64).reshape(2, 3)}
    loaded = restricted_load(pickle.dumps(plain, protocol=4))
    assert loaded["a"] == plain["a"]
    np.testing.assert_array_equal(loaded["arr"], plain["arr"])


def test_cifar_missing_or_broken_files_say_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such file.*cifar-10-python\.tar\.gz"):
        load_cifar10(tmp_path / "nowhere")
    (tmp_path / "data_batch_1.bin").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="is a single file; pass the folder"):
        load_cifar10(tmp_path / "data_batch_1.bin")
    with pytest.raises(FileNotFoundError, match=r"data_batch_1\.bin \.\.\. data_batch_5\.bin.*kriz/cifar"):
        load_cifar10(tmp_path)
    write_cifar_binary(tmp_path, _cifar_batches())
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match=r"test_batch\.bin: 100 bytes is not a whole number of CIFAR-10 records"):
        load_cifar10(tmp_path)
    write_cifar_python(tmp_path / "py", _cifar_batches())
    (tmp_path / "py" / "test_batch").write_bytes(pickle.dumps({"data": np.zeros((2, 5), np.uint8), "labels": [0, 1]}))
    with pytest.raises(ValueError, match=r"shape \(N, 3072\); found uint8 array of shape \(2, 5\)"):
        load_cifar10(tmp_path / "py")


# ------------------------------------------------------------------------------------------------ IDX


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(2 * 3 * 4) - (0 if dtype == np.uint8 else 7)).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_idx_header_matches_the_mnist_layout(tmp_path):
    write_idx(tmp_path / "f", np.zeros((3, 28, 28), np.uint8))
    data = (tmp_path / "f").read_bytes()
    assert data[:4] == b"\x00\x00\x08\x03" and struct.unpack(">3I", data[4:16]) == (3, 28, 28)
    assert len(data) == 16 + 3 * 28 * 28


def test_idx_bad_files(tmp_path):
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(b"PK\x03\x04 zip file")
    write_idx(tmp_path / "f", np.zeros((3, 4), np.uint8))
    with pytest.raises(ValueError, match=r"header \(shape \(3, 4\), uint8\) implies 24"):
        read_idx((tmp_path / "f").read_bytes()[:-1], where="truncated")
    with pytest.raises(ValueError, match="cannot store dtype"):
        write_idx(tmp_path / "g", np.zeros(3, np.uint64))


def write_mnist(folder, n_train=8, n_test=4, gz=True, dotted=False, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, array in arrays.items():
        name = name.replace("-idx", ".idx") if dotted else name
        write_idx(folder / (name + (".gz" if gz else "")), array)
    return arrays


@pytest.mark.parametrize(("gz", "dotted"), [(True, False), (False, False), (False, True)])
def test_mnist_round_trip(tmp_path, gz, dotted):
    arrays = write_mnist(tmp_path, gz=gz, dotted=dotted)
    data = load_mnist(tmp_path)
    assert data.x_train.shape == (8, 1, 28, 28) and data.x_train.dtype == np.float32
    np.testing.assert_array_equal(data.x_train[:, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert data.y_train.dtype == np.int64 and data.class_names is None
    flat = load_mnist(tmp_path, flatten=True, dtype=np.float64)
    assert flat.x_test.shape == (4, 784) and flat.x_test.dtype == np.float64


def test_fashion_mnist_round_trip_with_class_names(tmp_path):
    arrays = write_mnist(tmp_path, seed=3)
    data = load_fashion_mnist(tmp_path, val_size=0.25)
    assert data.class_names[9] == "Ankle boot" and data.name == "fashion-mnist"
    assert len(data.x_val) == 2 and len(data.x_train) == 6
    np.testing.assert_array_equal(data.x_test[:, 0], arrays["t10k-images-idx3-ubyte"])


def test_mnist_missing_and_inconsistent_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such file or folder.*yann\.lecun\.com"):
        load_mnist(tmp_path / "absent")
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\[\.gz\].*holds \["):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="zalandoresearch"):
        load_fashion_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))  # 4 images, 3 labels
    with pytest.raises(ValueError, match=r"found \(4, 28, 28\) and \(3,\)"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(4, 12, np.uint8))
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 10\)"):
        load_mnist(tmp_path)
    assert gzip.decompress((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())[:4] == b"\x00\x00\x08\x03"
