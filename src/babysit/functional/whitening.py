"""Decorrelated BatchNorm kernels (Huang et al. 2018): ZCA-whiten the batch, then scale and shift.

The channels of an (N, C, ...) input are split into ``G`` groups of ``k = C / G``
consecutive channels; each group is a (k, m) matrix with one column per value of the
batch and spatial positions (m = N * H * W). The small (k, k) covariance work runs in
float64 whatever the input dtype: it costs nothing next to the (k, k) x (k, m) products
and keeps ``Sigma^(-1/2)`` accurate for float32 inputs.
"""

from __future__ import annotations

from typing import NamedTuple

from babysit.backend import xp as namespace
from babysit.functional.norm import channel_shape, reduce_sum


class WhiteningCache(NamedTuple):
    """What :func:`whiten_backward` needs; ``mean`` and ``whitening`` feed running averages."""

    centred: object  # (G, k, m) batch minus its mean
    xhat: object  # (N, C, ...) whitened input, for the scale's gradient
    whitening: object  # (G, k, k) Sigma^(-1/2) in the input dtype
    eigenvalues: object  # (G, k) float64
    eigenvectors: object  # (G, k, k) float64
    weight: object
    has_bias: bool
    mean: object  # (C,)


class FixedWhiteningCache(NamedTuple):
    """What :func:`whiten_with_stats_backward` needs."""

    xhat: object
    whitening: object
    weight: object
    has_bias: bool


def whiten_forward(x, num_groups, weight=None, bias=None, eps=1e-5):
    """ZCA-whiten ``x`` with its own statistics, group by group; returns ``(out, cache)``.

    Parameters
    ----------
    x : (N, C) or (N, C, L) or (N, C, H, W) array
    num_groups : int
        Number of channel groups G (C must be divisible by it); each is whitened alone.
    weight, bias : (C,) arrays or None
        Per-channel scale and shift applied after whitening.
    eps : float
        Added to the covariance's diagonal.

    Notes
    -----
    Per group, with X the (k, m) matrix: ``mu = X 1 / m``, ``Xc = X - mu``,
    ``Sigma = Xc Xc^T / m + eps I = D diag(lambda) D^T``,
    ``W = Sigma^(-1/2) = D diag(lambda^(-1/2)) D^T`` and ``Xhat = W Xc``, whose covariance
    is the identity up to eps. ZCA (rather than PCA) whitening rotates back into the
    input's coordinates, so each output stays tied to its own input channel; the paper
    shows that PCA whitening's batch-to-batch "stochastic axis swapping" hurts training.
    """
    xp = namespace(x)
    columns = _to_groups(x, num_groups)
    m = columns.shape[2]
    mean = columns.mean(axis=2, keepdims=True)
    centred = columns - mean
    covariance = (centred @ centred.swapaxes(1, 2)).astype(xp.float64) / m
    covariance += eps * xp.eye(covariance.shape[1])
    eigenvalues, eigenvectors = xp.linalg.eigh(covariance)
    # Exactly, every eigenvalue is >= eps; clipping only removes rounding below it.
    eigenvalues = xp.maximum(eigenvalues, eps)
    whitening = ((eigenvectors / xp.sqrt(eigenvalues)[:, None, :]) @ eigenvectors.swapaxes(1, 2)).astype(x.dtype)
    xhat = _from_groups(whitening @ centred, x.shape)
    out = _scale_shift(xhat, weight, bias)
    cache = WhiteningCache(centred, xhat, whitening, eigenvalues, eigenvectors, weight, bias is not None,
                           mean.reshape(-1))
    return out, cache


def whiten_backward(dout, cache: WhiteningCache):
    """Backward of :func:`whiten_forward`: ``(dx, dweight, dbias)``.

    Notes
    -----
    Per group, with ``G = dL/dXhat`` (k, m) and ``s = sqrt(lambda)``:
    ``dL/dW = G Xc^T``; through the eigendecomposition (Daleckii-Krein),
    ``dL/dSigma = S = D (F * (D^T (dL/dW) D)) D^T`` with
    ``F_ij = (lambda_i^(-1/2) - lambda_j^(-1/2)) / (lambda_i - lambda_j) = -1 / (s_i s_j (s_i + s_j))``
    (and ``-1 / (2 s_i^3)`` on the diagonal, the same formula); then
    ``dX = W (G - mean(G)) + (S + S^T) Xc / m``. The paper's formula goes through
    ``dL/dD`` with factors ``1 / (lambda_i - lambda_j)``; the divided differences give the
    same gradient with those factors cancelled in closed form, so it stays finite when
    eigenvalues coincide.
    """
    xp = namespace(dout)
    centred, xhat, whitening, eigenvalues, eigenvectors, weight, has_bias, _ = cache
    dweight, dbias = _scale_shift_grads(dout, xhat, weight, has_bias)
    grad = _to_groups(dout if weight is None else dout * weight.reshape(channel_shape(dout.ndim, -1)),
                      whitening.shape[0])
    m = grad.shape[2]
    root = xp.sqrt(eigenvalues)
    divided_differences = -1.0 / (root[:, :, None] * root[:, None, :] * (root[:, :, None] + root[:, None, :]))
    dwhitening = (grad @ centred.swapaxes(1, 2)).astype(xp.float64)
    rotated = eigenvectors.swapaxes(1, 2) @ dwhitening @ eigenvectors
    dcovariance = eigenvectors @ (divided_differences * rotated) @ eigenvectors.swapaxes(1, 2)
    symmetric = ((dcovariance + dcovariance.swapaxes(1, 2)) / m).astype(dout.dtype)
    dcolumns = whitening @ (grad - grad.mean(axis=2, keepdims=True))
    dcolumns += symmetric @ centred
    return _from_groups(dcolumns, dout.shape), dweight, dbias


def whiten_with_stats_forward(x, mean, whitening, weight=None, bias=None):
    """Whiten with fixed statistics (eval mode): ``Xhat = W (X - mean)`` per group, then scale and shift.

    ``mean`` is (C,) and ``whitening`` (G, k, k), e.g. running averages. Returns ``(out, cache)``.
    """
    centred = _to_groups(x, whitening.shape[0]) - mean.reshape(whitening.shape[0], -1, 1)
    xhat = _from_groups(whitening @ centred, x.shape)
    return _scale_shift(xhat, weight, bias), FixedWhiteningCache(xhat, whitening, weight, bias is not None)


def whiten_with_stats_backward(dout, cache: FixedWhiteningCache):
    """Backward of :func:`whiten_with_stats_forward`: a linear map, so ``dX = W^T G``."""
    xhat, whitening, weight, has_bias = cache
    dweight, dbias = _scale_shift_grads(dout, xhat, weight, has_bias)
    grad = _to_groups(dout if weight is None else dout * weight.reshape(channel_shape(dout.ndim, -1)),
                      whitening.shape[0])
    return _from_groups(whitening.swapaxes(1, 2) @ grad, dout.shape), dweight, dbias


def _to_groups(x, num_groups):
    """(N, C, ...) -> (G, C/G, N * ...): channels first, one column per value of a channel."""
    channels_first = namespace(x).moveaxis(x, 1, 0)
    return channels_first.reshape(num_groups, x.shape[1] // num_groups, -1)


def _from_groups(columns, shape):
    """Inverse of :func:`_to_groups`: a (N, C, ...) view of the (G, k, m) array."""
    channels_first = columns.reshape((shape[1], shape[0], *shape[2:]))
    return namespace(columns).moveaxis(channels_first, 0, 1)


def _scale_shift(xhat, weight, bias):
    shape = channel_shape(xhat.ndim, xhat.shape[1])
    if weight is None:
        return xhat if bias is None else xhat + bias.reshape(shape)
    out = xhat * weight.reshape(shape)
    if bias is not None:
        out += bias.reshape(shape)
    return out


def _scale_shift_grads(dout, xhat, weight, has_bias):
    axes = (0, *range(2, dout.ndim))
    dweight = reduce_sum(dout, axes, xhat) if weight is not None else None
    dbias = reduce_sum(dout, axes) if has_bias else None
    return dweight, dbias
