"""Gradient-check cases for the normalization layers, alone and inside containers.

Every case is built "warm": a few train-mode forward passes on shifted, scaled data
first, so that eval mode normalizes with running statistics that are neither 0 nor 1.
"""

import numpy as np

from babysit import nn
from tests.cases import ModuleCase


def warmed(make, shape, steps=3):
    """``build(rng)`` that makes the module and runs ``steps`` train-mode forwards on ``shape``."""

    def build(rng):
        module = make(rng)
        dtype = module.dtype
        for _ in range(steps):
            x = rng.standard_normal(shape) * rng.uniform(0.5, 3.0) + rng.uniform(-2.0, 2.0)
            module(x.astype(dtype))
        return module

    return build


def correlated(rng, shape):
    """Input whose channels are strongly correlated (what DecorrelatedBatchNorm undoes)."""
    mixing = rng.standard_normal((shape[1], shape[1])) + 2.0 * np.eye(shape[1])
    x = np.einsum("dc,nc...->nd...", mixing, rng.standard_normal(shape))
    return x + rng.uniform(-1.0, 1.0, size=(1, shape[1]) + (1,) * (len(shape) - 2))


def case(name, make, shape, make_input=None):
    return ModuleCase(name, warmed(make, shape), shape, make_input=make_input)


MODULE_CASES = [
    case("batchnorm1d_2d", lambda rng: nn.BatchNorm1d(5), (8, 5)),
    case("batchnorm1d_3d", lambda rng: nn.BatchNorm1d(3, momentum=None), (4, 3, 5)),
    case("batchnorm1d_no_affine", lambda rng: nn.BatchNorm1d(4, affine=False), (6, 4)),
    case("batchnorm1d_untracked", lambda rng: nn.BatchNorm1d(4, track_running_stats=False), (6, 4)),
    case("batchnorm2d", lambda rng: nn.BatchNorm2d(3, eps=1e-3), (4, 3, 3, 2)),
    case("instancenorm1d", lambda rng: nn.InstanceNorm1d(3), (3, 3, 6)),
    case("instancenorm2d_affine", lambda rng: nn.InstanceNorm2d(2, affine=True), (3, 2, 3, 3)),
    case("instancenorm2d_tracked", lambda rng: nn.InstanceNorm2d(2, affine=True, track_running_stats=True),
         (3, 2, 2, 3)),
    case("layernorm_2d", lambda rng: nn.LayerNorm(6), (4, 6)),
    case("layernorm_3d_two_axes", lambda rng: nn.LayerNorm((3, 4)), (2, 3, 4)),
    case("layernorm_4d_no_affine", lambda rng: nn.LayerNorm((2, 3), elementwise_affine=False), (2, 3, 2, 3)),
    case("groupnorm_2d", lambda rng: nn.GroupNorm(2, 6), (3, 6)),
    case("groupnorm_3d", lambda rng: nn.GroupNorm(3, 6, affine=False), (2, 6, 4)),
    case("groupnorm_4d", lambda rng: nn.GroupNorm(2, 4), (2, 4, 3, 2)),
    case("decorrelated_2d", lambda rng: nn.DecorrelatedBatchNorm(4), (16, 4), correlated),
    case("decorrelated_3d_groups", lambda rng: nn.DecorrelatedBatchNorm(6, group_size=3, momentum=None),
         (4, 6, 3), correlated),
    case("decorrelated_4d_no_affine", lambda rng: nn.DecorrelatedBatchNorm(3, affine=False), (3, 3, 2, 2),
         correlated),
    # Linear layers feeding a batch-statistics norm have no bias: in train mode the norm
    # removes any per-channel shift, so the bias's true gradient is 0 and only rounding
    # noise would be compared.
    case(
        "sequential_linear_batchnorm",
        lambda rng: nn.Sequential(nn.Linear(5, 6, bias=False, rng=rng), nn.BatchNorm1d(6), nn.Tanh(),
                                  nn.Linear(6, 3, rng=rng)),
        (7, 5),
    ),
    case(
        "sequential_linear_decorrelated",
        lambda rng: nn.Sequential(nn.Linear(4, 4, bias=False, rng=rng), nn.DecorrelatedBatchNorm(4), nn.Tanh()),
        (12, 4),
    ),
    case(
        "residual_layernorm",
        lambda rng: nn.Residual(nn.Sequential(nn.LayerNorm(5), nn.Linear(5, 5, rng=rng), nn.Tanh())),
        (3, 5),
    ),
    case(
        "residual_groupnorm_batchnorm",
        lambda rng: nn.Residual(nn.Sequential(nn.Linear(8, 8, rng=rng), nn.GroupNorm(2, 8), nn.Sigmoid(),
                                              nn.Linear(8, 8, bias=False, rng=rng), nn.BatchNorm1d(8))),
        (5, 8),
    ),
]
