"""Decorrelated Batch Normalization (Huang et al. 2018): ZCA whitening of the mini-batch."""

from __future__ import annotations

import numpy as np

from babysit import functional as F
from babysit.backend import DEFAULT_DTYPE, as_float_dtype
from babysit.nn.batchnorm import (
    accumulate_affine_grads,
    check_eps_momentum,
    require_two_values,
    update_running_averages,
)
from babysit.nn.module import Module, Parameter, check_positive_int


class DecorrelatedBatchNorm(Module):
    """Whiten each mini-batch so that its channels are uncorrelated with unit variance.

    Parameters
    ----------
    num_features : int
        C, the number of features or channels of (N, C), (N, C, L) or (N, C, H, W) input.
    group_size : int or None
        Whiten groups of this many consecutive channels separately (it must divide
        ``num_features``); None whitens all C together. Groups keep the k x k
        eigendecompositions cheap and well conditioned for wide layers, as in the paper.
    eps : float
        Added to the covariance's diagonal.
    momentum : float or None
        Weight of the current batch in the running mean and running whitening matrix;
        None gives the cumulative average, as in :class:`BatchNorm1d`.
    affine : bool
        Learn a per-channel ``weight`` (starts at 1) and ``bias`` (starts at 0) applied after
        whitening, as the paper does.
    dtype : float32 or float64

    Notes
    -----
    Train mode, per group of k channels with the batch as a (k, m) matrix X (m = N * H * W):
    ``Sigma = (X - mu)(X - mu)^T / m + eps I = D diag(lambda) D^T`` (biased covariance),
    ``xhat = D diag(lambda^(-1/2)) D^T (X - mu)`` (ZCA), ``out = weight * xhat + bias``.
    The output's covariance over the batch is the identity (up to eps); BatchNorm only
    makes the diagonal 1. With m < k the covariance is singular and only eps keeps it
    invertible: use batches with many more values per channel than k.
    Eval mode uses running averages of ``mu`` and of the whitening matrix itself,
    ``running = (1 - momentum) * running + momentum * batch``, as the authors' code does,
    which makes the layer a fixed affine map. The backward pass goes through the
    eigendecomposition; see :func:`babysit.functional.whitening.whiten_backward`.

    References
    ----------
    Huang, Yang, Lang & Deng, "Decorrelated Batch Normalization", CVPR 2018.
    """

    buffer_names = ("running_mean", "running_whitening", "num_batches_tracked")

    def __init__(self, num_features: int, group_size: int | None = None, eps: float = 1e-5,
                 momentum: float | None = 0.1, affine: bool = True, dtype=DEFAULT_DTYPE):
        super().__init__()
        check_positive_int("DecorrelatedBatchNorm", "num_features", num_features)
        group_size = num_features if group_size is None else group_size
        check_positive_int("DecorrelatedBatchNorm", "group_size", group_size)
        if num_features % group_size:
            raise ValueError(f"DecorrelatedBatchNorm: group_size ({group_size}) must divide num_features "
                             f"({num_features})")
        check_eps_momentum("DecorrelatedBatchNorm", eps, momentum)
        dtype = as_float_dtype(dtype)
        self.num_features, self.group_size = int(num_features), int(group_size)
        self.num_groups = self.num_features // self.group_size
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.weight = Parameter(np.ones(self.num_features, dtype)) if self.affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype)) if self.affine else None
        self.running_mean = np.zeros(self.num_features, dtype)
        self.running_whitening = np.tile(np.eye(self.group_size, dtype=dtype), (self.num_groups, 1, 1))
        self.num_batches_tracked = np.array(0, dtype=np.int64)
        self._cache = None

    def reset_running_stats(self) -> None:
        """Running mean 0, running whitening matrix the identity, no batches seen."""
        self.running_mean[...] = 0
        self.running_whitening[...] = np.eye(self.group_size)
        self.num_batches_tracked[...] = 0

    def extra_repr(self) -> str:
        return (f"{self.num_features}, group_size={self.group_size}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}")

    def forward(self, x):
        self.check_input(x, ndims=(2, 3, 4), size=self.num_features, what="channels", dtype=self.running_mean.dtype)
        weight = None if self.weight is None else self.weight.data
        bias = None if self.bias is None else self.bias.data
        if self.training:
            require_two_values(self, x, x.size // self.num_features, "Use a batch of 2 or more in train mode")
            out, cache = F.whiten_forward(x, self.num_groups, weight, bias, self.eps)
            update_running_averages(self, ((self.running_mean, cache.mean), (self.running_whitening, cache.whitening)))
        else:
            out, cache = F.whiten_with_stats_forward(x, self.running_mean, self.running_whitening, weight, bias)
        self._cache = (self.training, cache)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        training, cache = self._cache
        kernel = F.whiten_backward if training else F.whiten_with_stats_backward
        dx, dweight, dbias = kernel(dout, cache)
        accumulate_affine_grads(self, dweight, dbias)
        return dx
