"""Group normalization (Wu & He 2018): statistics per example over groups of channels."""

from __future__ import annotations

import numpy as np

from babysit import functional as F
from babysit.backend import DEFAULT_DTYPE, as_float_dtype
from babysit.nn.batchnorm import accumulate_affine_grads, check_eps_momentum
from babysit.nn.module import Module, Parameter, check_positive_int


class GroupNorm(Module):
    """Split the C channels into ``num_groups`` groups and normalize each example's group.

    Parameters
    ----------
    num_groups : int
        G; it must divide ``num_channels``. G = 1 normalizes over all channels and
        positions (LayerNorm over (C, H, W)); G = C is InstanceNorm with affine parameters.
    num_channels : int
    eps : float
    affine : bool
        Learn a per-channel ``weight`` (starts at 1) and ``bias`` (starts at 0).
    dtype : float32 or float64

    Notes
    -----
    For example n and group g: ``xhat = (x - mean_ng) / sqrt(var_ng + eps)`` with the
    biased variance over the group's C/G channels and all positions, then
    ``out = weight_c * xhat + bias_c``. Input (N, C), (N, C, L) or (N, C, H, W).
    Independent of the batch: the same in train and eval mode.

    References
    ----------
    Wu & He, "Group Normalization", ECCV 2018.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype=DEFAULT_DTYPE):
        super().__init__()
        check_positive_int("GroupNorm", "num_groups", num_groups)
        check_positive_int("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        check_eps_momentum("GroupNorm", eps, None)
        dtype = as_float_dtype(dtype)
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps = float(eps)
        self.affine = bool(affine)
        self.weight = Parameter(np.ones(self.num_channels, dtype)) if self.affine else None
        self.bias = Parameter(np.zeros(self.num_channels, dtype)) if self.affine else None
        self._cache = None

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def forward(self, x):
        self.check_input(x, ndims=(2, 3, 4), size=self.num_channels, what="channels",
                         dtype=None if self.weight is None else self.weight.dtype)
        weight = None if self.weight is None else self.weight.data
        bias = None if self.bias is None else self.bias.data
        out, self._cache = F.group_norm_forward(x, self.num_groups, weight, bias, self.eps)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        dx, dweight, dbias = F.group_norm_backward(dout, self._cache)
        accumulate_affine_grads(self, dweight, dbias)
        return dx
