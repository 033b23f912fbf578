"""Linear (fully connected) layer."""

from __future__ import annotations

import numpy as np

from babysit.backend import DEFAULT_DTYPE, as_float_dtype, as_rng
from babysit.functional.linear import linear_backward, linear_forward
from babysit.init import initialize
from babysit.nn.module import Module, Parameter, check_positive_int


class Linear(Module):
    """Affine layer ``out = x @ W.T + b``.

    Parameters
    ----------
    in_features, out_features : int
    init : str or callable
        Weight initializer (see :mod:`babysit.init`); He normal by default, right for ReLU.
    bias : bool
    bias_init : float
        Starting value of the bias; a small positive one (0.01) keeps ReLUs alive at the start.
    rng : None, int or numpy Generator

    Shapes: input (N, in_features), output (N, out_features); ``weight`` is
    (out_features, in_features) as in PyTorch.
    """

    def __init__(
        self, in_features: int, out_features: int, *, init="he", bias: bool = True, bias_init: float = 0.0,
        rng=None, dtype=DEFAULT_DTYPE,
    ):
        super().__init__()
        check_positive_int("Linear", "in_features", in_features)
        check_positive_int("Linear", "out_features", out_features)
        dtype = as_float_dtype(dtype)
        self.in_features, self.out_features = int(in_features), int(out_features)
        shape = (self.out_features, self.in_features)
        weight = initialize(init, shape, self.in_features, self.out_features, as_rng(rng), dtype)
        self.weight = Parameter(weight, regularize=True)
        self.bias = Parameter(np.full(self.out_features, bias_init, dtype=dtype)) if bias else None
        self._cache = None

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}" + ("" if self.bias is not None else ", bias=False")

    def forward(self, x):
        self.check_input(x, ndims=(2,), size=self.in_features, dtype=self.weight.dtype)
        out, self._cache = linear_forward(x, self.weight.data, None if self.bias is None else self.bias.data)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        dx, dweight, dbias = linear_backward(
            dout, self._cache,
            need_input=self.needs_input_grad,
            need_weight=self.weight.requires_grad,
            need_bias=self.bias is not None and self.bias.requires_grad,
        )
        if dweight is not None:
            self.weight.accumulate_grad(self.weight_gradient(dweight))
        if dbias is not None:
            self.bias.accumulate_grad(dbias)
        return dx

    def weight_gradient(self, dweight):
        """The gradient that reaches ``weight`` from the dense ``dL/dW``; DropConnect masks it."""
        return dweight

