"""Convolution layers: Conv1d and Conv2d, thin wrappers around ``functional/conv.py``."""

from __future__ import annotations

import math

import numpy as np

from babysit.backend import DEFAULT_DTYPE, as_float_dtype, as_rng
from babysit.errors import InputError
from babysit.functional import conv as kernels
from babysit.init import initialize
from babysit.nn.module import Module, Parameter, check_positive_int


def as_tuple(layer: str, name: str, value, ndim: int, minimum: int) -> tuple[int, ...]:
    """Constructor check: an int or a sequence of ``ndim`` ints, each >= ``minimum``; returned as a tuple."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * ndim
    if len(values) != ndim or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in values
    ):
        kind = "positive" if minimum == 1 else "non-negative"
        pair = "" if ndim == 1 else f" or a sequence of {ndim} {kind} ints"
        raise ValueError(f"{layer}: {name} must be a {kind} int{pair}, got {value!r}")
    return tuple(int(v) for v in values)


def describe(values: tuple) -> str:
    """``(3, 3) -> "3"``, ``(3, 5) -> "(3, 5)"``: the shortest faithful spelling for a repr."""
    return str(values[0]) if len(set(values)) == 1 else str(values)


def check_spatial(module: Module, x, kernel, stride, padding, dilation) -> None:
    """Raise an InputError naming ``module`` when the input is smaller than one (dilated) window."""
    spatial = x.shape[2:]
    sizes = [kernels.output_size(*args) for args in zip(spatial, kernel, stride, padding, dilation, strict=True)]
    if min(sizes) < 1:
        extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
        padded = tuple(s + 2 * p for s, p in zip(spatial, padding, strict=True))
        raise InputError(
            module.short_repr(),
            f"input of spatial size {tuple(spatial)} is too small: padded to {padded} it is smaller than "
            f"one window of {extent} (input shape {x.shape})",
        )


class _ConvNd(Module):
    """Shared body of Conv1d and Conv2d: ``spatial_dims`` and the kernels come from the subclass."""

    spatial_dims = 2

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0, dilation=1, init="he",
        bias: bool = True, bias_init: float = 0.0, rng=None, dtype=DEFAULT_DTYPE,
    ):
        super().__init__()
        name, ndim = type(self).__name__, self.spatial_dims
        check_positive_int(name, "in_channels", in_channels)
        check_positive_int(name, "out_channels", out_channels)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = as_tuple(name, "kernel_size", kernel_size, ndim, minimum=1)
        self.stride = as_tuple(name, "stride", stride, ndim, minimum=1)
        self.padding = as_tuple(name, "padding", padding, ndim, minimum=0)
        self.dilation = as_tuple(name, "dilation", dilation, ndim, minimum=1)
        dtype = as_float_dtype(dtype)
        taps = math.prod(self.kernel_size)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        weight = initialize(init, shape, self.in_channels * taps, self.out_channels * taps, as_rng(rng), dtype)
        self.weight = Parameter(weight, regularize=True)
        self.bias = Parameter(np.full(self.out_channels, bias_init, dtype=dtype)) if bias else None
        self._cache = None
        self._workspace: dict = {}  # persistent im2col buffers, reused while the input shape stays

    def extra_repr(self) -> str:
        text = f"{self.in_channels} -> {self.out_channels}, kernel_size={describe(self.kernel_size)}"
        for name, default in (("stride", 1), ("padding", 0), ("dilation", 1)):
            value = getattr(self, name)
            if value != (default,) * self.spatial_dims:
                text += f", {name}={describe(value)}"
        return text + ("" if self.bias is not None else ", bias=False")

    def forward(self, x):
        self.check_input(x, ndims=(self.spatial_dims + 2,), size=self.in_channels, what="channels",
                         dtype=self.weight.dtype)
        check_spatial(self, x, self.kernel_size, self.stride, self.padding, self.dilation)
        bias = None if self.bias is None else self.bias.data
        out, self._cache = self.forward_kernel(x, self.weight.data, bias, self.stride, self.padding, self.dilation,
                                               workspace=self._workspace)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        dx, dweight, dbias = self.backward_kernel(
            dout, self._cache,
            need_input=self.needs_input_grad,
            need_weight=self.weight.requires_grad,
            need_bias=self.bias is not None and self.bias.requires_grad,
            workspace=self._workspace,
        )
        if dweight is not None:
            self.weight.accumulate_grad(dweight)
        if dbias is not None:
            self.bias.accumulate_grad(dbias)
        return dx


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over (N, C_in, H, W) inputs.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or pair of ints (positive)
    padding : int or pair of ints (non-negative): zeros added on each side
    init : str or callable
        Weight initializer (:mod:`babysit.init`), with ``fan_in = C_in * kh * kw`` and
        ``fan_out = C_out * kh * kw``; He normal by default, right for ReLU.
    bias : bool
    bias_init : float
        Starting value of the bias.
    rng : None, int or numpy Generator
    dtype : float32 (default) or float64

    Shapes: input (N, C_in, H, W), output (N, C_out, H_out, W_out) with
    ``H_out = floor((H + 2*padding - dilation*(kh - 1) - 1) / stride) + 1``; ``weight`` is
    (C_out, C_in, kh, kw) and ``bias`` (C_out,), as in PyTorch.

    Notes
    -----
    ``out[n, o] = b[o] + sum_c W[o, c] (*) x[n, c]`` computed as im2col plus one GEMM on a
    batch-innermost layout (see :mod:`babysit.functional.conv`). The output is a view of
    (C_out, H_out, W_out, N) memory; ReLU and pooling keep that layout, so a conv stack
    converts layouts only at its edges.
    """

    spatial_dims = 2
    forward_kernel = staticmethod(kernels.conv2d_forward)
    backward_kernel = staticmethod(kernels.conv2d_backward)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) inputs, e.g. MNIST-1D sequences.

    Same parameters as :class:`Conv2d` with ints instead of pairs; ``weight`` is
    (C_out, C_in, k), ``L_out = floor((L + 2*padding - dilation*(k - 1) - 1) / stride) + 1``.
    """

    spatial_dims = 1
    forward_kernel = staticmethod(kernels.conv1d_forward)
    backward_kernel = staticmethod(kernels.conv1d_backward)
