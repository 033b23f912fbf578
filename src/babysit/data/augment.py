"""Data augmentation, vectorized over the batch and driven by an explicit random generator.

Layouts (as the rest of babysit): images ``(N, C, H, W)``; sequences ``(N, C, L)`` or
``(N, L)``. Every augmentation follows the :class:`~babysit.data.DataLoader` transform
protocol ``aug(x, y, rng) -> (x, y)`` and never modifies its input; ``aug.augment(x, rng)``
returns the augmented ``x`` alone. Each sample gets its own random draw, and the same
generator state gives the same result.

Examples
--------
>>> train = DataLoader(x, y, batch_size=128, rng=0,
...                    transform=Compose(RandomHorizontalFlip(), RandomCrop(padding=4)))
"""

from __future__ import annotations

import numpy as np

from babysit.backend import DEFAULT_DTYPE, as_rng
from babysit.data._checks import as_array
from babysit.errors import InputError

_ANY = "(N, L), (N, C, L) or (N, C, H, W)"
_PAD_MODES = ("constant", "edge", "reflect", "wrap")


class Augmentation:
    """Base class: subclasses implement ``_augment(x, rng)`` for a checked batch ``x``."""

    #: numbers of axes accepted, and the layout named in errors
    ndims: tuple[int, ...] = (2, 3, 4)
    layout: str = _ANY

    def __call__(self, x, y=None, rng=None):
        """DataLoader protocol: ``(x, y, rng) -> (augmented x, y)``."""
        return self.augment(x, rng), y

    def augment(self, x, rng=None) -> np.ndarray:
        """The augmented batch (a new array); ``rng``: seed or Generator (``None``: unseeded)."""
        x = as_array(x, type(self).__name__)
        if x.ndim not in self.ndims:
            raise InputError(type(self).__name__, f"expected a batch of shape {self.layout}; received shape {x.shape}")
        out = self._augment(x, as_rng(rng))
        return out.copy() if out is x else out  # e.g. ColorJitter() with nothing to do

    def _augment(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _augment(x, rng)")

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in vars(self).items() if not key.startswith("_"))
        return f"{type(self).__name__}({arguments})"


class Compose(Augmentation):
    """Apply transforms in order, sharing one generator: ``Compose(a, b)(x, y, rng)``."""

    def __init__(self, *transforms):
        for transform in transforms:
            if not callable(transform):
                raise TypeError(f"Compose: every transform must be callable (x, y, rng) -> (x, y); got {transform!r}")
        self.transforms = transforms

    def __call__(self, x, y=None, rng=None):
        rng = as_rng(rng)
        for transform in self.transforms:
            x, y = transform(x, y, rng)
        return x, y

    def augment(self, x, rng=None) -> np.ndarray:
        return self(x, None, rng)[0]


class RandomHorizontalFlip(Augmentation):
    """Reverse the last axis (image width, or time) of each sample with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = _probability(p, "RandomHorizontalFlip")

    def _augment(self, x, rng):
        flip = rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out


class RandomCrop(Augmentation):
    """Pad images by ``padding`` on every side, then cut a random ``size`` window from each.

    ``size`` (int or (h, w)) defaults to the input's size: the CIFAR-10 recipe
    ``RandomCrop(padding=4)`` shifts each image by up to 4 pixels. ``mode`` is NumPy's pad
    mode: ``"constant"`` (zeros), ``"edge"``, ``"reflect"`` or ``"wrap"``.
    """

    ndims, layout = (4,), "(N, C, H, W)"

    def __init__(self, size: int | tuple[int, int] | None = None, padding: int = 0, mode: str = "constant"):
        self.size = None if size is None else _pair(size, "RandomCrop size")
        self.padding = _non_negative_int(padding, "RandomCrop padding")
        self.mode = _pad_mode(mode, "RandomCrop")

    def _augment(self, x, rng):
        height, width = x.shape[-2] + 2 * self.padding, x.shape[-1] + 2 * self.padding
        size = self.size or x.shape[-2:]
        if size[0] > height or size[1] > width:
            raise InputError(
                "RandomCrop", f"cannot cut {size} windows from images of {x.shape[-2:]} padded to {(height, width)}"
            )
        starts = np.stack([rng.integers(0, height - size[0] + 1, len(x)), rng.integers(0, width - size[1] + 1, len(x))])
        return _windows(_pad(x, self.padding, 2, self.mode), starts, size)


class RandomTranslate(Augmentation):
    """Shift each sample by a random whole number of positions in ``[-max_shift, max_shift]``.

    Sequences ``(N, L)`` / ``(N, C, L)`` shift along time; images ``(N, C, H, W)`` along
    both axes independently. Vacated positions are filled per ``mode`` (``"constant"``:
    zeros; ``"wrap"``: a circular shift, as MNIST-1D's own translation).
    """

    def __init__(self, max_shift: int, mode: str = "constant"):
        self.max_shift = _non_negative_int(max_shift, "RandomTranslate max_shift")
        self.mode = _pad_mode(mode, "RandomTranslate")

    def _augment(self, x, rng):
        axes = _spatial_axes(x)
        shifts = rng.integers(-self.max_shift, self.max_shift + 1, (axes, len(x)))
        return translate(x, shifts, mode=self.mode, max_shift=self.max_shift)


class RandomScale(Augmentation):
    """Zoom each sample about its center by a factor drawn from ``U(scale)``, keeping its size.

    Linear (bilinear for images) interpolation; positions that map outside the input are 0.
    Factors above 1 enlarge (crop in), below 1 shrink (with a zero border).
    """

    def __init__(self, scale: tuple[float, float] = (0.9, 1.1)):
        low, high = (float(v) for v in scale)
        if not 0 < low <= high:
            raise ValueError(f"RandomScale: scale must be (low, high) with 0 < low <= high; got {scale!r}")
        self.scale = (low, high)

    def _augment(self, x, rng):
        factors = rng.uniform(*self.scale, len(x))
        out = _float(x)
        for axis in range(x.ndim - _spatial_axes(x), x.ndim):
            out = _resample(out, factors, axis)
        return out


class ColorJitter(Augmentation):
    """Random brightness, contrast and saturation, in that order, one draw per image.

    With ``f ~ U(max(0, 1 - a), 1 + a)`` for each nonzero argument ``a``: brightness
    multiplies by ``f``; contrast blends with the image's mean, ``m + f (x - m)``; saturation
    (RGB images ``(N, 3, H, W)`` only) blends with the luminance ``0.299 R + 0.587 G + 0.114 B``.
    ``clip=(low, high)`` clips the result (e.g. ``(0, 255)`` for raw pixels).
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0, clip=None):
        for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"ColorJitter: {name} must be a number >= 0; got {value!r}")
        self.brightness, self.contrast, self.saturation = float(brightness), float(contrast), float(saturation)
        self.clip = None if clip is None else (float(clip[0]), float(clip[1]))

    def _augment(self, x, rng):
        out = _float(x)
        shape = (len(x),) + (1,) * (x.ndim - 1)
        if self.saturation and (x.ndim != 4 or x.shape[1] != 3):
            raise InputError("ColorJitter", f"saturation needs RGB images (N, 3, H, W); received shape {x.shape}")
        if self.brightness:
            out = out * self._factors(self.brightness, rng, shape, out.dtype)
        if self.contrast:
            mean = out.mean(axis=tuple(range(1, x.ndim)), keepdims=True)
            out = mean + self._factors(self.contrast, rng, shape, out.dtype) * (out - mean)
        if self.saturation:
            gray = np.tensordot(np.asarray([0.299, 0.587, 0.114], out.dtype), out, axes=(0, 1))[:, None]
            out = gray + self._factors(self.saturation, rng, shape, out.dtype) * (out - gray)
        return out if self.clip is None else np.clip(out, *self.clip)

    @staticmethod
    def _factors(amount, rng, shape, dtype):
        return rng.uniform(max(0.0, 1.0 - amount), 1.0 + amount, shape[0]).astype(dtype).reshape(shape)


class AddGaussianNoise(Augmentation):
    """Add independent ``N(0, std^2)`` noise to every value."""

    def __init__(self, std: float):
        if not (isinstance(std, (int, float)) and std >= 0):
            raise ValueError(f"AddGaussianNoise: std must be a number >= 0; got {std!r}")
        self.std = float(std)

    def _augment(self, x, rng):
        out = _float(x)
        noise = rng.standard_normal(out.shape, dtype=out.dtype if out.dtype.itemsize in (4, 8) else np.float64)
        noise *= self.std
        noise += out
        return noise.astype(out.dtype, copy=False)


class Cutout(Augmentation):
    """Set a random ``size x size`` square (a ``size``-long segment for sequences) to ``fill``.

    The square's center is uniform over the image, so it may be cut by the border
    (DeVries & Taylor, 2017). Applied to each sample with probability ``p``. ``fill=0``
    suits zero-centered data.
    """

    def __init__(self, size: int, p: float = 1.0, fill: float = 0.0):
        self.size = _non_negative_int(size, "Cutout size")
        self.p = _probability(p, "Cutout")
        self.fill = float(fill)

    def _augment(self, x, rng):
        axes = _spatial_axes(x)
        mask = (rng.random(len(x)) < self.p).reshape(-1, *([1] * axes))
        for k, length in enumerate(x.shape[-axes:]):
            start = rng.integers(0, length, len(x)) - self.size // 2
            positions = np.arange(length)
            inside = (positions >= start[:, None]) & (positions < start[:, None] + self.size)
            mask = mask & inside.reshape(len(x), *([1] * k), length, *([1] * (axes - 1 - k)))
        mask = mask.reshape(len(x), *([1] * (x.ndim - 1 - axes)), *mask.shape[1:])
        out = x.copy()
        np.copyto(out, np.asarray(self.fill).astype(x.dtype), where=mask)
        return out


def translate(x, shifts, *, mode: str = "constant", max_shift: int | None = None) -> np.ndarray:
    """Shift ``x`` by whole positions: ``shifts`` is ``(axes,)`` for all samples or ``(axes, N)``.

    ``axes`` is 1 for sequences, 2 (rows, columns) for images; a positive shift moves the
    content towards higher indices. Vacated positions are filled per NumPy pad ``mode``.
    """
    x = as_array(x, "translate")
    axes = _spatial_axes(x)
    shifts = np.broadcast_to(np.asarray(shifts, dtype=np.int64).reshape(axes, -1), (axes, len(x)))
    pad = int(np.abs(shifts).max()) if max_shift is None else max_shift
    return _windows(_pad(x, pad, axes, _pad_mode(mode, "translate")), pad - shifts, x.shape[-axes:])


def tta_predict(predict, x, *, flip: bool = True, shifts=(), mode: str = "constant") -> np.ndarray:
    """Test-time augmentation: average ``predict`` over the original, flipped and shifted views.

    Parameters
    ----------
    predict : callable ``x -> (N, C)`` scores or probabilities (average probabilities when
        you can: averaging raw scores weighs confident views more).
    x : batch ``(N, ...)``
    flip : also use the horizontally flipped batch (and flipped shifted ones).
    shifts : iterable of shifts (an int, or a ``(dy, dx)`` pair for images), each a view made
        with :func:`translate` - the crops of a padded image.

    Returns
    -------
    The mean prediction over the ``(1 + len(shifts)) * (2 if flip else 1)`` views.
    """
    x = as_array(x, "tta_predict")
    axes = _spatial_axes(x)
    views = [x] + [translate(x, np.broadcast_to(np.asarray(s), (axes,)), mode=mode) for s in shifts]
    total, count = None, 0
    for view in views:
        for candidate in (view, view[..., ::-1]) if flip else (view,):
            prediction = np.asarray(predict(candidate), dtype=np.float64)
            total = prediction if total is None else total + prediction
            count += 1
    return total / count


# --------------------------------------------------------------------------------------- helpers


def _spatial_axes(x: np.ndarray) -> int:
    if x.ndim == 4:
        return 2
    if x.ndim in (2, 3):
        return 1
    raise InputError("augmentation", f"expected a batch of shape {_ANY}; received shape {x.shape}")


def _pad(x: np.ndarray, pad: int, axes: int, mode: str) -> np.ndarray:
    if pad == 0:
        return x
    return np.pad(x, [(0, 0)] * (x.ndim - axes) + [(pad, pad)] * axes, mode=mode)


def _windows(x: np.ndarray, starts: np.ndarray, size) -> np.ndarray:
    """For each sample ``n``, the window of ``size`` starting at ``starts[:, n]`` in the last axes.

    One gather from a strided view of all windows: no index arrays of the output's size.
    """
    axes = tuple(range(x.ndim - len(size), x.ndim))
    windows = np.lib.stride_tricks.sliding_window_view(x, tuple(size), axis=axes)
    middle = (slice(None),) * (x.ndim - 1 - len(size))
    return windows[(np.arange(len(x)), *middle, *np.asarray(starts))]


def _resample(x: np.ndarray, factors: np.ndarray, axis: int) -> np.ndarray:
    """Linear resampling along ``axis``: output ``i`` reads input ``c + (i - c) / factor``."""
    length = x.shape[axis]
    center = (length - 1) / 2
    coords = center + (np.arange(length) - center) / factors[:, None]  # (N, length)
    low = np.floor(coords).astype(np.int64)
    inside = (coords >= 0) & (coords <= length - 1)  # outside the input: weights 0, value 0
    shape = (*coords.shape, *(1,) * (x.ndim - 2))
    high_weight = np.where(inside, coords - low, 0.0).astype(x.dtype).reshape(shape)
    low_weight = np.where(inside, 1.0 - (coords - low), 0.0).astype(x.dtype).reshape(shape)
    moved = np.moveaxis(x, axis, 1)  # (N, length, ...): gather whole rows along the axis
    rows = np.arange(len(x))[:, None]
    out = moved[rows, np.clip(low, 0, length - 1)] * low_weight
    out += moved[rows, np.clip(low + 1, 0, length - 1)] * high_weight
    return np.moveaxis(out, 1, axis)


def _float(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind == "f" else x.astype(DEFAULT_DTYPE)


def _probability(p, where: str) -> float:
    if not (isinstance(p, (int, float)) and 0 <= p <= 1):
        raise ValueError(f"{where}: p must be a probability in [0, 1]; got {p!r}")
    return float(p)


def _non_negative_int(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{where} must be an integer >= 0; got {value!r}")
    return int(value)


def _pair(value, where: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(_non_negative_int(v, where) == 0 for v in pair):
        raise ValueError(f"{where} must be a positive int or an (h, w) pair; got {value!r}")
    return int(pair[0]), int(pair[1])


def _pad_mode(mode: str, where: str) -> str:
    if mode not in _PAD_MODES:
        raise ValueError(f"{where}: mode must be one of {_PAD_MODES}; got {mode!r}")
    return mode
