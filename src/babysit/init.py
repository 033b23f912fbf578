"""Weight initializers (CS231n "Training Neural Networks I", weight initialization).

Each name below is a factory: calling it with its hyperparameters returns an
initializer, a function ``(shape, fan_in, fan_out, rng, dtype) -> array``. Layers take
``init=`` as a registered name (``"he"``, ``"xavier"``, ``"normal"``, ...) or as any such
callable, e.g. ``Linear(500, 500, init=init.normal(std=1.0))``.

``fan_in`` is the number of inputs of one unit (``in_features``, or ``C_in * kh * kw``
for a convolution) and ``fan_out`` the number of units it feeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from babysit.backend import DEFAULT_DTYPE, as_rng

Initializer = Callable[..., np.ndarray]


def zeros() -> Initializer:
    """All zeros. Every unit then computes the same thing and gets the same update:
    the symmetry is never broken (the lecture's warning)."""
    return constant(0.0)


def constant(value: float) -> Initializer:
    """Every entry equal to ``value`` (used for biases, e.g. a small positive one for ReLU)."""

    def initialize(shape, fan_in=None, fan_out=None, rng=None, dtype=DEFAULT_DTYPE):
        return np.full(shape, value, dtype=dtype)

    return initialize


def normal(std: float = 0.01, mean: float = 0.0) -> Initializer:
    """``mean + std * randn(shape)``; the lecture's small random init is ``0.01 * randn``."""
    _check_positive("normal", "std", std)

    def initialize(shape, fan_in=None, fan_out=None, rng=None, dtype=DEFAULT_DTYPE):
        return (mean + std * as_rng(rng).standard_normal(shape)).astype(dtype)

    return initialize


def uniform(low: float = -0.05, high: float = 0.05) -> Initializer:
    """Uniform on ``[low, high)``."""

    def initialize(shape, fan_in=None, fan_out=None, rng=None, dtype=DEFAULT_DTYPE):
        return as_rng(rng).uniform(low, high, shape).astype(dtype)

    return initialize


def xavier_normal(gain: float = 1.0, mode: str = "avg") -> Initializer:
    """Glorot & Bengio (2010): ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    ``mode="in"`` gives the lecture's form ``randn(fan_in, fan_out) / sqrt(fan_in)``,
    i.e. ``std = gain / sqrt(fan_in)``. Keeps tanh activations healthy; with ReLU the
    variance halves at every layer and activations shrink towards zero.
    """
    _check_choice("xavier_normal", "mode", mode, ("avg", "in"))

    def initialize(shape, fan_in, fan_out, rng=None, dtype=DEFAULT_DTYPE):
        fan = (fan_in + fan_out) / 2 if mode == "avg" else fan_in
        return (gain / math.sqrt(fan) * as_rng(rng).standard_normal(shape)).astype(dtype)

    return initialize


def xavier_uniform(gain: float = 1.0) -> Initializer:
    """Glorot & Bengio (2010): ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""

    def initialize(shape, fan_in, fan_out, rng=None, dtype=DEFAULT_DTYPE):
        limit = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return as_rng(rng).uniform(-limit, limit, shape).astype(dtype)

    return initialize


def he_normal(negative_slope: float = 0.0, mode: str = "fan_in") -> Initializer:
    """He et al. (2015): ``std = sqrt(2 / ((1 + a^2) * fan))``, ``a`` the leaky-ReLU slope.

    The ``2`` (the lecture's "/2") compensates ReLU zeroing half of its inputs.
    """
    _check_choice("he_normal", "mode", mode, ("fan_in", "fan_out"))

    def initialize(shape, fan_in, fan_out, rng=None, dtype=DEFAULT_DTYPE):
        fan = fan_in if mode == "fan_in" else fan_out
        std = math.sqrt(2.0 / ((1.0 + negative_slope**2) * fan))
        return (std * as_rng(rng).standard_normal(shape)).astype(dtype)

    return initialize


def he_uniform(negative_slope: float = 0.0, mode: str = "fan_in") -> Initializer:
    """He et al. (2015), uniform: ``U(-a, a)`` with ``a = sqrt(6 / ((1 + slope^2) * fan))``."""
    _check_choice("he_uniform", "mode", mode, ("fan_in", "fan_out"))

    def initialize(shape, fan_in, fan_out, rng=None, dtype=DEFAULT_DTYPE):
        fan = fan_in if mode == "fan_in" else fan_out
        limit = math.sqrt(6.0 / ((1.0 + negative_slope**2) * fan))
        return as_rng(rng).uniform(-limit, limit, shape).astype(dtype)

    return initialize


def orthogonal(gain: float = 1.0) -> Initializer:
    """Saxe et al. (2013): a (semi-)orthogonal matrix, rows or columns orthonormal.

    The weight is seen as a ``(shape[0], prod(shape[1:]))`` matrix; it is the Q factor of
    the QR decomposition of a Gaussian matrix, with signs fixed by R's diagonal so the
    result is uniformly distributed over orthogonal matrices.
    """

    def initialize(shape, fan_in=None, fan_out=None, rng=None, dtype=DEFAULT_DTYPE):
        rows, cols = shape[0], int(np.prod(shape[1:]))
        gaussian = as_rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(gaussian)
        q *= np.sign(np.diag(r))
        matrix = q if rows >= cols else q.T
        return (gain * matrix.reshape(shape)).astype(dtype)

    return initialize


INITIALIZERS: dict[str, Callable[[], Initializer]] = {
    "zeros": zeros,
    "normal": normal,
    "uniform": uniform,
    "xavier": xavier_normal,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "glorot": xavier_normal,
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "kaiming": he_normal,
    "orthogonal": orthogonal,
}


def get(init) -> Initializer:
    """Resolve a name from :data:`INITIALIZERS` or pass a callable through."""
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]()
    raise ValueError(f"unknown initializer {init!r}; expected a callable or one of {sorted(INITIALIZERS)}")


def initialize(init, shape, fan_in: int, fan_out: int, rng, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """Create a weight array with ``init`` (name or callable) and check its shape."""
    array = np.asarray(get(init)(tuple(shape), fan_in=fan_in, fan_out=fan_out, rng=rng, dtype=dtype))
    if array.shape != tuple(shape):
        raise ValueError(f"initializer {init!r} returned shape {array.shape}, expected {tuple(shape)}")
    return array.astype(dtype, copy=False)


def lsuv(model, x_batch, *, tol: float = 0.1, max_iter: int = 10, rng=None):
    """Layer-sequential unit-variance init (Mishkin & Matas 2015, "All you need is a good init").

    Every layer with a weight matrix (Linear, Conv, Maxout) first gets an orthonormal
    weight and a zero bias; then, in forward order, its weight is divided by the standard
    deviation of its output on ``x_batch`` until that variance is within ``tol`` of 1.
    The model is run in eval mode (no dropout) and left in the mode it had.

    Returns a dict ``{layer name: output variance reached}``.
    """
    rng = as_rng(rng)
    layers = [(name, m) for name, m in model.named_modules() if _has_weight_matrix(m)]
    was_training = model.training
    model.eval()
    reached = {}
    try:
        for _, layer in layers:
            weight = layer.weight.data
            weight[...] = orthogonal()(weight.shape, rng=rng, dtype=weight.dtype)
            if getattr(layer, "bias", None) is not None:
                layer.bias.data[...] = 0
        for name, layer in layers:
            reached[name] = _scale_to_unit_variance(model, layer, x_batch, tol, max_iter)
    finally:
        model.train(was_training)
    return reached


def _scale_to_unit_variance(model, layer, x_batch, tol, max_iter) -> float:
    captured = {}
    handle = layer.register_forward_hook(lambda module, inp, out: captured.__setitem__("var", float(np.var(out))))
    try:
        for _ in range(max_iter):
            model(x_batch)
            variance = captured["var"]
            if abs(variance - 1.0) < tol or variance == 0.0:
                break
            layer.weight.data /= np.sqrt(variance)
        model(x_batch)
        return captured["var"]
    finally:
        handle.remove()


def _has_weight_matrix(module) -> bool:
    weight = getattr(module, "weight", None)
    return weight is not None and hasattr(weight, "data") and weight.data.ndim >= 2


def _check_positive(where, name, value):
    if not value > 0:
        raise ValueError(f"{where}: {name} must be > 0, got {value}")


def _check_choice(where, name, value, choices):
    if value not in choices:
        raise ValueError(f"{where}: {name} must be one of {choices}, got {value!r}")
