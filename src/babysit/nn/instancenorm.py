"""Instance normalization (Ulyanov et al. 2016): statistics per example and channel."""

from __future__ import annotations

from babysit.backend import DEFAULT_DTYPE
from babysit.nn.batchnorm import _RunningNorm


class _InstanceNorm(_RunningNorm):
    """InstanceNorm1d and InstanceNorm2d: statistics over the positions of each (example, channel)."""

    batch_axis_in_statistics = False
    single_value_hint = "Instance statistics need at least 2 positions (L or H * W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, dtype=DEFAULT_DTYPE):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) input: each example's channel normalized over its L positions.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float
    momentum : float or None
        For the running averages, as in :class:`BatchNorm1d` (only with ``track_running_stats``).
    affine : bool
        Learn a per-channel ``weight`` and ``bias``. False by default, as in PyTorch.
    track_running_stats : bool
        False by default, as in PyTorch: eval mode normalizes with each instance's own
        statistics too. If True, running averages of the per-instance means and
        (unbiased) variances are kept and used in eval mode.
    dtype : float32 or float64

    Notes
    -----
    ``xhat[n, c] = (x[n, c] - mean_nc) / sqrt(var_nc + eps)`` with the biased variance over
    the positions; ``out = gamma_c * xhat + beta_c``. Two deliberate differences from
    PyTorch: a channel count that differs from ``num_features`` raises an ``InputError``
    even without parameters (PyTorch warns), and with ``track_running_stats`` the layer
    counts batches in ``num_batches_tracked`` so that ``momentum=None`` gives the
    cumulative average as in BatchNorm (PyTorch's InstanceNorm leaves the count at 0 and
    then skips the update).

    References
    ----------
    Ulyanov, Vedaldi & Lempitsky, "Instance Normalization: The Missing Ingredient for
    Fast Stylization", 2016.
    """

    ndims = (3,)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) input: statistics per example and channel over H and W.

    Same parameters, defaults (``affine=False``, ``track_running_stats=False``, as in
    PyTorch) and formulas as :class:`InstanceNorm1d`.
    """

    ndims = (4,)
