"""Evaluation helpers: parameter averaging (EMA, SWA, checkpoint averaging)."""

from babysit.evaluation.averaging import EMA, SWA, average_checkpoints, update_batchnorm

__all__ = ["EMA", "SWA", "average_checkpoints", "update_batchnorm"]
