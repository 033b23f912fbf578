"""Normalization kernels: standardize over some axes, then scale and shift.

One pair of kernels serves BatchNorm, InstanceNorm, LayerNorm and GroupNorm; they differ
only in the axes the statistics run over (``axes``) and in the shape of the affine
parameters (``weight``/``bias``, already shaped to broadcast against ``x``):

=============  ======================  ===================
layer          statistics over axes     parameters per
=============  ======================  ===================
BatchNorm      N and spatial            channel
InstanceNorm   spatial                  channel
LayerNorm      trailing (normalized)    normalized element
GroupNorm      channels in group, sp.   channel
=============  ======================  ===================

Reductions use ``einsum`` (no temporaries, any memory layout, float32 error ~1e-6 relative)
and elementwise work uses ufuncs, whose outputs keep the input's memory order, so a
(N, C, H, W) view with batch-innermost memory stays that way.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from babysit.backend import xp as namespace

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class NormCache(NamedTuple):
    """What :func:`normalize_backward` needs; ``mean``/``var`` (biased) feed running averages.

    ``centred`` is ``x - mean`` when ``fused`` (the parameters are constant over the
    statistics' axes, as in BatchNorm and InstanceNorm) and ``xhat`` otherwise.
    """

    centred: object
    inv_std: object
    weight: object
    axes: tuple
    param_axes: tuple | None
    fused: bool
    mean: object
    var: object
    count: int


class StatsCache(NamedTuple):
    """What :func:`normalize_with_stats_backward` needs."""

    x: object
    mean: object
    inv_std: object
    weight: object
    param_axes: tuple | None


def reduce_sum(a, axes, b=None):
    """``sum(a)`` or ``sum(a * b)`` over ``axes``, keeping the other axes; no temporaries."""
    subscripts = _subscripts(a.ndim, tuple(axes), b is not None)
    return namespace(a).einsum(subscripts, a) if b is None else namespace(a).einsum(subscripts, a, b)


@functools.lru_cache(maxsize=256)
def _subscripts(ndim: int, axes: tuple, product: bool) -> str:
    """einsum subscripts such as ``"abcd,abcd->b"`` (cached: building them costs as much as a small sum)."""
    letters = _LETTERS[:ndim]
    kept = "".join(letter for axis, letter in enumerate(letters) if axis not in axes)
    return f"{letters},{letters}->{kept}" if product else f"{letters}->{kept}"


def reduce_sum_keepdims(a, axes, b=None):
    """:func:`reduce_sum` with the reduced axes kept as length 1, so the result broadcasts."""
    total = reduce_sum(a, axes, b)
    return total.reshape([1 if axis in axes else size for axis, size in enumerate(a.shape)])


def channel_shape(ndim: int, channels: int, axis: int = 1) -> tuple[int, ...]:
    """``(1, C, 1, ...)``: the shape that broadcasts a per-channel vector against (N, C, ...)."""
    shape = [1] * ndim
    shape[axis] = channels
    return tuple(shape)


def normalize_forward(x, axes, weight=None, bias=None, eps=1e-5):
    """Standardize ``x`` with its own statistics over ``axes``, then scale and shift.

    Parameters
    ----------
    x : array of any shape
    axes : tuple of int
        Axes the mean and variance run over (BatchNorm2d: ``(0, 2, 3)``).
    weight, bias : arrays broadcastable to ``x``, or None
        The affine parameters gamma and beta, already shaped (``(1, C, 1, 1)``).
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    out : new array shaped and laid out like ``x``
    cache : NormCache, with the batch ``mean`` and biased ``var`` (kept dims) and the
        number of values ``count`` that each statistic averages.

    Notes
    -----
    ``mu = mean(x)``, ``var = mean((x - mu)^2)`` (biased, divide by the count m),
    ``xhat = (x - mu) / sqrt(var + eps)``, ``out = gamma * xhat + beta``.
    The variance is taken of the centred values (two passes), not as
    ``E[x^2] - mu^2``, which cancels catastrophically in float32. When gamma is constant
    over ``axes`` the output is one pass ``(x - mu) * (gamma / sqrt(var + eps)) + beta``
    with small per-group constants, and ``xhat`` is never stored.
    """
    axes = tuple(sorted(axes))
    count = _count(x.shape, axes)
    param_axes = _param_axes(x.ndim, weight, bias)
    fused = param_axes is None or set(axes) <= set(param_axes)
    mean = reduce_sum_keepdims(x, axes) / count
    centred = x - mean
    var = reduce_sum_keepdims(centred, axes, centred) / count
    inv_std = 1.0 / namespace(x).sqrt(var + eps)
    if fused:
        out = centred * (inv_std if weight is None else inv_std * weight)
        if bias is not None:
            out += bias
    else:
        centred *= inv_std  # xhat, kept for the backward pass
        out = centred * weight if weight is not None else centred + bias
        if weight is not None and bias is not None:
            out += bias
    return out, NormCache(centred, inv_std, weight, axes, param_axes, fused, mean, var, count)


def normalize_backward(dout, cache: NormCache):
    """Backward of :func:`normalize_forward` in closed form; returns ``(dx, dweight, dbias)``.

    Notes
    -----
    With ``g = gamma * dout`` and means over the statistics' axes,
    ``dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)``;
    ``dbeta = sum(dout)``, ``dgamma = sum(dout * xhat)`` over the parameters' broadcast
    axes (Ioffe & Szegedy 2015; simplified as in CS231n's assignment 2). When gamma is
    constant over the statistics' axes (BatchNorm, InstanceNorm) it folds into per-group
    constants, ``dx = k dout + k' (x - mu) + k''``: two reductions and three passes.
    """
    if cache.fused:
        return _fused_backward(dout, cache)
    xhat, inv_std, weight, axes, param_axes = cache[:5]
    dweight = dbias = None
    if param_axes is not None:
        dbias = reduce_sum_keepdims(dout, param_axes)
        dweight = reduce_sum_keepdims(dout, param_axes, xhat)
    g = dout if weight is None else dout * weight
    mean_g = reduce_sum_keepdims(g, axes) / cache.count
    mean_gx = reduce_sum_keepdims(g, axes, xhat) / cache.count
    dx = xhat * -mean_gx
    dx += g
    dx -= mean_g
    dx *= inv_std
    return dx, dweight, dbias


def normalize_with_stats_forward(x, mean, var, weight=None, bias=None, eps=1e-5):
    """Standardize ``x`` with given statistics (BatchNorm at eval time): a per-channel affine map.

    ``out = gamma * (x - mean) / sqrt(var + eps) + beta``, computed as ``x * scale + shift``
    (two passes over ``x``). ``mean``/``var`` broadcast against ``x``. Returns ``(out, cache)``.
    """
    inv_std = 1.0 / namespace(x).sqrt(var + eps)
    scale = inv_std if weight is None else inv_std * weight
    out = x * scale
    out += -mean * scale if bias is None else bias - mean * scale
    return out, StatsCache(x, mean, inv_std, weight, _param_axes(x.ndim, weight, bias))


def normalize_with_stats_backward(dout, cache: StatsCache):
    """Backward of :func:`normalize_with_stats_forward`: ``(dx, dweight, dbias)``.

    The statistics are constants here, so ``dx = dout * gamma / sqrt(var + eps)`` and
    ``dgamma = sum(dout * (x - mean)) / sqrt(var + eps)`` (statistics per channel).
    """
    x, mean, inv_std, weight, param_axes = cache
    dweight = dbias = None
    if param_axes is not None:
        dbias = reduce_sum_keepdims(dout, param_axes)
        dweight = reduce_sum_keepdims(dout, param_axes, x - mean) * inv_std
    return dout * (inv_std if weight is None else inv_std * weight), dweight, dbias


def group_norm_forward(x, num_groups, weight=None, bias=None, eps=1e-5):
    """GroupNorm (Wu & He 2018): statistics per example over each group of channels and all positions.

    ``x`` is (N, C, ...) and ``weight``/``bias`` are (C,) or None. The channels are split
    into ``num_groups`` consecutive groups; a view of shape (N, G, C/G, ...) takes the
    statistics over its axes 2 and beyond. Returns ``(out, cache)``.
    """
    n, c = x.shape[:2]
    grouped = x.reshape((n, num_groups, c // num_groups, *x.shape[2:]))
    shape = (1, num_groups, c // num_groups) + (1,) * (x.ndim - 2)
    weight = None if weight is None else weight.reshape(shape)
    bias = None if bias is None else bias.reshape(shape)
    out, cache = normalize_forward(grouped, tuple(range(2, grouped.ndim)), weight, bias, eps)
    return out.reshape(x.shape), cache


def group_norm_backward(dout, cache: NormCache):
    """Backward of :func:`group_norm_forward`: ``(dx, dweight, dbias)`` with (C,) parameter grads."""
    dx, dweight, dbias = normalize_backward(dout.reshape(cache.centred.shape), cache)
    if dweight is not None:
        dweight = dweight.reshape(-1)
    if dbias is not None:
        dbias = dbias.reshape(-1)
    return dx.reshape(dout.shape), dweight, dbias


def _fused_backward(dout, cache: NormCache):
    centred, inv_std, weight, axes, param_axes = cache[:5]
    sum_dout = reduce_sum_keepdims(dout, axes)  # per statistics group
    sum_dout_xhat = reduce_sum_keepdims(dout, axes, centred) * inv_std
    dweight = dbias = None
    if param_axes is not None:
        extra = tuple(sorted(set(param_axes) - set(axes)))  # InstanceNorm: the batch axis; BatchNorm: none
        dbias = sum_dout.sum(axis=extra, keepdims=True)
        dweight = sum_dout_xhat.sum(axis=extra, keepdims=True)
    k = inv_std if weight is None else inv_std * weight
    dx = dout * k
    dx += centred * (-k * inv_std * sum_dout_xhat / cache.count)
    dx -= k * sum_dout / cache.count
    return dx, dweight, dbias


def _param_axes(ndim, weight, bias):
    """Axes along which the affine parameters broadcast (their gradients sum over them)."""
    param = weight if weight is not None else bias
    if param is None:
        return None
    shape = (1,) * (ndim - param.ndim) + tuple(param.shape)
    return tuple(axis for axis in range(ndim) if shape[axis] == 1)


def _count(shape, axes) -> int:
    count = 1
    for axis in axes:
        count *= shape[axis]
    return count
