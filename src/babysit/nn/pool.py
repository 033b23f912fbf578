"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d and GlobalAvgPool, around ``functional/pool.py``."""

from __future__ import annotations

from babysit.functional import pool as kernels
from babysit.nn.conv import as_tuple, check_spatial, describe
from babysit.nn.module import Module


class _PoolNd(Module):
    """Shared body of the windowed pools: kernel_size, stride (default: kernel_size), padding."""

    spatial_dims = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name, ndim = type(self).__name__, self.spatial_dims
        self.kernel_size = as_tuple(name, "kernel_size", kernel_size, ndim, minimum=1)
        self.stride = self.kernel_size if stride is None else as_tuple(name, "stride", stride, ndim, minimum=1)
        self.padding = as_tuple(name, "padding", padding, ndim, minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                f"{name}: padding must be at most half of kernel_size, got padding={padding!r} "
                f"for kernel_size={kernel_size!r}"
            )
        self._cache = None

    def extra_repr(self) -> str:
        text = f"kernel_size={describe(self.kernel_size)}"
        if self.stride != self.kernel_size:
            text += f", stride={describe(self.stride)}"
        if any(self.padding):
            text += f", padding={describe(self.padding)}"
        return text

    def forward(self, x):
        self.check_input(x, ndims=(self.spatial_dims + 2,))
        check_spatial(self, x, self.kernel_size, self.stride, self.padding, (1,) * self.spatial_dims)
        out, self._cache = self.forward_kernel(x, self.kernel_size, self.stride, self.padding)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        return self.backward_kernel(dout, self._cache)


class MaxPool2d(_PoolNd):
    """Max over each ``kernel_size`` window of (N, C, H, W), moved by ``stride`` (default: kernel_size).

    Padding (at most half the kernel) is -inf: it never wins. The gradient of a window goes
    to exactly one element, its first maximum in row-major window order, as in PyTorch.
    """

    spatial_dims = 2
    forward_kernel = staticmethod(kernels.max_pool2d_forward)
    backward_kernel = staticmethod(kernels.max_pool2d_backward)


class MaxPool1d(_PoolNd):
    """Max over each window of (N, C, L); see :class:`MaxPool2d`."""

    spatial_dims = 1
    forward_kernel = staticmethod(kernels.max_pool1d_forward)
    backward_kernel = staticmethod(kernels.max_pool1d_backward)


class AvgPool2d(_PoolNd):
    """Mean over each ``kernel_size`` window of (N, C, H, W); padding counts as zeros
    (PyTorch's ``count_include_pad=True``)."""

    spatial_dims = 2
    forward_kernel = staticmethod(kernels.avg_pool2d_forward)
    backward_kernel = staticmethod(kernels.avg_pool2d_backward)


class AvgPool1d(_PoolNd):
    """Mean over each window of (N, C, L); see :class:`AvgPool2d`."""

    spatial_dims = 1
    forward_kernel = staticmethod(kernels.avg_pool1d_forward)
    backward_kernel = staticmethod(kernels.avg_pool1d_backward)


class GlobalAvgPool(Module):
    """Mean over every spatial position: (N, C, L) or (N, C, H, W) -> (N, C).

    The usual head of an all-convolutional network (Lin et al. 2013, "Network in Network"):
    one number per channel, whatever the input size.
    """

    def __init__(self):
        super().__init__()
        self._cache = None

    def forward(self, x):
        self.check_input(x, ndims=(3, 4))
        out, self._cache = kernels.global_avg_pool_forward(x)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError("GlobalAvgPool: backward called before forward")
        return kernels.global_avg_pool_backward(dout, self._cache)
