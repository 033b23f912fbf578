"""Activation layers: thin wrappers around the kernels in ``functional/activations.py``."""

from __future__ import annotations

import numpy as np

from babysit import functional as F
from babysit.backend import DEFAULT_DTYPE, as_float_dtype
from babysit.nn.linear import Linear
from babysit.nn.module import Module, Parameter, check_positive_int


class _Elementwise(Module):
    """An activation with no parameters: ``forward_kernel`` and ``backward_kernel`` do the work."""

    forward_kernel = staticmethod(lambda x: (x, None))
    backward_kernel = staticmethod(lambda dout, cache: dout)

    def __init__(self):
        super().__init__()
        self._cache = None

    def forward(self, x):
        out, self._cache = self.forward_kernel(x)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        return self.backward_kernel(dout, self._cache)


class ReLU(_Elementwise):
    """``max(0, x)``. Does not saturate for x > 0; a unit that is never positive is dead."""

    forward_kernel = staticmethod(F.relu_forward)
    backward_kernel = staticmethod(F.relu_backward)


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``. Saturates and is not zero-centred: the lecture's cautionary tale."""

    forward_kernel = staticmethod(F.sigmoid_forward)
    backward_kernel = staticmethod(F.sigmoid_backward)


class Tanh(_Elementwise):
    """``tanh(x)``: zero-centred, but saturates like the sigmoid."""

    forward_kernel = staticmethod(F.tanh_forward)
    backward_kernel = staticmethod(F.tanh_backward)


class LeakyReLU(_Elementwise):
    """``x`` if x > 0 else ``negative_slope * x``."""

    backward_kernel = staticmethod(F.leaky_relu_backward)

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def forward(self, x):
        out, self._cache = F.leaky_relu_forward(x, self.negative_slope)
        return out


class ELU(_Elementwise):
    """``x`` if x > 0 else ``alpha * (exp(x) - 1)``: negative outputs push mean activations to 0."""

    backward_kernel = staticmethod(F.elu_backward)

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        if not alpha > 0:
            raise ValueError(f"ELU: alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def forward(self, x):
        out, self._cache = F.elu_forward(x, self.alpha)
        return out


class PReLU(Module):
    """Parametric ReLU, ``max(a*x, x)``, with the slope ``a`` learned by backprop.

    ``num_parameters=1`` shares one slope; ``num_parameters=C`` learns one per channel
    (axis 1), as in PyTorch. Slopes start at ``init`` (0.25 in He et al. 2015) and are
    stored as ``weight`` (PyTorch's name, so state dicts map one to one).
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=DEFAULT_DTYPE):
        super().__init__()
        check_positive_int("PReLU", "num_parameters", num_parameters)
        self.num_parameters = int(num_parameters)
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=as_float_dtype(dtype)))
        self._cache = None

    def get_config(self) -> dict:
        return {"num_parameters": self.num_parameters}

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

    def forward(self, x):
        if self.num_parameters > 1:
            self.check_input(x, ndims=(2, 3, 4), size=self.num_parameters, what="channels")
        out, self._cache = F.prelu_forward(x, self.weight.data)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        dx, dslope = F.prelu_backward(dout, self._cache)
        if self.weight.requires_grad:
            self.weight.accumulate_grad(dslope.astype(self.weight.dtype, copy=False))
        return dx


class Maxout(Module):
    """Maxout unit (Goodfellow et al. 2013): ``max_k (W_k x + b_k)`` over ``pieces`` affine maps.

    Generalises ReLU and leaky ReLU and never dies, at ``pieces`` times the parameters.
    ``weight`` is (pieces * out_features, in_features); rows ``k*M:(k+1)*M`` are piece k.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 2, *, init="xavier", rng=None,
                 dtype=DEFAULT_DTYPE):
        super().__init__()
        check_positive_int("Maxout", "pieces", pieces)
        self.pieces, self.out_features, self.in_features = int(pieces), int(out_features), int(in_features)
        self.affine = Linear(in_features, pieces * out_features, init=init, rng=rng, dtype=dtype)
        self._cache = None

    def get_config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features, "pieces": self.pieces}

    @property
    def weight(self) -> Parameter:
        return self.affine.weight

    @property
    def bias(self) -> Parameter:
        return self.affine.bias

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, pieces={self.pieces}"

    def forward(self, x):
        self.check_input(x, ndims=(2,), size=self.in_features, dtype=self.weight.dtype)
        z = self.affine(x).reshape(x.shape[0], self.pieces, self.out_features)
        out, self._cache = F.maxout_forward(z, self.pieces)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        self.affine.needs_input_grad = self.needs_input_grad
        dz = F.maxout_backward(dout, self._cache)
        return self.affine.backward(dz.reshape(dout.shape[0], -1))
