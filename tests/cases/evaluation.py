"""Gradient-check cases for the losses of babysit.evaluation (distillation on packed targets)."""

from babysit.evaluation.distillation import PackedDistillationLoss, pack_targets
from tests.cases import LossCase

LOSS_CASES = [
    LossCase(
        "packed_distillation",
        lambda: PackedDistillationLoss(temperature=3.0, alpha=0.7),
        lambda rng: (rng.standard_normal((6, 5)), pack_targets(rng.integers(0, 5, 6), 2 * rng.standard_normal((6, 5)))),
    ),
]
