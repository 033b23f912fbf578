"""Activation statistics per layer: dead ReLUs, saturated sigmoid/tanh units, mean, std, histograms.

A ReLU unit that is never positive on a whole batch passes no gradient and, with nothing to
push it back, usually stays dead (a large negative bias or a too-high learning rate kills
them). A sigmoid or tanh output near its asymptotes has a derivative near 0, so the units
behind it stop learning and gradients vanish in deep nets.
"""

from __future__ import annotations

import collections
import functools
import math

import numpy as np

from babysit.diagnostics.findings import Finding
from babysit.diagnostics.monitor_base import (
    DEFAULT_EVERY,
    SampledMonitor,
    layer_label,
    listing,
    median,
    tail,
)
from babysit.nn.activations import ELU, LeakyReLU, PReLU, ReLU, Sigmoid, Tanh

#: Layers whose units can die: "active" means a positive input (where the output takes the
#: identity branch and the gradient is 1).
RECTIFIERS = (ReLU, LeakyReLU, PReLU, ELU)
#: Saturating layers and their asymptotes.
SATURATING = ((Sigmoid, (0.0, 1.0)), (Tanh, (-1.0, 1.0)))
#: At most about this many values of a layer's output go into its histogram (plenty for
#: its bins, and it keeps the cost of a sample independent of the layer's size).
HISTOGRAM_SAMPLE = 2048


class ActivationMonitor(SampledMonitor):
    """Forward hooks on the activation layers, attached only during sampled steps.

    Parameters
    ----------
    every : int
        Sample one step in ``every``.
    saturation_eps : float
        An output within ``saturation_eps`` of an asymptote counts as saturated.
    bins : int
        Number of histogram bins. Sigmoid and tanh histograms span their range; rectifier
        histograms span ``[min(0, lo), 1.5 * hi]`` of the first sampled batch, fixed from
        then on so that histograms of different steps compare (values outside land in the
        end bins). A histogram counts a strided sample of about :data:`HISTOGRAM_SAMPLE`
        values of the layer's output (all of them when there are fewer).
    dead_warn, dead_fail : float
        Fraction of dead units in a layer that gives a warning or a failure. For the verdict
        a unit is dead when it was not active on any of the last ``recent`` sampled batches
        (one batch alone can miss a sparse unit that is merely rare).
    recent : int
    saturated_warn, saturated_fail : float
        The same for the fraction of saturated outputs.

    Attributes
    ----------
    records : dict
        Layer name (from ``model.named_modules()``) -> ``{"kind", "steps", "mean", "std",
        "dead_fraction" or "saturated_fraction", "histogram": {"edges", "counts"}}``.
    """

    section = "activations"

    def __init__(self, every: int = DEFAULT_EVERY, *, saturation_eps: float = 0.01, bins: int = 20,
                 dead_warn: float = 0.2, dead_fail: float = 0.5, saturated_warn: float = 0.2,
                 saturated_fail: float = 0.5, recent: int = 5):
        super().__init__(every)
        if not 0 < saturation_eps < 0.5:
            raise ValueError(f"ActivationMonitor: saturation_eps must be in (0, 0.5), got {saturation_eps}")
        if not isinstance(bins, int) or bins < 2:
            raise ValueError(f"ActivationMonitor: bins must be an int >= 2, got {bins!r}")
        limits = {"dead": (dead_warn, dead_fail), "saturated": (saturated_warn, saturated_fail)}
        for name, (warn, fail) in limits.items():
            if not 0 < warn <= fail <= 1:
                raise ValueError(f"ActivationMonitor: need 0 < {name}_warn <= {name}_fail <= 1, got {warn}, {fail}")
        self.saturation_eps, self.bins = float(saturation_eps), bins
        self.dead_warn, self.dead_fail = float(dead_warn), float(dead_fail)
        self.saturated_warn, self.saturated_fail = float(saturated_warn), float(saturated_fail)
        if not isinstance(recent, int) or recent < 1:
            raise ValueError(f"ActivationMonitor: recent must be a positive int, got {recent!r}")
        self.recent = recent
        self._alive: dict[str, collections.deque] = {}  # the last `recent` masks of active units, per layer
        self._layers: list = []
        self._handles: list = []
        self._step = 0

    def on_train_begin(self, trainer, logs):
        self._layers = []
        for name, module in trainer.model.named_modules():
            kind = _kind(module)
            if kind is not None:
                self._layers.append((name or type(module).__name__, module, kind))

    def on_batch_begin(self, trainer, logs):
        if self.sampled(logs["step"]) and self._layers:
            self._step = int(logs["step"])
            self._handles = [module.register_forward_hook(functools.partial(self._record, name, kind))
                             for name, module, kind in self._layers]

    def on_batch_end(self, trainer, logs):
        self._detach()

    def on_train_end(self, trainer, logs):
        self._detach()

    def _detach(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # ------------------------------------------------------------------ measure
    def _record(self, name, kind, module, x, out):
        record = self.records.get(name)
        if record is None:
            fraction = "dead_fraction" if kind == "rectifier" else "saturated_fraction"
            record = self.records[name] = {"kind": kind, "steps": [], "mean": [], "std": [], fraction: [],
                                           "histogram": {"edges": None, "counts": []}}
        elif record["steps"] and record["steps"][-1] == self._step:
            return  # a layer used twice in one forward pass: its first call stands for the step
        out = np.asarray(out)
        flat = out.reshape(-1)
        with np.errstate(all="ignore"):  # a diverging run must not crash its monitor
            # mean and std from the sum and the sum of squares: two cheap reductions, no temporaries
            mean = float(flat.sum()) / flat.size
            std = math.sqrt(max(float(np.dot(flat, flat)) / flat.size - mean * mean, 0.0))
            if kind == "rectifier":
                # A unit is a feature (axis 1): for conv maps, a channel at any position.
                axes = tuple(axis for axis in range(np.ndim(x)) if axis != 1)
                alive = np.any(np.asarray(x) > 0, axis=axes)
                record["dead_fraction"].append(1.0 - np.count_nonzero(alive) / alive.size)
                self._alive.setdefault(name, collections.deque(maxlen=self.recent)).append(alive)
            else:
                low, high = _asymptotes(kind)
                eps = self.saturation_eps
                saturated = np.count_nonzero((flat <= low + eps) | (flat >= high - eps))
                record["saturated_fraction"].append(saturated / flat.size)
            record["histogram"]["counts"].append(self._histogram(record, kind, flat, out.shape[-1], mean, std))
        record["steps"].append(self._step)
        record["mean"].append(mean)
        record["std"].append(std)

    def _histogram(self, record, kind, flat, width, mean, std) -> list[int]:
        histogram = record["histogram"]
        if not (math.isfinite(mean) and math.isfinite(std)):
            return [0] * self.bins
        if histogram["edges"] is None:
            if kind == "rectifier":
                low, high = min(0.0, float(flat.min())), 1.5 * float(flat.max())
                high = high if high > low else low + 1.0
            else:
                low, high = _asymptotes(kind)
            histogram["edges"] = np.linspace(low, high, self.bins + 1).tolist()
        low, high = histogram["edges"][0], histogram["edges"][-1]
        # Every stride-th value, the stride coprime with the last axis so that the sample
        # visits every unit (a stride of 4 over 100 features would only ever see 25 of them).
        stride = max(1, flat.size // HISTOGRAM_SAMPLE)
        while math.gcd(stride, width) != 1:
            stride += 1
        # Equal-width bins: each value's bin is computed directly (np.histogram is slower).
        scaled = flat[::stride] - low
        scaled *= self.bins / (high - low)
        index = scaled.astype(np.intp)
        np.clip(index, 0, self.bins - 1, out=index)
        counts = np.bincount(index, minlength=self.bins)
        return counts.tolist()

    # ------------------------------------------------------------------ verdict
    def findings(self, trainer=None) -> list[Finding]:
        modules = {name: module for name, module, _ in self._layers}
        findings = []
        for kind, fraction in (("rectifier", "dead_fraction"), ("saturating", "saturated_fraction")):
            layers = {name: record for name, record in self.records.items()
                      if (record["kind"] == "rectifier") == (kind == "rectifier")}
            if layers:
                findings.append(self._verdict(kind, fraction, layers, modules))
        return findings

    def _verdict(self, kind, fraction, layers, modules) -> Finding:
        final = {name: self._dead_recently(name, record) if kind == "rectifier" else median(tail(record[fraction]))
                 for name, record in layers.items()}
        first = {name: record[fraction][0] for name, record in layers.items() if record[fraction]}
        labels = {name: layer_label(name, modules[name]) if name in modules else f"layer '{name}'" for name in final}
        measured = listing(f"{labels[name]} {value:.0%}" for name, value in final.items())
        warn, fail = (self.dead_warn, self.dead_fail) if kind == "rectifier" else (self.saturated_warn,
                                                                                     self.saturated_fail)
        bad = {name: value for name, value in final.items() if value >= warn}
        status = "ok" if not bad else "fail" if max(bad.values()) >= fail else "warn"
        data = {"final": final, "first": first, "bad_layers": sorted(bad)}
        if kind == "rectifier":
            expected = f"under {warn:.0%} of units never active on the last {self.recent} sampled batches"
            advice = _dead_advice(bad, first, labels)
            return Finding("dead_relu", status, "dead units " + measured, expected, advice, data)
        expected = f"under {warn:.0%} of outputs within {self.saturation_eps} of the asymptotes"
        advice = (f"{listing(labels[name] for name in bad)} {'is' if len(bad) == 1 else 'are'} saturated: outputs "
                  "pinned at the asymptotes have a near-zero derivative, so the layers below stop learning. Use a "
                  "smaller init scale (Xavier for tanh/sigmoid), normalize the inputs, add batch normalization, "
                  "or switch to ReLU" if bad else "")
        return Finding("saturation", status, "saturated outputs " + measured, expected, advice, data)


    def _dead_recently(self, name, record) -> float:
        """Fraction of units active on none of the recent sampled batches (after a resume,
        before new samples, the smallest recent per-batch fraction)."""
        masks = self._alive.get(name)
        if masks:
            alive = np.logical_or.reduce(list(masks)) if len(masks) > 1 else masks[0]
            return 1.0 - np.count_nonzero(alive) / alive.size
        return min(tail(record["dead_fraction"]), default=0.0)


def _dead_advice(bad, first, labels) -> str:
    if not bad:
        return ""
    born_dead = [name for name in bad if first.get(name, 0.0) >= bad[name] * 0.9]
    died = [name for name in bad if name not in born_dead]
    parts = []
    if born_dead:
        parts.append(f"{listing(labels[name] for name in born_dead)} had dead units from the first steps: check "
                     "the initialization (He for ReLU), the biases (a large negative bias keeps units off) and "
                     "the input scale")
    if died:
        parts.append(f"units of {listing(labels[name] for name in died)} died during training, typically "
                     "from a too-high learning rate: lower it")
    return "; ".join(parts) + ". Dead ReLUs pass no gradient and rarely recover; LeakyReLU, PReLU or ELU cannot die"


def _kind(module) -> str | None:
    if isinstance(module, RECTIFIERS):
        return "rectifier"
    for cls, _ in SATURATING:
        if isinstance(module, cls):
            return cls.__name__.lower()
    return None


def _asymptotes(kind: str) -> tuple[float, float]:
    return dict((cls.__name__.lower(), bounds) for cls, bounds in SATURATING)[kind]
