"""Affine layer kernels: ``out = x @ W.T + b`` with W of shape (out_features, in_features)."""

from __future__ import annotations


def linear_forward(x, weight, bias=None):
    """Forward of an affine map.

    Parameters
    ----------
    x : (N, D) array
    weight : (M, D) array (PyTorch's layout, so state dicts map one to one)
    bias : (M,) array or None

    Returns
    -------
    out : (N, M) array, and the cache ``(x, weight)`` for the backward pass.
    """
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out, (x, weight)


def linear_backward(dout, cache, *, need_input=True, need_weight=True, need_bias=True):
    """Backward of :func:`linear_forward`.

    ``dx = dout @ W``, ``dW = dout.T @ x``, ``db = dout.sum(0)``. Gradients that are not
    needed (frozen weights, the data input) are returned as ``None`` and never computed.
    """
    x, weight = cache
    dx = None
    if need_input:
        # Hand dx back in the memory order x came in: after a batch-innermost conv stack,
        # Flatten's zero-copy view is column-major, and so the whole backward stays copy-free.
        column_major = x.flags.f_contiguous and not x.flags.c_contiguous
        dx = (weight.T @ dout.T).T if column_major else dout @ weight
    dweight = dout.T @ x if need_weight else None
    dbias = dout.sum(axis=0) if need_bias else None
    return dx, dweight, dbias
