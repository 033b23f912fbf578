"""Batch normalization (Ioffe & Szegedy 2015) and the running-statistics machinery it shares
with InstanceNorm."""

from __future__ import annotations

import math

import numpy as np

from babysit import functional as F
from babysit.backend import DEFAULT_DTYPE, as_float_dtype
from babysit.errors import InputError
from babysit.functional.norm import channel_shape
from babysit.nn.module import Module, Parameter, check_positive_int


class _RunningNorm(Module):
    """Per-channel normalization with optional affine parameters and running statistics.

    Subclasses set ``ndims`` (accepted input ranks), ``batch_axis_in_statistics`` (True
    for BatchNorm: the statistics run over the batch too) and ``single_value_hint``.
    """

    ndims: tuple[int, ...] = (2, 3, 4)
    batch_axis_in_statistics = True
    single_value_hint = ""
    buffer_names = ("running_mean", "running_var", "num_batches_tracked")

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype):
        super().__init__()
        name = type(self).__name__
        check_positive_int(name, "num_features", num_features)
        check_eps_momentum(name, eps, momentum)
        dtype = as_float_dtype(dtype)
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.weight = Parameter(np.ones(self.num_features, dtype)) if self.affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype)) if self.affine else None
        if self.track_running_stats:
            self.running_mean = np.zeros(self.num_features, dtype)
            self.running_var = np.ones(self.num_features, dtype)
            self.num_batches_tracked = np.array(0, dtype=np.int64)
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
            self.buffer_names = ()  # nothing to save, as torch's buffers are None
        self._cache = None

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen (before recomputing statistics)."""
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        """Running statistics reset, ``weight`` = 1 and ``bias`` = 0."""
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def forward(self, x):
        reference = self.weight if self.affine else self.running_mean
        self.check_input(x, ndims=self.ndims, size=self.num_features, what="channels",
                         dtype=None if reference is None else reference.dtype)
        shape = channel_shape(x.ndim, self.num_features)
        weight = None if self.weight is None else self.weight.data.reshape(shape)
        bias = None if self.bias is None else self.bias.data.reshape(shape)
        use_batch_statistics = self.training or not self.track_running_stats
        if use_batch_statistics:
            axes = tuple(axis for axis in range(0 if self.batch_axis_in_statistics else 2, x.ndim) if axis != 1)
            require_two_values(self, x, math.prod(x.shape[axis] for axis in axes), self.single_value_hint)
            out, cache = F.normalize_forward(x, axes, weight, bias, self.eps)
            if self.training and self.track_running_stats:
                self._update_running_stats(cache)
        else:
            mean, var = self.running_mean.reshape(shape), self.running_var.reshape(shape)
            out, cache = F.normalize_with_stats_forward(x, mean, var, weight, bias, self.eps)
        self._cache = (use_batch_statistics, cache)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{self.short_repr()}: backward called before forward")
        use_batch_statistics, cache = self._cache
        kernel = F.normalize_backward if use_batch_statistics else F.normalize_with_stats_backward
        dx, dweight, dbias = kernel(dout, cache)
        accumulate_affine_grads(self, dweight, dbias)
        return dx

    def _update_running_stats(self, cache) -> None:
        """Exponential moving average with ``momentum`` (``momentum=None``: cumulative average).

        ``running = (1 - momentum) * running + momentum * batch``, with the unbiased
        batch variance ``var * m / (m - 1)`` as in PyTorch.
        """
        batch_mean = self._channel_average(cache.mean)
        batch_var = self._channel_average(cache.var) * (cache.count / (cache.count - 1))
        update_running_averages(self, ((self.running_mean, batch_mean), (self.running_var, batch_var)))

    def _channel_average(self, statistic):
        """(C,) statistics: BatchNorm has one row of them, InstanceNorm one per example (averaged)."""
        rows = statistic.reshape(-1, self.num_features)
        return rows[0] if len(rows) == 1 else rows.mean(axis=0)


class _BatchNorm(_RunningNorm):
    """BatchNorm1d and BatchNorm2d: statistics over the batch (and positions) per channel."""

    single_value_hint = "Use a batch of 2 or more in train mode"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=DEFAULT_DTYPE):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input: statistics per channel over N (and L).

    Parameters
    ----------
    num_features : int
        C, the number of features or channels.
    eps : float
        Added to the variance before the square root.
    momentum : float or None
        Weight of the current batch in the running averages; ``None`` gives the
        cumulative (equal-weight) average of all batches seen, as in PyTorch.
    affine : bool
        Learn a per-channel scale ``weight`` (gamma, starts at 1) and shift ``bias``
        (beta, starts at 0). Neither is L2-regularized by default.
    track_running_stats : bool
        Keep running averages and use them in eval mode; if False, eval mode
        normalizes with the batch's own statistics too.
    dtype : float32 or float64

    Notes
    -----
    Train mode: ``xhat = (x - mean_B) / sqrt(var_B + eps)``, ``out = gamma * xhat + beta``,
    with the biased batch variance ``var_B = mean((x - mean_B)^2)`` (divide by m, the
    number of values per channel). The running variance is updated with the unbiased
    ``var_B * m / (m - 1)``: PyTorch's conventions, so state dicts and outputs agree.
    ``running = (1 - momentum) * running + momentum * batch``. Eval mode uses the running
    estimates, which makes the layer a fixed per-channel affine map. The backward pass
    is the closed form ``dx = gamma / (m sqrt(var + eps)) (m dout - sum(dout) - xhat
    sum(dout xhat))``. A batch of one in train mode raises an ``InputError``.

    References
    ----------
    Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training by
    Reducing Internal Covariate Shift", ICML 2015.
    """

    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Spatial batch normalization of (N, C, H, W) input: statistics per channel over N, H and W.

    Same parameters, conventions and formulas as :class:`BatchNorm1d`; m = N * H * W.
    Any memory layout works (a batch-innermost conv output stays batch-innermost).
    """

    ndims = (4,)


def accumulate_affine_grads(layer: Module, dweight, dbias) -> None:
    """Add the kernels' gradients into ``layer.weight``/``layer.bias`` (either may be None or frozen)."""
    for parameter, grad in ((layer.weight, dweight), (layer.bias, dbias)):
        if parameter is not None and parameter.requires_grad:
            parameter.accumulate_grad(grad.reshape(parameter.shape))


def require_two_values(layer: Module, x, count: int, hint: str) -> None:
    """Raise an ``InputError`` naming ``layer`` when its statistics would average ``count`` < 2 values."""
    if count < 2:
        if getattr(layer, "track_running_stats", True) and layer.training:
            hint += ", or call model.eval() to use the running statistics"
        raise InputError(
            layer.short_repr(),
            f"got input of shape {x.shape}, so each statistic averages {count} value: "
            f"the variance of a single value is undefined. {hint}",
        )


def update_running_averages(module, pairs) -> None:
    """Count one more batch in ``module.num_batches_tracked`` and blend each ``(running, batch)`` pair in place.

    ``running = (1 - f) * running + f * batch`` with ``f = module.momentum``, or
    ``f = 1 / num_batches_tracked`` (the cumulative average) when the momentum is None.
    """
    module.num_batches_tracked += 1
    factor = 1.0 / float(module.num_batches_tracked) if module.momentum is None else module.momentum
    for running, batch in pairs:
        running += (batch - running) * factor  # = (1 - f) * running + f * batch, in place


def check_eps_momentum(name: str, eps, momentum) -> None:
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
    if momentum is not None and not (isinstance(momentum, (int, float)) and 0.0 <= momentum <= 1.0):
        raise ValueError(f"{name}: momentum must be in [0, 1] or None (cumulative average), got {momentum!r}")
