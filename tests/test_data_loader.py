"""DataLoader: batches, per-epoch shuffling, seeding, transforms, memory, and clear errors on bad input."""

import tracemalloc

import numpy as np
import pytest

from babysit.data import DataLoader, RandomHorizontalFlip
from babysit.errors import InputError


@pytest.fixture
def data(rng):
    x = rng.standard_normal((103, 2, 3)).astype(np.float32)
    x[:, 0, 0] = np.arange(103)  # each sample carries its index
    return x, np.arange(103) % 7


def indices(batch):
    return batch[:, 0, 0].astype(int).tolist()


def test_batches_cover_every_sample_once_per_epoch(data):
    x, y = data
    loader = DataLoader(x, y, batch_size=10, rng=0)
    assert len(loader) == 11 and loader.n_samples == 103
    epochs = []
    for _ in range(2):
        batches = list(loader)
        assert [len(b) for b, _ in batches] == [10] * 10 + [3]
        seen = [i for b, _ in batches for i in indices(b)]
        assert sorted(seen) == list(range(103))
        for b, labels in batches:
            np.testing.assert_array_equal(labels, np.asarray(indices(b)) % 7)  # labels travel with their rows
        epochs.append(seen)
    assert epochs[0] != epochs[1]  # a new permutation each epoch
    assert epochs[0] != list(range(103))


def test_same_seed_same_batches(data):
    x, y = data
    first = [indices(b) for b, _ in DataLoader(x, y, batch_size=16, rng=42)]
    again = [indices(b) for b, _ in DataLoader(x, y, batch_size=16, rng=np.random.default_rng(42))]
    other = [indices(b) for b, _ in DataLoader(x, y, batch_size=16, rng=43)]
    assert first == again and first != other


def test_drop_last_and_no_shuffle(data):
    x, y = data
    loader = DataLoader(x, y, batch_size=10, drop_last=True, shuffle=False)
    batches = list(loader)
    assert len(loader) == len(batches) == 10 and all(len(b) == 10 for b, _ in batches)
    assert [i for b, _ in batches for i in indices(b)] == list(range(100))
    view, labels = batches[0]
    assert np.shares_memory(view, x) and not view.flags.writeable  # in order: views, read-only
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 0
    assert not labels.flags.writeable


def test_shuffled_batches_are_copies_of_one_batch(data):
    x, y = data
    for batch, _ in DataLoader(x, y, batch_size=32, rng=0):
        assert not np.shares_memory(batch, x) and batch.flags.writeable


def test_transform_gets_the_batch_and_the_loader_rng(data):
    x, y = data
    calls = []

    def record(xb, yb, rng):
        calls.append((len(xb), isinstance(rng, np.random.Generator)))
        return xb * 2, yb + 1

    loader = DataLoader(x, y, batch_size=50, rng=0, transform=record)
    batches = list(loader)
    assert calls == [(50, True), (50, True), (3, True)]
    assert batches[0][1].min() >= 1
    flipped = [b for b, _ in DataLoader(x, y, batch_size=50, rng=0, transform=RandomHorizontalFlip(p=1.0))]
    plain = [b for b, _ in DataLoader(x, y, batch_size=50, rng=0)]
    np.testing.assert_array_equal(flipped[0], plain[0][..., ::-1])


def test_unlabelled_data_yields_none(data):
    x, _ = data
    batches = list(DataLoader(x, batch_size=64, shuffle=False))
    assert [len(b) for b, _ in batches] == [64, 39] and all(labels is None for _, labels in batches)


def test_iteration_never_copies_the_whole_data_set(rng):
    """Peak traced allocation during construction and one shuffled epoch stays a few batches."""
    x = np.empty((4000, 3, 32, 32), dtype=np.float32)  # 49 MB
    rng.standard_normal(out=x.reshape(-1), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    tracemalloc.start()
    try:
        loader = DataLoader(x, y, batch_size=128, rng=0, n_classes=10)
        for batch, _ in loader:
            batch.sum()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * x.nbytes, f"peak {peak / 2**20:.1f} MiB for {x.nbytes / 2**20:.1f} MiB of data"


def test_mismatched_lengths(data):
    x, y = data
    with pytest.raises(
        InputError,
        match=r"DataLoader: x and y have different numbers of samples: x has 103 \(shape \(103, 2, 3\)\), y has 100",
    ):
        DataLoader(x, y[:100])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_data(data, bad):
    x, y = data
    x = x.copy()
    x[57, 1, 2] = bad
    x[90, 0, 1] = bad
    with pytest.raises(InputError, match=rf"x contains 2 non-finite value\(s\) \(first: {bad} at index \(57, 1, 2\)\)"):
        DataLoader(x, y)


@pytest.mark.parametrize(
    ("labels", "n_classes", "message"),
    [
        (
            np.arange(103) * 0.5,
            None,
            r"labels must be non-negative integers; received dtype float64 \(first values \[0.0, 0.5, 1.0\]\)",
        ),
        (np.arange(103), 10, r"labels must be integers in \[0, 10\); received values from 0 to 102 \(e.g. 10\)"),
        (np.arange(103) - 1, None, r"received values from -1 to 101 \(e.g. -1\)"),
        (
            np.eye(103, 4, dtype=np.int64),
            4,
            r"1-D array of class indices; received shape \(103, 4\) \(one-hot\? pass y.argmax\(axis=1\)\)",
        ),
        (np.array(["cat"] * 103), None, r"received dtype <U3"),
    ],
    ids=["float", "too-large", "negative", "one-hot", "strings"],
)
def test_labels_must_be_integers_in_range(data, labels, n_classes, message):
    x, _ = data
    with pytest.raises(InputError, match=message):
        DataLoader(x, labels, n_classes=n_classes)


def test_bad_arguments(data):
    x, y = data
    with pytest.raises(InputError, match="batch_size must be a positive integer; received 0"):
        DataLoader(x, y, batch_size=0)
    with pytest.raises(InputError, match=r"transform must be a callable \(x, y, rng\) -> \(x, y\)"):
        DataLoader(x, y, transform="flip")
    with pytest.raises(InputError, match=r"must return a pair \(x, y\); it returned a ndarray of shape \(103, 2, 3\)"):
        next(iter(DataLoader(x, y, batch_size=200, transform=lambda xb, yb, rng: xb)))
    with pytest.raises(InputError, match="drop_last=True with batch_size=200 > 103 samples"):
        DataLoader(x, y, batch_size=200, drop_last=True)
    with pytest.raises(InputError, match="x must hold numbers; received dtype object"):
        DataLoader(np.array([None, 1], dtype=object))
    with pytest.raises(InputError, match="received a scalar"):
        DataLoader(3.0)
