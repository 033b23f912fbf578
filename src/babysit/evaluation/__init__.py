"""Evaluation helpers: parameter averaging (EMA, SWA, checkpoint averaging)."""

from babysit.evaluation.averaging import EMA, SWA, average_checkpoints, update_batchnorm

__all__ = ["EMA", "SWA", "average_checkpoints", "update_batchnorm"]
from babysit.evaluation.distillation import PackedDistillationLoss, distill, pack_targets, teacher_scores
from babysit.evaluation.ensembles import Ensemble, SnapshotCollector, format_table, load_ensemble, model_scores
from babysit.evaluation.transfer import (
    ProgressiveUnfreezing,
    fine_tune_param_groups,
    freeze_all_but,
    replace_head,
    trainable_layers,
)

__all__ += [
    "Ensemble", "PackedDistillationLoss", "ProgressiveUnfreezing", "SnapshotCollector", "distill",
    "fine_tune_param_groups", "format_table", "freeze_all_but", "load_ensemble", "model_scores", "pack_targets",
    "replace_head", "teacher_scores", "trainable_layers",
]
