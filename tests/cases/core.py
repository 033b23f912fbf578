"""Gradient-check cases for the core layers, containers and losses."""

import numpy as np

from babysit import nn
from tests.cases import LossCase, ModuleCase, away_from_zero


def _labels(rng, n, c):
    return rng.integers(0, c, size=n)


MODULE_CASES = [
    ModuleCase("linear", lambda rng: nn.Linear(6, 4, rng=rng), (5, 6)),
    ModuleCase("linear_no_bias", lambda rng: nn.Linear(6, 4, bias=False, rng=rng), (5, 6)),
    ModuleCase("relu", lambda rng: nn.ReLU(), (4, 7), make_input=away_from_zero),
    ModuleCase("leaky_relu", lambda rng: nn.LeakyReLU(0.1), (4, 7), make_input=away_from_zero),
    ModuleCase("prelu_shared", lambda rng: nn.PReLU(), (4, 7), make_input=away_from_zero),
    ModuleCase("prelu_per_channel_4d", lambda rng: nn.PReLU(3, init=0.1), (2, 3, 4, 5), make_input=away_from_zero),
    ModuleCase("elu", lambda rng: nn.ELU(alpha=0.7), (4, 7), make_input=away_from_zero),
    ModuleCase("sigmoid", lambda rng: nn.Sigmoid(), (4, 7)),
    ModuleCase("tanh", lambda rng: nn.Tanh(), (4, 7)),
    ModuleCase("maxout", lambda rng: nn.Maxout(5, 3, pieces=3, rng=rng), (4, 5)),
    ModuleCase("flatten", lambda rng: nn.Flatten(), (2, 3, 4)),
    ModuleCase(
        "sequential_mlp",
        lambda rng: nn.Sequential(nn.Linear(5, 8, rng=rng), nn.Tanh(), nn.Linear(8, 3, rng=rng)),
        (4, 5),
    ),
    ModuleCase(
        "residual_identity",
        lambda rng: nn.Residual(nn.Sequential(nn.Linear(6, 6, rng=rng), nn.Tanh(), nn.Linear(6, 6, rng=rng))),
        (4, 6),
    ),
    ModuleCase(
        "residual_projection",
        lambda rng: nn.Residual(nn.Sequential(nn.Linear(6, 4, rng=rng), nn.Sigmoid()),
                                shortcut=nn.Linear(6, 4, rng=rng)),
        (4, 6),
    ),
    ModuleCase(
        "residual_stochastic_depth",
        lambda rng: nn.Residual(nn.Linear(5, 5, rng=rng), drop_prob=0.5, rng=rng),
        (3, 5),
    ),
]


def _classification(n=6, c=5):
    return lambda rng: (rng.standard_normal((n, c)) * 2, _labels(rng, n, c))


def _hinge_data(rng, n=6, c=5):
    """Scores on a 0.1 grid with the correct class shifted by 0.05: every margin s_j - s_y + 1
    is an odd multiple of 0.05, never within h of the hinge's kink at 0."""
    scores, y = np.round(rng.standard_normal((n, c)) * 3, 1), _labels(rng, n, c)
    scores[np.arange(n), y] += 0.05
    return scores, y


LOSS_CASES = [
    LossCase("softmax_cross_entropy", lambda: nn.SoftmaxCrossEntropy(), _classification()),
    LossCase("multiclass_hinge", lambda: nn.MulticlassHinge(), lambda rng: _hinge_data(rng)),
    LossCase("mse", lambda: nn.MSELoss(), lambda rng: (rng.standard_normal((6, 3)), rng.standard_normal((6, 3)))),
    LossCase(
        "distillation",
        lambda: nn.DistillationLoss(temperature=3.0, alpha=0.7),
        lambda rng: (rng.standard_normal((6, 5)), (_labels(rng, 6, 5), rng.standard_normal((6, 5)) * 2)),
    ),
]
