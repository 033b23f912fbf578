"""Built-in data sets and the Dataset type they share."""

import dataclasses
import sys

import numpy as np
import pytest

from babysit.data import Dataset, blobs, digits, make_dataset, spirals


def test_dataset_pairs_repr_and_immutability():
    data = make_dataset("toy", np.ones((10, 2)), np.arange(10) % 2, np.zeros((4, 2)), [0, 1, 0, 1], n_classes=2)
    assert data.train[0] is data.x_train and data.test[1] is data.y_test and data.val is None
    assert data.x_train.dtype == np.float32 and data.y_test.dtype == np.int64
    assert repr(data) == "Dataset('toy', train=(10, 2), test=(4, 2), n_classes=2, dtype=float32)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.x_train = None
    split = make_dataset("toy", np.ones((10, 2)), np.arange(10) % 2, np.zeros((4, 2)), [0, 1, 0, 1],
                         n_classes=2, val_size=0.2, dtype=np.float64)  # fmt: skip
    assert split.val[0].shape == (2, 2) and split.x_train.shape == (8, 2) and split.x_val.dtype == np.float64
    assert sorted(split.y_val.tolist()) == [0, 1]  # stratified
    assert "val=(2, 2)" in repr(split)


def test_make_dataset_copies_the_callers_arrays():
    x = np.ones((4, 3), dtype=np.float32)
    data = make_dataset("toy", x, [0, 1, 0, 1], x, [0, 1, 0, 1], n_classes=2)
    data.x_train[:] = 5
    assert x.max() == 1


def test_digits_shapes_values_and_split():
    pytest.importorskip("sklearn", reason="digits() reads scikit-learn's bundled files")
    data = digits()
    assert isinstance(data, Dataset) and data.n_classes == 10
    assert data.x_train.shape == (1438, 1, 8, 8) and data.x_test.shape == (359, 1, 8, 8)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.x_train.min() == 0 and data.x_train.max() == 16
    test_share = np.bincount(data.y_test, minlength=10) / np.bincount(
        np.concatenate([data.y_train, data.y_test]), minlength=10
    )
    assert np.all(np.abs(test_share - 0.2) < 0.01)  # stratified
    flat = digits(flatten=True, dtype=np.float64, val_size=100)
    assert flat.x_train.shape == (1338, 64) and flat.x_val.shape == (100, 64) and flat.x_test.dtype == np.float64
    np.testing.assert_array_equal(digits().x_test, data.x_test)  # seeded
    assert not np.array_equal(digits(seed=1).y_test, data.y_test)


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        digits()


@pytest.mark.parametrize("make", [spirals, blobs])
def test_toy_sets_shapes_balance_and_seeding(make):
    data = make(200, 100, n_classes=4)
    assert data.x_train.shape == (200, 2) and data.x_test.shape == (100, 2) and data.n_classes == 4
    np.testing.assert_array_equal(np.bincount(data.y_train), [50] * 4)
    again, other = make(200, 100, n_classes=4), make(200, 100, n_classes=4, seed=1)
    np.testing.assert_array_equal(again.x_train, data.x_train)
    assert not np.allclose(other.x_train, data.x_train)
    assert not np.allclose(data.x_train[:100], data.x_test)  # test is a separate draw
    split = make(val_size=0.25, dtype=np.float64)
    assert split.x_val.shape == (75, 2) and split.x_train.dtype == np.float64


def test_spirals_geometry():
    data = spirals(600, 30, noise=0.0)
    radius = np.hypot(*data.x_train.T.astype(np.float64))
    assert radius.max() <= 1.0 + 1e-6
    angle = np.arctan2(data.x_train[:, 0], data.x_train[:, 1])  # x = (r sin a, r cos a)
    expected = 4 * (data.y_train + radius)
    assert np.allclose(np.angle(np.exp(1j * (angle - expected))), 0, atol=1e-4)


def test_blobs_are_near_their_centers():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    data = blobs(400, 40, n_classes=2, std=0.5, centers=centers)
    nearest = np.argmin(((data.x_train[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == data.y_train) == 1.0
    np.testing.assert_allclose(data.x_train[data.y_train == 1].mean(0), [10, 0], atol=0.15)
    default = blobs(300, 30)
    nearest_default = np.linalg.norm(default.x_train, axis=1)
    assert 2.5 < np.median(nearest_default) < 5.5  # centers on a circle of radius 4


def test_toy_set_bad_arguments():
    with pytest.raises(ValueError, match=r"n_train must be an integer >= n_classes \(3\); got 2"):
        spirals(2)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        blobs(n_classes=1)
    with pytest.raises(ValueError, match=r"centers must have shape \(n_classes, 2\) = \(3, 2\); got \(2, 2\)"):
        blobs(centers=[[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="float32 or float64"):
        spirals(dtype=np.int64)
