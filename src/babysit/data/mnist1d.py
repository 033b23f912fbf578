"""MNIST-1D, generated offline from its procedural definition.

MNIST-1D (Greydanus & Kobak, 2020) turns ten hand-drawn 1-D templates into 40-sample
signals by padding, dilating, scaling, translating, adding correlated and i.i.d. noise,
shearing and subsampling. :func:`make_mnist1d` reproduces the reference generator
(``mnist1d.data.make_dataset`` of the ``mnist1d`` package, version 0.0.2) draw for draw:
the same arguments give the same arrays, so the default call *is* the published split
(4000 training and 1000 test signals). Nothing is downloaded.

The random draws are made in the reference's order from a private
``numpy.random.RandomState(seed)`` (the reference seeds NumPy's global legacy state);
the arithmetic is vectorized over all signals and reproduces ``numpy.interp``'s formula
so that the exact zeros the reference masks with noise are the same zeros here.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.ndimage import gaussian_filter1d

from babysit.backend import as_float_dtype
from babysit.data.datasets import Dataset, make_dataset

#: Arguments of the published data set (``mnist1d.data.get_dataset_args()``).
DEFAULTS = {
    "num_samples": 5000,
    "train_split": 0.8,
    "template_len": 12,
    "padding": (36, 60),
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "shuffle_seq": False,
    "final_seq_length": 40,
    "seed": 42,
}

_EPS = 1e-8  # added to the templates so that only the padding is exactly zero


def mnist1d(*, shuffled: bool = False, val_size: float | int | None = None, seed: int = 0, dtype=np.float32) -> Dataset:
    """The published MNIST-1D split: 4000 training and 1000 test signals of length 40.

    Parameters
    ----------
    shuffled : bool
        The spatially shuffled variant: the same 40 positions permuted the same way in every
        signal (``shuffle_seq=True`` in the reference), which destroys locality; an MLP does
        as well as before, a CNN no longer has an edge.
    val_size : float or int, optional
        Carve a stratified validation split off the training set: a fraction in (0, 1) or a
        number of signals. ``None`` (default) gives no validation split.
    seed : int
        Seed of the validation split only; the signals themselves are always the published ones.
    dtype : float32 (default) or float64

    Returns
    -------
    Dataset
        ``x_train`` (4000, 40), ``y_train`` (4000,) int64 in [0, 10), ``x_test`` (1000, 40),
        ``y_test`` (1000,); ``x_val``/``y_val`` when ``val_size`` is given. Signals are
        standardized over the whole set (mean 0, standard deviation 1), as published.

    Notes
    -----
    Published test accuracies: logistic regression 32%, MLP 68%, CNN 94%, human 96%.
    Use :func:`make_mnist1d` for other generation arguments or the time axis ``t``.

    References
    ----------
    S. Greydanus and D. Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024
    (arXiv:2011.14439).
    """
    data = _generate(**{**DEFAULTS, "shuffle_seq": bool(shuffled)})
    name = "mnist1d-shuffled" if shuffled else "mnist1d"
    return make_dataset(
        name, data["x"], data["y"], data["x_test"], data["y_test"],
        n_classes=10, val_size=val_size, seed=seed, dtype=as_float_dtype(dtype),
    )  # fmt: skip


def make_mnist1d(**arguments) -> dict[str, np.ndarray]:
    """Generate MNIST-1D with the reference generator's arguments; float64 arrays.

    Accepts the keys of :data:`DEFAULTS` (``num_samples``, ``train_split``, ``template_len``,
    ``padding``, ``scale_coeff``, ``max_translation``, ``corr_noise_scale``,
    ``iid_noise_scale``, ``shear_scale``, ``shuffle_seq``, ``final_seq_length``, ``seed``);
    the others keep their published values. Returns fresh copies of
    ``{"x", "y", "x_test", "y_test", "t"}``, the same keys and values as the reference's
    ``make_dataset`` (``t`` is the common time axis of the signals, for plots).
    """
    unknown = sorted(set(arguments) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"make_mnist1d() got unknown arguments {unknown}; it accepts {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **arguments}
    merged["padding"] = tuple(int(value) for value in merged["padding"])
    return {key: value.copy() for key, value in _generate(**merged).items()}


def templates() -> tuple[np.ndarray, np.ndarray]:
    """The ten digit templates (10, 12), standardized and starting at 0, and their time axis (12,)."""
    shapes = np.asarray(
        [
            [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
            [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
            [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
            [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
            [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
            [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
            [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
            [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
            [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
            [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
        ]
    )
    shapes -= shapes.mean(1, keepdims=True)
    shapes /= shapes.std(1, keepdims=True)
    shapes -= shapes[:, :1]
    return shapes / 6.0, np.linspace(-5, 5, shapes.shape[1]) / 6.0


@functools.lru_cache(maxsize=8)
def _generate(
    *, num_samples, train_split, template_len, padding, scale_coeff, max_translation,
    corr_noise_scale, iid_noise_scale, shear_scale, shuffle_seq, final_seq_length, seed,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The reference ``make_dataset`` (cached; callers must not modify the arrays)."""
    shapes, t = templates()
    per_class = num_samples // len(shapes)
    labels = np.repeat(np.arange(len(shapes)), per_class)
    dilated_length = template_len + padding[-1]
    state = np.random.RandomState(seed)
    draws = _draw(state, len(labels), padding, max_translation, dilated_length)

    x = _pad_and_dilate(shapes[labels] + _EPS, draws["pad"], dilated_length)
    x *= 1 + scale_coeff * (draws["scale"] - 0.5)[:, None]
    x = np.take_along_axis(x, (np.arange(dilated_length) - draws["shift"][:, None]) % dilated_length, axis=1)
    correlated = gaussian_filter1d(corr_noise_scale * draws["corr"], 2, axis=1)
    x = np.where(x != 0, x, correlated) + iid_noise_scale * draws["iid"]
    x -= (shear_scale * (draws["shear"] - 0.5))[:, None] * np.linspace(-0.5, 0.5, dilated_length)
    x = _interp(x, np.linspace(0, 1, dilated_length), np.linspace(0, 1, final_seq_length))
    t = _interp(t[None], np.linspace(0, 1, len(t)), np.linspace(0, 1, dilated_length))
    t = _interp(t, np.linspace(0, 1, dilated_length), np.linspace(0, 1, final_seq_length))[0]

    order = state.permutation(len(labels))
    x, labels = x[order], labels[order]
    if shuffle_seq:
        x = x[:, state.permutation(final_seq_length)]
    t = t / x.std()
    x = (x - x.mean()) / x.std()
    split = int(len(labels) * train_split)
    return {"x": x[:split], "x_test": x[split:], "y": labels[:split], "y_test": labels[split:], "t": t}


def _draw(state, n: int, padding, max_translation: int, length: int) -> dict[str, np.ndarray]:
    """Every random number, in the reference's order: pad, scale, shift, 2 noise vectors, shear."""
    uniforms = np.empty((n, 3))
    shift = np.empty(n, dtype=np.int64)
    corr, iid = np.empty((n, length)), np.empty((n, length))
    for i in range(n):  # sequential: normal draws use a variable number of raw outputs
        uniforms[i, 0] = state.rand()
        uniforms[i, 1] = state.rand()
        shift[i] = state.choice(max_translation)
        corr[i] = state.randn(length)
        iid[i] = state.randn(length)
        uniforms[i, 2] = state.rand()
    low, high = padding
    pad = low + (uniforms[:, 0] * (high - low + 1)).astype(np.int64)
    return {"pad": pad, "scale": uniforms[:, 1], "shift": shift, "corr": corr, "iid": iid, "shear": uniforms[:, 2]}


def _pad_and_dilate(x: np.ndarray, pad: np.ndarray, length: int) -> np.ndarray:
    """Append ``pad[i]`` zeros to row i, then stretch every row linearly to ``length`` samples."""
    out = np.empty((len(x), length))
    target = np.linspace(0, 1, length)
    for amount in np.unique(pad):  # one group per padded length (25 at most)
        rows = np.flatnonzero(pad == amount)
        padded = np.concatenate([x[rows], np.zeros((len(rows), amount))], axis=1)
        out[rows] = _interp(padded, np.linspace(0, 1, padded.shape[1]), target)
    return out


def _interp(fp: np.ndarray, xp: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``np.interp(x, xp, row)`` for every row of ``fp``, with NumPy's exact arithmetic.

    Like NumPy's C loop: a point equal to a knot takes the knot's value; any other takes
    ``slope * (x - xp[j]) + fp[j]`` with ``slope = (fp[j+1] - fp[j]) / (xp[j+1] - xp[j])``.
    Points must lie within ``[xp[0], xp[-1]]``.
    """
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
    slope = (fp[:, j + 1] - fp[:, j]) / (xp[j + 1] - xp[j])
    out = slope * (x - xp[j]) + fp[:, j]
    on_knot = np.flatnonzero(xp[j] == x)
    out[:, on_knot] = fp[:, j[on_knot]]
    last = np.flatnonzero(x == xp[-1])
    out[:, last] = fp[:, -1:]
    return out
