"""Train/validation splits and k-fold indices: sizes, disjointness, stratification, seeding."""

import numpy as np
import pytest

from babysit.data import kfold_indices, split_indices, train_val_split
from babysit.errors import InputError


@pytest.fixture
def labelled():
    rng = np.random.default_rng(0)
    y = rng.choice(3, size=103, p=[0.6, 0.3, 0.1])
    x = np.arange(103 * 2, dtype=np.float64).reshape(103, 2)
    return x, y


def test_train_val_split_sizes_and_partition(labelled):
    x, y = labelled
    (x_tr, _), (x_val, y_val) = train_val_split(x, y, val_size=0.2)
    assert len(x_val) == 21 and len(x_tr) == 82
    rows = np.concatenate([x_tr[:, 0], x_val[:, 0]])
    assert sorted(rows.tolist()) == x[:, 0].tolist()  # every sample exactly once
    np.testing.assert_array_equal(y[(x_val[:, 0] // 2).astype(int)], y_val)  # labels follow their rows
    (_, _), (x_val2, _) = train_val_split(x, y, val_size=0.2)
    np.testing.assert_array_equal(x_val2, x_val)  # seeded by default
    (_, _), (x_val3, _) = train_val_split(x, y, val_size=0.2, rng=1)
    assert not np.array_equal(x_val3, x_val)
    (_, y_tr4), (x_val4, y_val4) = train_val_split(x, val_size=10, rng=np.random.default_rng(5))
    assert len(x_val4) == 10 and y_tr4 is None and y_val4 is None


def test_stratified_split_keeps_class_shares(labelled):
    x, y = labelled
    counts = np.bincount(y)
    for size in (0.1, 0.25, 0.5, 17):
        _, (_, y_val) = train_val_split(x, y, val_size=size, stratify=True)
        n_val = size if isinstance(size, int) else round(size * len(y))
        assert len(y_val) == n_val
        assert np.all(np.abs(np.bincount(y_val, minlength=3) - counts * n_val / len(y)) < 1)


def test_split_indices_are_sorted_disjoint_and_complete(labelled):
    _, y = labelled
    train, val = split_indices(y, 0.3, stratify=True, rng=3)
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert np.intersect1d(train, val).size == 0 and len(train) + len(val) == len(y)
    train, val = split_indices(50, 0.3)
    assert len(val) == 15 and len(train) == 35


def test_kfold_partitions_every_sample_once():
    folds = kfold_indices(23, k=5, rng=0)
    assert len(folds) == 5
    vals = np.concatenate([val for _, val in folds])
    assert sorted(vals.tolist()) == list(range(23))
    assert {len(val) for _, val in folds} <= {4, 5}
    for train, val in folds:
        assert np.intersect1d(train, val).size == 0 and len(train) + len(val) == 23
    again = kfold_indices(23, k=5, rng=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    assert not np.array_equal(kfold_indices(23, k=5, rng=1)[0][1], folds[0][1])
    ordered = kfold_indices(10, k=3, shuffle=False)
    assert [val.tolist() for _, val in ordered] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_stratified_kfold_balances_classes(labelled):
    _, y = labelled
    folds = kfold_indices(y, k=4, stratify=True, rng=0)
    per_fold = np.array([np.bincount(y[val], minlength=3) for _, val in folds])
    assert np.all(per_fold.max(0) - per_fold.min(0) <= 1)
    assert per_fold.sum() == len(y)
    assert np.ptp([len(val) for _, val in folds]) <= 1


def test_bad_split_arguments(labelled):
    x, y = labelled
    with pytest.raises(InputError, match=r"x has 103 .* y has 5"):
        train_val_split(x, y[:5])
    with pytest.raises(InputError, match="stratify=True needs the class labels y; received y=None"):
        train_val_split(x, stratify=True)
    with pytest.raises(
        InputError, match=r"val_size must be a fraction in \(0, 1\) or a number of samples; received 1.5"
    ):
        train_val_split(x, y, val_size=1.5)
    with pytest.raises(InputError, match="leaves 0 of 103 samples"):
        train_val_split(x, y, val_size=0.001)
    with pytest.raises(InputError, match="expected 1 to 102"):
        split_indices(103, 103)
    with pytest.raises(InputError, match=r"labels must be non-negative integers; received dtype float64"):
        split_indices(y.astype(float), 0.2, stratify=True)
    with pytest.raises(InputError, match="stratify=True needs the class labels; received only a count"):
        kfold_indices(10, k=2, stratify=True)
    with pytest.raises(InputError, match=r"k must be an integer from 2 to the number of samples \(10\); received 11"):
        kfold_indices(10, k=11)
    with pytest.raises(InputError, match="received 1"):
        kfold_indices(10, k=1)
