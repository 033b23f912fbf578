"""Elementwise nonlinearities: forward returns ``(out, cache)``, backward takes ``(dout, cache)``.

Each backward allocates a fresh array and never writes into ``dout``, since the caller
may still hold it.
"""

from __future__ import annotations

from babysit.backend import xp as namespace


def relu_forward(x):
    """``max(0, x)`` (Nair & Hinton 2010). The cache is the output: ``out > 0`` is the mask."""
    out = namespace(x).maximum(x, 0)
    return out, out


def relu_backward(dout, out):
    return dout * (out > 0)


def leaky_relu_forward(x, negative_slope=0.01):
    """``x`` if x > 0 else ``negative_slope * x`` (Maas et al. 2013): never fully dies."""
    out = namespace(x).where(x > 0, x, negative_slope * x)
    return out, (x > 0, negative_slope)


def leaky_relu_backward(dout, cache):
    positive, negative_slope = cache
    return namespace(dout).where(positive, dout, negative_slope * dout)


def prelu_forward(x, slope):
    """``max(a*x, x)`` for a < 1, i.e. x if x > 0 else ``a*x`` with a learned (He et al. 2015).

    ``slope`` has one entry (shared) or one per channel of axis 1.
    """
    a = _broadcast_slope(slope, x.ndim)
    out = namespace(x).where(x > 0, x, a * x)
    return out, (x, a, slope.shape)


def prelu_backward(dout, cache):
    """Returns ``(dx, dslope)``; ``dslope`` sums ``dout * x`` over the negative part."""
    x, a, slope_shape = cache
    xp = namespace(dout)
    positive = x > 0
    dx = xp.where(positive, dout, a * dout)
    contribution = xp.where(positive, 0, dout * x)
    if slope_shape[0] == 1:
        dslope = contribution.sum().reshape(slope_shape)
    else:
        axes = (0, *range(2, x.ndim))
        dslope = contribution.sum(axis=axes)
    return dx, dslope


def _broadcast_slope(slope, ndim):
    if slope.shape[0] == 1:
        return slope[0]
    return slope.reshape((1, -1) + (1,) * (ndim - 2))


def elu_forward(x, alpha=1.0):
    """``x`` if x > 0 else ``alpha * (exp(x) - 1)`` (Clevert et al. 2015)."""
    xp = namespace(x)
    negative = alpha * xp.expm1(xp.minimum(x, 0))  # min() keeps exp from overflowing on large x
    out = xp.where(x > 0, x, negative)
    return out, (x > 0, out, alpha)


def elu_backward(dout, cache):
    positive, out, alpha = cache
    return namespace(dout).where(positive, dout, dout * (out + alpha))


def sigmoid_forward(x):
    """``1 / (1 + exp(-x))``, computed as ``(1 + tanh(x/2)) / 2`` so it never overflows."""
    out = 0.5 * (1.0 + namespace(x).tanh(0.5 * x))
    return out, out


def sigmoid_backward(dout, out):
    return dout * out * (1.0 - out)


def tanh_forward(x):
    out = namespace(x).tanh(x)
    return out, out


def tanh_backward(dout, out):
    return dout * (1.0 - out * out)


def maxout_forward(z, pieces):
    """Maxout (Goodfellow et al. 2013) over ``z`` of shape (N, pieces, M): the max over pieces.

    The cache keeps the index of the first maximal piece, so ties route to one piece.
    """
    if z.ndim != 3 or z.shape[1] != pieces:
        raise ValueError(f"maxout_forward: expected z of shape (N, {pieces}, M), got {z.shape}")
    index = z.argmax(axis=1)
    out = namespace(z).take_along_axis(z, index[:, None, :], axis=1)[:, 0, :]
    return out, (index, z.shape)


def maxout_backward(dout, cache):
    index, shape = cache
    xp = namespace(dout)
    dz = xp.zeros(shape, dtype=dout.dtype)
    xp.put_along_axis(dz, index[:, None, :], dout[:, None, :], axis=1)
    return dz
