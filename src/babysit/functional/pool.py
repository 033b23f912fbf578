"""Pooling kernels on the batch-innermost layout of :mod:`babysit.functional.conv`.

A window of a pooling layer is a set of kernel taps, and each tap is one strided view of
the (C, H, W, N) input (runs of N contiguous numbers). Max and average pooling reduce
over those views with ``maximum`` / ``+`` one tap at a time, never through a reduction
over a small window axis. Public arrays are (N, C, L) / (N, C, H, W) as in PyTorch, and
outputs are views of batch-innermost memory, like the convolution's.

Max pooling gives each window's gradient to exactly one element: the first maximum in
row-major window order (PyTorch's choice), found in the backward pass from the equality
of each tap with the output, so that the forward pass stays a plain running maximum.
"""

from __future__ import annotations

from babysit.backend import xp as namespace
from babysit.functional.conv import as_pair, as_single, batch_first, batch_last, plan

_ALL = slice(None)


def pool_geometry(spatial, kernel_size, stride=None, padding=0):
    """The tap plan of a pooling window; ``stride`` defaults to the kernel size."""
    kernel = as_pair(kernel_size)
    stride = kernel if stride is None else as_pair(stride)
    padding = as_pair(padding)
    if any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
        raise ValueError(f"pooling padding {padding} must be at most half the kernel size {kernel}")
    return plan(tuple(spatial), kernel, stride, padding, (1, 1))


# ----------------------------------------------------------------------- max pooling
def max_pool_forward_internal(x, geometry):
    """Max over the taps of each window; x (C, H, W, N) -> (C, H_out, W_out, N). Padding is -inf."""
    xp = namespace(x)
    taps = geometry.taps
    if geometry.full:
        first = x[(_ALL, *taps[0].inp)]
        out = xp.maximum(first, x[(_ALL, *taps[1].inp)]) if len(taps) > 1 else first.copy()
        for tap in taps[2:]:
            xp.maximum(out, x[(_ALL, *tap.inp)], out=out)
    else:
        out = xp.full((x.shape[0], *geometry.out_size, x.shape[-1]), -xp.inf, dtype=x.dtype)
        for tap in taps:
            region = out[(_ALL, *tap.out)]
            xp.maximum(region, x[(_ALL, *tap.inp)], out=region)
    return out, (x, out, geometry)


def max_pool_backward_internal(dout, cache):
    """Route each window's gradient to its first maximum (row-major window order).

    ``taken`` marks the windows already served: a tap equal to the window's maximum takes
    the gradient only where no earlier tap did, so a later tied tap gets nothing.
    """
    x, out, geometry = cache
    if geometry.tiles:
        return _max_pool_backward_tiled(dout, x, out, geometry.kernel)
    xp = namespace(dout)
    dx = xp.zeros(x.shape, dtype=dout.dtype)
    taken = xp.zeros(out.shape, dtype=bool)
    last = len(geometry.taps) - 1
    for k, tap in enumerate(geometry.taps):
        o, i = (_ALL, *tap.out), (_ALL, *tap.inp)
        seen = taken[o]
        if k == last and geometry.full:
            hit = ~seen  # every window not served yet has its maximum at the last tap
        else:
            hit = x[i] == out[o]
            hit &= ~seen
            seen |= hit
        dx[i] += dout[o] * hit
    return dx


def _max_pool_backward_tiled(dout, x, out, kernel):
    """Windows that tile the input exactly: x is (C, H_out, kh, W_out, kw, N) and one broadcast
    comparison and one broadcast product give the whole gradient (the inner loops run over N)."""
    xp = namespace(dout)
    c, h_out, w_out, n = out.shape
    (kh, kw), window = kernel, (_ALL, _ALL, None, _ALL, None, _ALL)
    hits = x.reshape(c, h_out, kh, w_out, kw, n) == out[window]
    taken = hits[:, :, 0, :, 0].copy()
    for a in range(kh):
        for b in range(kw):
            if (a, b) == (0, 0):
                continue
            if (a, b) == (kh - 1, kw - 1):
                xp.logical_not(taken, out=hits[:, :, a, :, b])  # not served yet: the maximum is the last tap
            else:
                hit = hits[:, :, a, :, b]
                hit &= ~taken
                taken |= hit
    dx = xp.empty(hits.shape, dtype=dout.dtype)
    dx[...] = dout[window]
    dx *= hits  # a copy and an in-place product beat one float-by-bool product here
    return dx.reshape(x.shape)


# ------------------------------------------------------------------- average pooling
def avg_pool_forward_internal(x, geometry):
    """Mean over each window; padding counts as zeros (PyTorch's ``count_include_pad=True``)."""
    xp = namespace(x)
    taps = geometry.taps
    if geometry.full:
        first = x[(_ALL, *taps[0].inp)]
        out = first + x[(_ALL, *taps[1].inp)] if len(taps) > 1 else first.copy()
        for tap in taps[2:]:
            out += x[(_ALL, *tap.inp)]
    else:
        out = xp.zeros((x.shape[0], *geometry.out_size, x.shape[-1]), dtype=x.dtype)
        for tap in taps:
            out[(_ALL, *tap.out)] += x[(_ALL, *tap.inp)]
    window = geometry.kernel[0] * geometry.kernel[1]
    out *= 1.0 / window
    return out, (x.shape, geometry, window)


def avg_pool_backward_internal(dout, cache):
    """Each input of a window gets ``dout / window_size``."""
    shape, geometry, window = cache
    xp = namespace(dout)
    share = dout * (1.0 / window)
    if geometry.tiles:  # one broadcast write: dx is (C, H_out, kh, W_out, kw, N)
        c, h_out, w_out, n = share.shape
        dx = xp.empty((c, h_out, geometry.kernel[0], w_out, geometry.kernel[1], n), dtype=dout.dtype)
        dx[...] = share[:, :, None, :, None, :]
        return dx.reshape(shape)
    dx = xp.zeros(shape, dtype=dout.dtype)
    for tap in geometry.taps:
        dx[(_ALL, *tap.inp)] += share[(_ALL, *tap.out)]
    return dx


# ------------------------------------------------------------------ public functions
def _pool2d(forward, x, kernel_size, stride, padding):
    internal = batch_last(x)
    out, cache = forward(internal, pool_geometry(internal.shape[1:3], kernel_size, stride, padding))
    return batch_first(out), cache


def _pool1d(forward, x, kernel_size, stride, padding):
    internal = batch_last(x)[:, None]
    stride = None if stride is None else (1, as_single(stride))
    geometry = pool_geometry(internal.shape[1:3], (1, as_single(kernel_size)), stride, (0, as_single(padding)))
    out, cache = forward(internal, geometry)
    return batch_first(out[:, 0]), cache


def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """Max pooling of x (N, C, H, W) -> (N, C, H_out, W_out); ``stride`` defaults to ``kernel_size``.

    ``H_out = floor((H + 2*padding - kernel) / stride) + 1``; padded positions never win.
    """
    return _pool2d(max_pool_forward_internal, x, kernel_size, stride, padding)


def max_pool2d_backward(dout, cache):
    """Gradient of :func:`max_pool2d_forward`: each window's to its first maximum."""
    return batch_first(max_pool_backward_internal(batch_last(dout), cache))


def max_pool1d_forward(x, kernel_size, stride=None, padding=0):
    """Max pooling of x (N, C, L) -> (N, C, L_out)."""
    return _pool1d(max_pool_forward_internal, x, kernel_size, stride, padding)


def max_pool1d_backward(dout, cache):
    return batch_first(max_pool_backward_internal(batch_last(dout)[:, None], cache)[:, 0])


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """Average pooling of x (N, C, H, W); padded positions count as zeros."""
    return _pool2d(avg_pool_forward_internal, x, kernel_size, stride, padding)


def avg_pool2d_backward(dout, cache):
    return batch_first(avg_pool_backward_internal(batch_last(dout), cache))


def avg_pool1d_forward(x, kernel_size, stride=None, padding=0):
    """Average pooling of x (N, C, L)."""
    return _pool1d(avg_pool_forward_internal, x, kernel_size, stride, padding)


def avg_pool1d_backward(dout, cache):
    return batch_first(avg_pool_backward_internal(batch_last(dout)[:, None], cache)[:, 0])


def global_avg_pool_forward(x):
    """Mean over every spatial axis: (N, C, *S) -> (N, C)."""
    internal = batch_last(x)
    c, n = internal.shape[0], internal.shape[-1]
    size = internal.size // (c * n)
    out = internal.reshape(c, size, n).sum(axis=1)
    out *= 1.0 / size
    return out.T, (x.shape, size)


def global_avg_pool_backward(dout, cache):
    """Every position of a channel gets ``dout / (number of positions)``; dx in batch-innermost memory."""
    shape, size = cache
    xp = namespace(dout)
    spatial = shape[2:]
    dx = xp.empty((shape[1], *spatial, shape[0]), dtype=dout.dtype)
    dx[...] = (dout.T * (1.0 / size)).reshape(shape[1], *(1,) * len(spatial), shape[0])
    return batch_first(dx)
