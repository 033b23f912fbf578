"""Update/weight ratio per parameter: ``norm(update) / norm(W)``, which the lecture wants near 1e-3.

Much smaller and the learning rate is too low (the weights barely change); much larger and
it is too high (each step rewrites the weights). The update is measured, not predicted: the
weights are copied before a sampled step and compared after the optimizer ran, so momentum,
Adam's scaling and weight decay are all included.
"""

from __future__ import annotations

import math

import numpy as np

from babysit.diagnostics.findings import Finding
from babysit.diagnostics.monitor_base import DEFAULT_EVERY, SampledMonitor, listing, median, weight_parameters


class UpdateRatioMonitor(SampledMonitor):
    """Record ``norm(W_after - W_before) / norm(W_before)`` for every parameter every ``every`` steps.

    Parameters
    ----------
    every : int
        Sample one step in ``every``.
    target : float
        The ratio to aim for (1e-3, the lecture's rule of thumb).
    warn_factor, fail_factor : float
        A weight's median ratio more than ``warn_factor`` times off ``target`` (either way;
        30x is about one and a half decades) gives a warning, more than ``fail_factor``
        times a failure. A weight that did not move at all fails: no gradient reaches it.
    early : float
        The verdict takes the median over this first fraction of the samples: the learning
        phase. Once a run converges its gradients, and so its updates, shrink by design.

    Attributes
    ----------
    records : dict
        Parameter name -> ``[[step, ratio], ...]``. Parameters whose norm is 0 before the
        step (biases at init) are skipped on that step: their ratio is undefined.
    """

    section = "update_ratio"

    def __init__(self, every: int = DEFAULT_EVERY, *, target: float = 1e-3, warn_factor: float = 30.0,
                 fail_factor: float = 100.0, early: float = 0.5):
        super().__init__(every)
        if not 0 < early <= 1:
            raise ValueError(f"UpdateRatioMonitor: early must be in (0, 1], got {early}")
        self.early = float(early)
        if not target > 0 or not 1 < warn_factor <= fail_factor:
            raise ValueError(f"UpdateRatioMonitor: need target > 0 and 1 < warn_factor <= fail_factor, got "
                             f"target={target}, warn_factor={warn_factor}, fail_factor={fail_factor}")
        self.target, self.warn_factor, self.fail_factor = float(target), float(warn_factor), float(fail_factor)
        self._params: list = []
        self._before: list | None = None  # weights copied before a sampled step, reused
        self._pending = False
        self._weights: list[str] = []

    def on_train_begin(self, trainer, logs):
        self._params = [(name, p) for name, p in trainer.model.named_parameters() if p.requires_grad]
        self._before, self._pending = None, False
        self._weights = [name for name, _ in weight_parameters(trainer.model)]

    def on_batch_begin(self, trainer, logs):
        if not self.sampled(logs["step"]):
            return
        if self._before is None or any(before.shape != p.data.shape or before.dtype != p.data.dtype
                                       for before, (_, p) in zip(self._before, self._params, strict=True)):
            self._before = [p.data.copy() for _, p in self._params]
        else:  # reuse the buffers: no allocation on sampled steps
            for before, (_, p) in zip(self._before, self._params, strict=True):
                np.copyto(before, p.data)
        self._pending = True

    def on_batch_end(self, trainer, logs):
        if not self._pending:
            return
        self._pending = False
        with np.errstate(all="ignore"):  # a diverging run must not crash its monitor
            for (name, p), before in zip(self._params, self._before, strict=True):
                scale = _norm(before)
                if scale == 0.0:
                    continue
                np.subtract(p.data, before, out=before)  # the buffer now holds the update
                self.records.setdefault(name, []).append([int(logs["step"]), _norm(before) / scale])

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        # [[step, ratio], ...] came back as float pairs: steps are counts
        self.records = {name: [[int(step), ratio] for step, ratio in pairs] for name, pairs in self.records.items()}

    # ------------------------------------------------------------------ verdict
    def medians(self) -> dict[str, float]:
        """Median ratio over the first ``early`` fraction of the samples, for each weight parameter."""
        names = self._weights or list(self.records)
        result = {}
        for name in names:
            samples = self.records.get(name)
            if samples:
                count = max(1, math.ceil(len(samples) * self.early))
                result[name] = median(ratio for _, ratio in samples[:count])
        return result

    def findings(self, trainer=None) -> list[Finding]:
        medians = self.medians()
        if not medians:
            return []
        low, high = self.target / self.warn_factor, self.target * self.warn_factor
        expected = f"about {self.target:.0e} (between {low:.0e} and {high:.0e})"
        measured = "median norm(update)/norm(W) while learning: " + listing(
            f"{name} {ratio:.1e}" for name, ratio in medians.items())
        frozen = sorted(name for name, r in medians.items() if r == 0.0)
        too_low = {name: r for name, r in medians.items() if 0.0 < r < low}
        too_high = {name: r for name, r in medians.items() if r > high or math.isnan(r)}
        data = {"median": medians, "target": self.target, "too_low": sorted(too_low), "too_high": sorted(too_high),
                "unchanged": frozen}
        if not (frozen or too_low or too_high):
            return [Finding("update_ratio", "ok", measured, expected, data=data)]
        far_low, far_high = self.target / self.fail_factor, self.target * self.fail_factor
        failed = bool(frozen) or any(r < far_low for r in too_low.values()) or any(
            not r <= far_high for r in too_high.values())
        advice = []
        if too_high:
            advice.append(f"the updates are large next to the weights of {listing(too_high)} "
                          f"({_worst(too_high, max)}): the learning rate is probably too high; lower it "
                          "(about 10x per decade the ratio is above 1e-3) or run the learning-rate range test")
        if too_low:
            advice.append(f"the updates are tiny next to the weights of {listing(too_low)} "
                          f"({_worst(too_low, min)}): the learning rate is probably too low, so these weights "
                          "barely learn; raise it (about 10x per decade the ratio is below 1e-3) or run the "
                          "learning-rate range test")
        if frozen:
            advice.append(f"{listing(frozen)} did not change at all: no gradient reaches them (dead ReLUs or "
                          "saturated units upstream or downstream, or a layer cut off from the loss), which no "
                          "learning rate fixes")
        return [Finding("update_ratio", "fail" if failed else "warn", measured, expected, "; ".join(advice), data)]


def _norm(array) -> float:
    flat = array.reshape(-1)
    return math.sqrt(float(np.dot(flat, flat)))


def _worst(ratios: dict, pick) -> str:
    values = [r for r in ratios.values() if not math.isnan(r)]
    if not values:
        return "the weights became NaN"
    return f"ratio {pick(values):.1e}"
