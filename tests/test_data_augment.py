"""Augmentations: vectorized, seeded, input untouched; 1-D and 2-D layouts; test-time augmentation."""

import numpy as np
import pytest

from babysit.data import (
    AddGaussianNoise,
    ColorJitter,
    Compose,
    Cutout,
    DataLoader,
    RandomCrop,
    RandomHorizontalFlip,
    RandomScale,
    RandomTranslate,
    translate,
    tta_predict,
)
from babysit.errors import InputError

RANDOM = [
    RandomHorizontalFlip(), RandomCrop(padding=2), RandomCrop(size=5, padding=1), RandomTranslate(2),
    RandomTranslate(3, mode="wrap"), RandomScale((0.7, 1.3)), ColorJitter(0.3, 0.3, 0.3), AddGaussianNoise(0.1),
    Cutout(3), Compose(RandomHorizontalFlip(), RandomCrop(padding=1)),
]  # fmt: skip
SEQUENCE = [RandomHorizontalFlip(), RandomTranslate(4), RandomScale(), ColorJitter(0.2, 0.2), AddGaussianNoise(0.1),
            Cutout(5)]  # fmt: skip


@pytest.fixture
def images(rng):
    return rng.standard_normal((64, 3, 7, 7)).astype(np.float32)


@pytest.mark.parametrize("augmentation", RANDOM, ids=repr)
def test_seeded_vectorized_and_input_untouched(images, augmentation):
    before = images.copy()
    first, labels = augmentation(images, np.arange(64), np.random.default_rng(3))
    np.testing.assert_array_equal(images, before)
    np.testing.assert_array_equal(labels, np.arange(64))
    np.testing.assert_array_equal(augmentation.augment(images, 3), first)  # same seed, same batch
    assert not np.array_equal(augmentation.augment(images, 4), first)
    assert first.dtype == np.float32 and first.shape[:2] == (64, 3)
    changed = [
        not np.array_equal(a, b) for a, b in zip(first, images[:, :, : first.shape[2], : first.shape[3]], strict=True)
    ]
    assert sum(changed) > 0  # per-sample draws: not all-or-nothing for the p=0.5 ones
    assert not np.shares_memory(first, images)


@pytest.mark.parametrize("augmentation", SEQUENCE, ids=repr)
@pytest.mark.parametrize("shape", [(32, 40), (32, 2, 40)], ids=["N,L", "N,C,L"])
def test_sequences(rng, augmentation, shape):
    x = rng.standard_normal(shape)
    out = augmentation.augment(x, 0)
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_array_equal(augmentation.augment(x, 0), out)


def test_flip_probability_and_direction(rng):
    x = rng.standard_normal((1000, 2, 5))
    flipped = RandomHorizontalFlip(p=1.0).augment(x, 0)
    np.testing.assert_array_equal(flipped, x[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0).augment(x, 0), x)
    half = RandomHorizontalFlip().augment(x, 0)
    share = np.mean([np.array_equal(a, b[..., ::-1]) for a, b in zip(half, x, strict=True)])
    assert 0.45 < share < 0.55


def test_crop_windows_come_from_the_padded_image(images):
    out = RandomCrop(size=(5, 4), padding=2).augment(images, 0)
    padded = np.pad(images, [(0, 0), (0, 0), (2, 2), (2, 2)])
    assert out.shape == (64, 3, 5, 4)
    offsets = set()
    for n in range(64):
        matches = [
            (i, j) for i in range(7) for j in range(8) if np.array_equal(padded[n, :, i : i + 5, j : j + 4], out[n])
        ]
        assert matches, n
        offsets.add(matches[0])
    assert len(offsets) > 10
    np.testing.assert_array_equal(RandomCrop().augment(images, 0), images)  # no padding, full size: identity


def test_translate_is_a_shift_with_fill_or_wrap():
    x = np.arange(1, 7, dtype=np.float64).reshape(1, 6)
    np.testing.assert_array_equal(translate(x, [2]), [[0, 0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(translate(x, [-1]), [[2, 3, 4, 5, 6, 0]])
    np.testing.assert_array_equal(translate(x, [2], mode="wrap"), np.roll(x, 2, axis=1))
    image = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(translate(image, [1, -1], mode="wrap"), np.roll(image, (1, -1), axis=(2, 3)))
    batch = np.tile(x, (3, 1))
    np.testing.assert_array_equal(translate(batch, [[0, 1, -1]]), [[1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5],
                                                                    [2, 3, 4, 5, 6, 0]])  # fmt: skip


def test_random_translate_wrap_is_a_bounded_roll(rng):
    x = rng.standard_normal((200, 40))
    out = RandomTranslate(3, mode="wrap").augment(x, 0)
    shifts = [
        next(k for k in range(-3, 4) if np.array_equal(np.roll(row, k), new)) for row, new in zip(x, out, strict=True)
    ]
    assert set(shifts) == set(range(-3, 4))


def test_scale_identity_and_zoom():
    ramp = np.tile(np.arange(9, dtype=np.float64), (4, 1))
    np.testing.assert_array_equal(RandomScale((1.0, 1.0)).augment(ramp, 0), ramp)
    zoomed = RandomScale((2.0, 2.0)).augment(ramp, 0)
    np.testing.assert_allclose(zoomed[0], 4 + (np.arange(9) - 4) / 2)  # twice as large about the center
    shrunk = RandomScale((0.5, 0.5)).augment(ramp, 0)
    np.testing.assert_allclose(shrunk[0, 2:7], 4 + (np.arange(2, 7) - 4) * 2)
    np.testing.assert_array_equal(shrunk[0, [0, 1, 7, 8]], 0)  # outside the input: zero
    image = np.ones((2, 1, 6, 6))
    np.testing.assert_allclose(RandomScale((1.5, 1.5)).augment(image, 0), 1.0)


def test_color_jitter_components(rng):
    x = rng.uniform(0, 1, (50, 3, 4, 4))
    bright = ColorJitter(brightness=0.5).augment(x, 0)
    ratio = bright / x
    assert np.allclose(ratio, ratio[:, :1, :1, :1]) and ratio.min() >= 0.5 and ratio.max() <= 1.5
    contrast = ColorJitter(contrast=0.5).augment(x, 0)
    np.testing.assert_allclose(contrast.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)))
    gray = np.repeat(x[:, :1], 3, axis=1)
    np.testing.assert_allclose(ColorJitter(saturation=0.9).augment(gray, 0), gray, atol=1e-12)
    clipped = ColorJitter(brightness=0.9, clip=(0, 1)).augment(x, 0)
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_noise_statistics_and_integer_input(rng):
    x = np.zeros((200, 1, 10, 10), dtype=np.float32)
    noisy = AddGaussianNoise(0.5).augment(x, 0)
    assert noisy.dtype == np.float32 and noisy.std() == pytest.approx(0.5, rel=0.02)
    pixels = rng.integers(0, 256, (4, 3, 5, 5)).astype(np.uint8)
    assert AddGaussianNoise(1.0).augment(pixels, 0).dtype == np.float32


def test_cutout_zeros_one_bounded_square(rng):
    x = rng.uniform(1, 2, (100, 3, 9, 9))
    out = Cutout(4).augment(x, 0)
    holes = out == 0
    assert np.all(holes.any(axis=1) == holes.all(axis=1))  # the same square in every channel
    per_image = holes[:, 0].sum(axis=(1, 2))
    assert per_image.max() == 16 and per_image.min() >= 4  # clipped at the border at worst to 2x2
    assert np.array_equal(Cutout(4, p=0.0).augment(x, 0), x)
    sequence = rng.uniform(1, 2, (10, 30))
    assert np.all((Cutout(6).augment(sequence, 0) == 0).sum(axis=1) <= 6)
    pixels = np.full((2, 1, 4, 4), 200, dtype=np.uint8)
    assert Cutout(2).augment(pixels, 0).dtype == np.uint8


def test_compose_shares_the_loader_rng(images):
    labels = np.arange(64) % 10
    pipeline = Compose(RandomHorizontalFlip(), RandomCrop(padding=2), AddGaussianNoise(0.01))
    first = [x for x, _ in DataLoader(images, labels, batch_size=16, rng=7, transform=pipeline)]
    second = [x for x, _ in DataLoader(images, labels, batch_size=16, rng=7, transform=pipeline)]
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    with pytest.raises(TypeError, match="must be callable"):
        Compose(RandomHorizontalFlip(), "crop")


def test_tta_averages_views():
    x = np.arange(12.0).reshape(2, 6)

    def first_last(batch):
        return batch[:, [0, -1]]

    averaged = tta_predict(first_last, x)  # original and flipped: the mean of the two ends
    np.testing.assert_allclose(averaged, np.repeat(((x[:, 0] + x[:, -1]) / 2)[:, None], 2, axis=1))
    np.testing.assert_allclose(tta_predict(first_last, x, flip=False), first_last(x))
    shifted = tta_predict(lambda b: b[:, :1], x, flip=False, shifts=[1])
    np.testing.assert_allclose(shifted[:, 0], (x[:, 0] + 0.0) / 2)  # shifted view starts with a zero
    images = np.random.default_rng(0).standard_normal((3, 2, 5, 5))
    assert tta_predict(lambda b: b.mean(axis=(2, 3)), images, shifts=[(1, 0), (0, -1)]).shape == (3, 2)


def test_wrong_shapes_and_arguments(images):
    with pytest.raises(
        InputError, match=r"RandomCrop: expected a batch of shape \(N, C, H, W\); received shape \(64, 147\)"
    ):
        RandomCrop(padding=2).augment(images.reshape(64, -1))
    with pytest.raises(InputError, match=r"cannot cut \(9, 9\) windows from images of \(7, 7\) padded to \(7, 7\)"):
        RandomCrop(size=9).augment(images)
    with pytest.raises(
        InputError, match=r"expected a batch of shape \(N, L\), \(N, C, L\) or \(N, C, H, W\); received shape \(64,\)"
    ):
        RandomHorizontalFlip().augment(images[:, 0, 0, 0])
    with pytest.raises(InputError, match=r"saturation needs RGB images \(N, 3, H, W\); received shape \(64, 1, 7, 7\)"):
        ColorJitter(saturation=0.5).augment(images[:, :1])
    with pytest.raises(ValueError, match="p must be a probability"):
        RandomHorizontalFlip(p=2)
    with pytest.raises(ValueError, match="mode must be one of"):
        RandomTranslate(2, mode="mirror")
    with pytest.raises(ValueError, match="scale must be"):
        RandomScale((1.2, 0.8))
    with pytest.raises(ValueError, match="max_shift must be an integer >= 0"):
        RandomTranslate(-1)
    with pytest.raises(TypeError, match=r"rng must be None, an int seed or a numpy\.random\.Generator"):
        RandomHorizontalFlip().augment(images, rng="seed")
