"""Gradient-check cases for the regularization layers, in train mode (masks fixed: the checker
restores every generator's state before each forward) and eval mode (identity / full weights)."""

from babysit import nn
from babysit.nn.regularization import DropConnect, Dropout, GaussianNoise
from tests.cases import ModuleCase

MODULE_CASES = [
    ModuleCase("dropout", lambda rng: Dropout(0.3, rng=rng), (5, 7)),
    ModuleCase("dropout_4d", lambda rng: Dropout(0.5, rng=rng), (2, 3, 4, 4)),
    ModuleCase("dropconnect", lambda rng: DropConnect(6, 4, p=0.4, rng=rng), (5, 6)),
    ModuleCase("dropconnect_no_bias", lambda rng: DropConnect(6, 4, p=0.4, bias=False, rng=rng), (5, 6)),
    ModuleCase("gaussian_noise", lambda rng: GaussianNoise(0.3, rng=rng), (4, 6)),
    ModuleCase(
        "mlp_with_dropout",
        lambda rng: nn.Sequential(nn.Linear(5, 8, rng=rng), nn.Tanh(), Dropout(0.5, rng=rng), nn.Linear(8, 3, rng=rng)),
        (4, 5),
    ),
]
