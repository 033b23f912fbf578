"""MNIST-1D: our generator reproduces the reference package's arrays, offline and fast."""

import random
import time

import numpy as np
import pytest

from babysit.data import Dataset, make_mnist1d, mnist1d
from babysit.data.mnist1d import DEFAULTS, _generate

KEYS = ("x", "x_test", "y", "y_test", "t")


@pytest.fixture
def reference_make_dataset():
    """The ``mnist1d`` package's generator; it seeds the global RNGs, which we restore after."""
    package = pytest.importorskip("mnist1d.data", reason="pip install mnist1d==0.0.2.post1 to compare")
    numpy_state, python_state = np.random.get_state(), random.getstate()
    yield package
    np.random.set_state(numpy_state)
    random.setstate(python_state)


@pytest.mark.slow  # the reference generator takes 1-4 s per call
@pytest.mark.parametrize("shuffle_seq", [False, True], ids=["plain", "shuffled"])
def test_matches_reference_package(reference_make_dataset, shuffle_seq):
    args = reference_make_dataset.get_dataset_args()
    args.shuffle_seq = shuffle_seq
    reference = reference_make_dataset.make_dataset(args)
    ours = make_mnist1d(shuffle_seq=shuffle_seq)
    for key in KEYS:
        assert ours[key].shape == reference[key].shape, key
        assert ours[key].dtype == reference[key].dtype, key
        np.testing.assert_allclose(ours[key], reference[key], rtol=0, atol=1e-12, err_msg=key)


@pytest.mark.parametrize(
    "arguments",
    [
        {"seed": 7, "num_samples": 1234},
        {"padding": [10, 20], "max_translation": 20, "seed": 3, "num_samples": 500},
        {"final_seq_length": 100, "shuffle_seq": True, "seed": 5, "num_samples": 300},
        {"corr_noise_scale": 0.0, "iid_noise_scale": 0.0, "template_len": 20, "num_samples": 200},
    ],
)
def test_matches_reference_with_other_arguments(reference_make_dataset, arguments):
    from mnist1d.utils import ObjectView

    reference = reference_make_dataset.make_dataset(
        ObjectView({**reference_make_dataset.get_dataset_args(as_dict=True), **arguments})
    )
    ours = make_mnist1d(**arguments)
    for key in KEYS:
        np.testing.assert_allclose(ours[key], reference[key], rtol=0, atol=1e-12, err_msg=key)


def test_published_values_without_the_package():
    """Values taken from the reference generator, so the check runs where it is not installed."""
    data = make_mnist1d()
    np.testing.assert_array_equal(data["y"][:10], [2, 6, 4, 5, 6, 6, 6, 0, 3, 1])
    np.testing.assert_array_equal(data["y_test"][:10], [2, 6, 3, 9, 4, 3, 1, 9, 5, 2])
    np.testing.assert_array_equal(np.bincount(data["y_test"]), [102, 104, 89, 106, 106, 98, 99, 96, 98, 102])
    np.testing.assert_allclose(
        data["x"][0, :4], [-0.33200566736939013, -0.4719103656557236, -0.778697076293495, -1.0097408265367045],
        rtol=0, atol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(
        data["x_test"][-1, -4:], [0.4472328851428726, 0.6598756470890784, 0.8777343497528006, 1.1931518368352758],
        rtol=0, atol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(data["t"][:3], [-5.38753506670427, -5.111251217129692, -4.834967367555114], atol=1e-12)
    assert data["x"].sum() == pytest.approx(-51.78746787509559, abs=1e-9)
    shuffled = make_mnist1d(shuffle_seq=True)["x"]
    np.testing.assert_allclose(
        shuffled[0, :4], [1.0358740294925417, 0.4101984957624668, -0.8823525654053073, -1.093485710822378], atol=1e-12
    )


def test_public_split_shapes_dtypes_and_classes():
    data = mnist1d()
    assert isinstance(data, Dataset)
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.n_classes == 10 and data.val is None
    assert set(np.unique(data.y_train)) == set(range(10))
    both = np.concatenate([data.x_train, data.x_test]).astype(np.float64)
    assert abs(both.mean()) < 1e-6 and both.std() == pytest.approx(1.0, abs=1e-6)
    x, y = data.train
    assert x is data.x_train and y is data.y_train


def test_float64_option_gives_the_generated_arrays():
    data, generated = mnist1d(dtype=np.float64), make_mnist1d()
    np.testing.assert_array_equal(data.x_train, generated["x"])
    np.testing.assert_array_equal(data.y_test, generated["y_test"])
    with pytest.raises(ValueError, match="float32 or float64"):
        mnist1d(dtype=np.int32)


def test_shuffled_variant_permutes_the_same_positions_in_every_signal():
    plain, shuffled = mnist1d(dtype=np.float64), mnist1d(shuffled=True, dtype=np.float64)
    np.testing.assert_array_equal(plain.y_train, shuffled.y_train)
    # column j of the shuffled set is some column of the plain set, the same in every row
    match = [int(np.argmin(np.abs(plain.x_train - shuffled.x_train[:, [j]]).sum(0))) for j in range(40)]
    assert sorted(match) != match and sorted(match) == list(range(40))
    np.testing.assert_allclose(shuffled.x_train, plain.x_train[:, match], atol=1e-12)
    assert shuffled.name == "mnist1d-shuffled"


def test_validation_split_is_stratified_seeded_and_disjoint():
    full, data = mnist1d(), mnist1d(val_size=0.1)
    assert data.x_val.shape == (400, 40) and data.x_train.shape == (3600, 40)
    np.testing.assert_array_equal(data.x_test, full.x_test)
    counts_full, counts_val = np.bincount(full.y_train), np.bincount(data.y_val)
    assert np.all(np.abs(counts_val - counts_full * 0.1) <= 1)
    rows = {row.tobytes() for row in full.x_train}
    assert {row.tobytes() for row in np.concatenate([data.x_train, data.x_val])} == rows
    np.testing.assert_array_equal(mnist1d(val_size=0.1).x_val, data.x_val)
    assert not np.array_equal(mnist1d(val_size=0.1, seed=1).y_val, data.y_val)


def test_generation_is_fast_and_cached_without_sharing_arrays():
    _generate.cache_clear()
    start = time.perf_counter()
    first = mnist1d()
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"generating MNIST-1D took {elapsed:.2f} s"
    start = time.perf_counter()
    first.x_train[:] = 0
    second = mnist1d()
    assert time.perf_counter() - start < 0.5
    assert np.abs(second.x_train).sum() > 0  # the caller's copy, not the cache, was zeroed
    generated = make_mnist1d()
    generated["x"][:] = 0
    assert np.abs(make_mnist1d()["x"]).sum() > 0


def test_unknown_generation_argument_is_refused():
    with pytest.raises(TypeError, match="unknown arguments"):
        make_mnist1d(n_samples=10)
    assert set(DEFAULTS) >= {"seed", "num_samples", "shuffle_seq"}
