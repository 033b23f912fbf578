"""Preprocessing: statistics fitted on train only, applied to val/test; whitening; saving without pickle."""

import json

import numpy as np
import pytest

from babysit.data import (
    PCA,
    DataLoader,
    PCAWhitening,
    Preprocessor,
    Standardize,
    ZCAWhitening,
    ZeroCenter,
    load_preprocessor,
    save_preprocessor,
)
from babysit.errors import CheckpointError, InputError
from babysit.serialization import load_arrays, save_arrays


def correlated(rng, n, d=6, shift=3.0):
    mixing = rng.standard_normal((d, d)) + np.eye(d)
    return rng.standard_normal((n, d)) @ mixing + shift


@pytest.fixture
def splits(rng):
    """Train and val/test drawn from differently scaled distributions, so train stats are visible."""
    train = correlated(rng, 3000)
    val = 2.0 * correlated(np.random.default_rng(1), 500, shift=-1.0)
    return train, val


def covariance(z):
    z = z.reshape(len(z), -1).astype(np.float64)
    z = z - z.mean(0)
    return z.T @ z / len(z)


ALL = [
    ZeroCenter(), ZeroCenter(per="channel"), Standardize(), Standardize(per="channel"),
    PCA(3), PCA(0.9), PCAWhitening(eps=1e-8), PCAWhitening(4), ZCAWhitening(eps=1e-8),
]  # fmt: skip


def test_zero_center_per_feature_is_the_mean_image_and_per_channel(rng):
    images = rng.uniform(0, 255, (50, 3, 4, 4)) + np.arange(3)[None, :, None, None] * 100
    center = ZeroCenter(per="image").fit(images)
    np.testing.assert_allclose(center.mean, images.mean(0))
    np.testing.assert_allclose(center.transform(images).mean(0), 0, atol=1e-9)
    channel = ZeroCenter(per="channel").fit(images)
    assert channel.mean.shape == (3, 1, 1)
    np.testing.assert_allclose(channel.transform(images).mean(axis=(0, 2, 3)), 0, atol=1e-9)
    np.testing.assert_allclose(channel.mean.ravel(), images.mean(axis=(0, 2, 3)))


def test_val_and_test_use_the_training_statistics(splits):
    train, val = splits
    center = ZeroCenter().fit(train)
    np.testing.assert_allclose(center.transform(val), val - train.mean(0))
    assert np.abs(center.transform(val).mean(0)).max() > 1  # not re-centered on val
    scale = Standardize().fit(train)
    np.testing.assert_allclose(scale.transform(val), (val - train.mean(0)) / train.std(0))
    zca = ZCAWhitening(eps=0.0).fit(train)
    values, vectors = np.linalg.eigh(covariance(train))
    expected = (val - train.mean(0)) @ vectors @ np.diag(values**-0.5) @ vectors.T
    np.testing.assert_allclose(zca.transform(val), expected, atol=1e-9)
    assert np.abs(covariance(zca.transform(val)) - np.eye(6)).max() > 0.5  # val is not white: train stats


@pytest.mark.parametrize("whiten", [PCAWhitening(eps=1e-9), ZCAWhitening(eps=1e-9)], ids=["pca", "zca"])
def test_whitened_training_data_has_identity_covariance(splits, whiten):
    train, _ = splits
    white = whiten.fit_transform(train)
    assert white.shape == train.shape
    np.testing.assert_allclose(covariance(white), np.eye(6), atol=1e-7)
    np.testing.assert_allclose(white.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(whiten.inverse_transform(white), train, atol=1e-8)


def test_whitening_eps_shrinks_small_directions(splits):
    train, _ = splits
    eps = 0.5
    white = PCAWhitening(eps=eps).fit(train)
    variances = np.diag(covariance(white.transform(train)))
    np.testing.assert_allclose(variances, white.explained_variance / (white.explained_variance + eps), rtol=1e-9)


def test_zca_keeps_image_shape_and_is_symmetric(rng):
    images = rng.standard_normal((400, 1, 3, 3)) @ rng.standard_normal((3, 3))
    zca = ZCAWhitening(eps=1e-10).fit(images)
    white = zca.transform(images)
    assert white.shape == images.shape
    np.testing.assert_allclose(zca.matrix, zca.matrix.T, atol=1e-12)
    np.testing.assert_allclose(covariance(white), np.eye(9), atol=1e-6)


def test_pca_components_variance_and_reconstruction(splits):
    train, val = splits
    full = PCA().fit(train)
    np.testing.assert_allclose(full.components @ full.components.T, np.eye(6), atol=1e-12)
    assert np.all(np.diff(full.explained_variance) <= 0)
    assert full.explained_variance_ratio.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(full.inverse_transform(full.transform(val)), val, atol=1e-9)
    np.testing.assert_allclose(np.diag(covariance(full.transform(train))), full.explained_variance, rtol=1e-9)
    kept = PCA(0.9).fit(train)
    k = len(kept.components)
    assert kept.explained_variance_ratio.sum() >= 0.9 > full.explained_variance_ratio[: k - 1].sum()
    assert kept.transform(val).shape == (500, k)
    three = PCA(3).fit(train)
    assert three.transform(val).shape == (500, 3) and three.inverse_transform(three.transform(val)).shape == (500, 6)
    np.testing.assert_allclose(np.abs(three.components), np.abs(full.components[:3]), atol=1e-10)


def test_dtypes(rng):
    images = rng.integers(0, 256, (20, 3, 4, 4)).astype(np.uint8)
    assert ZeroCenter().fit_transform(images).dtype == np.float32
    x32 = rng.standard_normal((100, 5)).astype(np.float32)
    for preprocessor in (Standardize(), PCA(2), ZCAWhitening()):
        assert preprocessor.fit_transform(x32).dtype == np.float32
        assert preprocessor.transform(x32.astype(np.float64)).dtype == np.float64


@pytest.mark.parametrize("preprocessor", ALL, ids=repr)
def test_state_round_trip_through_save_arrays(tmp_path, splits, preprocessor):
    train, val = splits
    fitted = preprocessor.fit(train)
    state = fitted.get_state()
    json.dumps(state["params"])  # the parameters are plain JSON
    save_arrays(tmp_path / "p.npz", state["arrays"], {"kind": "preprocessor", "class": state["class"],
                                                      "params": state["params"]})  # fmt: skip
    arrays, document = load_arrays(tmp_path / "p.npz")
    rebuilt = Preprocessor.from_state({"class": document["class"], "params": document["params"], "arrays": arrays})
    assert type(rebuilt) is type(fitted) and repr(rebuilt) == repr(fitted)
    np.testing.assert_array_equal(rebuilt.transform(val), fitted.transform(val))
    save_preprocessor(tmp_path / "q.npz", fitted)
    np.testing.assert_array_equal(load_preprocessor(tmp_path / "q.npz").transform(val), fitted.transform(val))
    blank = type(fitted)(**{name: getattr(fitted, name) for name in fitted.params})
    np.testing.assert_array_equal(blank.set_state(state).transform(val), fitted.transform(val))


def test_a_preprocessor_is_a_dataloader_transform(splits):
    train, _ = splits
    center = ZeroCenter().fit(train)
    loader = DataLoader(train, np.zeros(len(train), dtype=np.int64), batch_size=1000, shuffle=False,
                        transform=center)  # fmt: skip
    batch, labels = next(iter(loader))
    np.testing.assert_allclose(batch, train[:1000] - train.mean(0))
    assert labels.shape == (1000,)


def test_standardize_constant_feature_is_only_centered():
    x = np.stack([np.arange(10.0), np.full(10, 7.0)], axis=1)
    z = Standardize().fit_transform(x)
    np.testing.assert_array_equal(z[:, 1], 0.0)
    assert z[:, 0].std() == pytest.approx(1.0)


def test_bad_input(tmp_path, splits, rng):
    train, _ = splits
    with pytest.raises(RuntimeError, match=r"ZeroCenter is not fitted: call fit\(x_train\) first"):
        ZeroCenter().transform(train)
    center = ZeroCenter().fit(train)
    with pytest.raises(InputError, match=r"fitted on samples of shape \(6,\).*received shape \(4, 5\)"):
        center.transform(np.zeros((4, 5)))
    bad = train.copy()
    bad[7, 2] = np.nan
    with pytest.raises(InputError, match=r"1 non-finite value\(s\) \(first: nan at index \(7, 2\)\)"):
        Standardize().fit(bad)
    with pytest.raises(InputError, match="n_components=7 exceeds the 6 features"):
        PCA(7).fit(train)
    with pytest.raises(InputError, match=r"inverse_transform expects shape \(N, 3\); received \(2, 4\)"):
        PCA(3).fit(train).inverse_transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="per must be one of"):
        ZeroCenter(per="pixel")
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        ZCAWhitening(eps=-1)
    with pytest.raises(ValueError, match="n_components must be None, a positive int or a fraction"):
        PCA(0)
    with pytest.raises(InputError, match="at least 2 samples"):
        ZeroCenter().fit(train[:1])
    with pytest.raises(ValueError, match=r"unknown preprocessor class 'os\.system'"):
        Preprocessor.from_state({"class": "os.system", "params": {}, "arrays": {}})
    save_arrays(tmp_path / "m.npz", {"w": np.zeros(2)}, {"kind": "model"})
    with pytest.raises(CheckpointError, match="holds a 'model', not a preprocessor"):
        load_preprocessor(tmp_path / "m.npz")
