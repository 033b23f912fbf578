"""Gradient statistics per parameter, and how the gradient's size changes with depth.

Backprop multiplies the gradient by each layer's local derivative on its way down. In a
deep sigmoid net every factor is at most 0.25, so the first layers get gradients orders of
magnitude smaller than the last ones and barely learn (vanishing gradients); too-large
weights make them grow instead (exploding gradients).
"""

from __future__ import annotations

import math

import numpy as np

from babysit.diagnostics.findings import Finding
from babysit.diagnostics.monitor_base import DEFAULT_EVERY, SampledMonitor, listing, median, weight_parameters


class GradientMonitor(SampledMonitor):
    """Record the norm, mean and standard deviation of every parameter's gradient every ``every`` steps.

    Parameters
    ----------
    every : int
        Sample one step in ``every``.
    vanish_warn, vanish_fail : float
        When the first weight's gradient std (median over samples) is below this fraction of
        the last weight's, warn or fail (vanishing gradients).
    explode_warn : float
        When it is above this multiple, warn (exploding gradients).

    Attributes
    ----------
    records : dict
        Parameter name -> ``{"steps", "norm", "mean", "std"}``.
    """

    section = "gradients"

    def __init__(self, every: int = DEFAULT_EVERY, *, vanish_warn: float = 1e-2, vanish_fail: float = 1e-4,
                 explode_warn: float = 1e2):
        super().__init__(every)
        if not 0 < vanish_fail <= vanish_warn < 1 < explode_warn:
            raise ValueError(f"GradientMonitor: need 0 < vanish_fail <= vanish_warn < 1 < explode_warn, got "
                             f"{vanish_fail}, {vanish_warn}, {explode_warn}")
        self.vanish_warn, self.vanish_fail = float(vanish_warn), float(vanish_fail)
        self.explode_warn = float(explode_warn)
        self._params: list = []
        self._weights: list[str] = []

    def on_train_begin(self, trainer, logs):
        self._params = [(name, p) for name, p in trainer.model.named_parameters() if p.requires_grad]
        self._weights = [name for name, _ in weight_parameters(trainer.model)]

    def on_batch_end(self, trainer, logs):
        if not self.sampled(logs["step"]):
            return
        with np.errstate(all="ignore"):  # a diverging run must not crash its monitor
            for name, p in self._params:
                if p.grad is None:
                    continue
                flat = p.grad.reshape(-1)
                mean = float(flat.sum()) / flat.size
                squares = float(np.dot(flat, flat))
                # std from the sum of squares: one pass over the gradient instead of two
                std = math.sqrt(max(squares / flat.size - mean * mean, 0.0)) if math.isfinite(squares) else math.nan
                record = self.records.setdefault(name, {"steps": [], "norm": [], "mean": [], "std": []})
                record["steps"].append(int(logs["step"]))
                record["norm"].append(math.sqrt(squares) if math.isfinite(squares) else math.nan)
                record["mean"].append(mean)
                record["std"].append(std)

    # ------------------------------------------------------------------ verdict
    def depth_profile(self) -> dict[str, float]:
        """Median gradient std of each weight parameter, from the first layer to the last."""
        names = self._weights or list(self.records)
        return {name: median(self.records[name]["std"]) for name in names if name in self.records}

    def findings(self, trainer=None) -> list[Finding]:
        profile = self.depth_profile()
        if len(profile) < 2:
            return []
        names = list(profile)
        first, last = profile[names[0]], profile[names[-1]]
        nonfinite = [name for name in names if not math.isfinite(profile[name])]
        measured = "median gradient std by depth: " + listing(
            (f"{name} {value:.1e}" for name, value in profile.items()), limit=8)
        expected = (f"the first layer's within {1 / self.vanish_warn:.0f}x of the last layer's "
                    f"(ratio between {self.vanish_warn:.0e} and {self.explode_warn:.0e})")
        data = {"std": profile, "order": names}
        if nonfinite:
            return [Finding("gradient_flow", "fail", measured, expected,
                            f"the gradients of {listing(nonfinite)} are NaN or infinite: the run diverged; lower "
                            "the learning rate, or clip gradients", data)]
        zero = [name for name in names if profile[name] == 0.0]
        if zero:
            data["zero"] = zero
            return [Finding("gradient_flow", "fail", measured, expected,
                            f"the gradients of {listing(zero)} are exactly 0: nothing flows back to them, so they "
                            "cannot learn. Look for dead ReLUs or fully saturated units between them and the "
                            "loss, or a layer whose backward drops the gradient", data)]
        ratio = first / last
        data["first_to_last"] = ratio
        measured += f" (first/last {ratio:.1e})"
        if ratio < self.vanish_warn:
            smallest = sorted(names, key=profile.get)[:3]
            status = "fail" if ratio < self.vanish_fail else "warn"
            return [Finding("gradient_flow", status, measured, expected,
                            f"vanishing gradients: the gradient shrinks on its way back, so the first layers "
                            f"({listing(smallest)}) barely learn. Typical of deep sigmoid/tanh nets: use ReLU, "
                            "He/Xavier initialization, batch normalization, or residual connections", data)]
        if ratio > self.explode_warn:
            return [Finding("gradient_flow", "warn", measured, expected,
                            f"exploding gradients: the gradient grows on its way back to {names[0]}. Use a "
                            "smaller init scale (He/Xavier), batch normalization, or gradient clipping", data)]
        return [Finding("gradient_flow", "ok", measured, expected, data=data)]
