"""Layer normalization (Ba, Kiros & Hinton 2016): statistics per example over its trailing axes."""

from __future__ import annotations

import numpy as np

from babysit import functional as F
from babysit.backend import DEFAULT_DTYPE, as_float_dtype
from babysit.errors import InputError
from babysit.nn.batchnorm import accumulate_affine_grads, check_eps_momentum
from babysit.nn.module import Module, Parameter, check_positive_int


class LayerNorm(Module):
    """Normalize each example over its last ``len(normalized_shape)`` axes.

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The trailing shape to normalize over: ``D`` for (N, D) input, ``(C, H, W)`` for
        a whole feature map.
    eps : float
    elementwise_affine : bool
        Learn a ``weight`` (starts at 1) and ``bias`` (starts at 0) of shape
        ``normalized_shape``, one per normalized element, as in PyTorch.
    bias : bool
        With ``elementwise_affine``, whether to learn the bias too (PyTorch's ``bias``).
    dtype : float32 or float64

    Notes
    -----
    ``xhat = (x - mean) / sqrt(var + eps)`` with the biased variance over the normalized
    axes of each example, ``out = weight * xhat + bias``. The statistics do not depend on
    the rest of the batch, so train and eval mode compute the same thing and a batch of
    one is fine.

    References
    ----------
    Ba, Kiros & Hinton, "Layer Normalization", 2016.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=DEFAULT_DTYPE):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        if not shape:
            raise ValueError("LayerNorm: normalized_shape must name at least one axis, got ()")
        for size in shape:
            check_positive_int("LayerNorm", "each entry of normalized_shape", size)
        check_eps_momentum("LayerNorm", eps, None)
        dtype = as_float_dtype(dtype)
        self.normalized_shape = tuple(int(size) for size in shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype)) if elementwise_affine and bias else None
        self._cache = None

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def forward(self, x):
        k = len(self.normalized_shape)
        self.check_input(x, ndims=tuple(range(k + 1, k + 4)),
                         dtype=None if self.weight is None else self.weight.dtype)
        if x.shape[-k:] != self.normalized_shape:
            raise InputError(self.short_repr(), f"expected input whose trailing axes are normalized_shape "
                             f"{self.normalized_shape}, got shape {x.shape}")
        weight = None if self.weight is None else self.weight.data
        bias = None if self.bias is None else self.bias.data
        out, self._cache = F.normalize_forward(x, tuple(range(x.ndim - k, x.ndim)), weight, bias, self.eps)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        dx, dweight, dbias = F.normalize_backward(dout, self._cache)
        accumulate_affine_grads(self, dweight, dbias)
        return dx
