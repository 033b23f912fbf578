"""The watched metric of EarlyStopping, ModelCheckpoint and ReduceLROnPlateau: which row
entry, whether lower or higher is better, and by how much it must change to count."""

from __future__ import annotations

import math

MODES = ("auto", "min", "max")


class MonitoredMetric:
    """``monitor`` is a key of the epoch's row (``val_loss``, ``val_accuracy``, ``loss``...).

    ``mode="auto"`` maximizes names containing ``acc`` and minimizes the rest; an
    improvement must beat the best value by more than ``min_delta`` (absolute).
    """

    def __init__(self, owner: str, monitor: str, mode: str = "auto", min_delta: float = 0.0):
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"{owner}: monitor must be the name of an epoch metric, got {monitor!r}")
        if mode not in MODES:
            raise ValueError(f"{owner}: mode must be one of {MODES}, got {mode!r}")
        if not isinstance(min_delta, (int, float)) or not math.isfinite(min_delta) or min_delta < 0:
            raise ValueError(f"{owner}: min_delta must be a finite number >= 0, got {min_delta!r}")
        self.owner, self.monitor, self.min_delta = owner, monitor, float(min_delta)
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode

    def value(self, logs: dict) -> float | None:
        """The metric in this epoch's row; ``None`` when it is missing a value or not finite."""
        if self.monitor not in logs:
            hint = "; pass val=(x, y) to fit to get validation metrics" if self.monitor.startswith("val") else ""
            raise ValueError(f"{self.owner}: monitors {self.monitor!r} but the epoch's metrics are "
                             f"{sorted(logs)}{hint}")
        value = logs[self.monitor]
        return None if value is None or not math.isfinite(value) else float(value)

    def improved(self, value: float | None, best: float | None) -> bool:
        if value is None:
            return False
        if best is None:
            return True
        return value < best - self.min_delta if self.mode == "min" else value > best + self.min_delta

    def describe(self) -> str:
        return f"{self.monitor} ({'lower' if self.mode == 'min' else 'higher'} is better)"
