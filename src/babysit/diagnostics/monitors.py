"""Live diagnosis: the monitor callbacks and the Babysitter that runs them all.

The Babysitter watches a training run the way the lecture asks an expert to: update/weight
ratios, dead and saturated units, gradients across depth, the loss curve, and at the end the
train/validation diagnosis. Monitors sample one step in ``every`` (20 by default), which
keeps their cost on the MNIST-1D MLP to about 5% of training time
(benchmarks/monitor_overhead.py measures it).

With a run directory (``trainer.out_dir``) it writes ``monitors.json`` (the sampled
statistics, for the report's plots) and adds its findings to ``findings.json``.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from babysit.atomic import write_json
from babysit.diagnostics.activation_monitor import ActivationMonitor
from babysit.diagnostics.diagnosis import diagnose
from babysit.diagnostics.findings import Finding, Report
from babysit.diagnostics.gradient_monitor import GradientMonitor
from babysit.diagnostics.loss_monitor import LossMonitor
from babysit.diagnostics.monitor_base import DEFAULT_EVERY, SampledMonitor, jsonable, median
from babysit.diagnostics.update_monitor import UpdateRatioMonitor
from babysit.train.callbacks.base import Callback

__all__ = ["LIVE_FINDINGS", "ActivationMonitor", "Babysitter", "GradientMonitor", "LossMonitor", "SampledMonitor",
           "UpdateRatioMonitor", "diagnose"]

#: Every finding name the Babysitter can produce. When it adds its findings to an existing
#: findings.json it replaces older entries of these names (a resumed run diagnoses again)
#: and keeps the rest (the pre-flight checks).
LIVE_FINDINGS = ("update_ratio", "dead_relu", "saturation", "gradient_flow", "loss_progress", "loss_plateau_start",
                 "train_performance", "overfitting", "early_stopping")


class Babysitter(Callback):
    """All the monitors in one callback, plus the end-of-training diagnosis.

    Parameters
    ----------
    every : int
        The sampled monitors (update ratio, activations, gradients) measure one step in
        ``every``.
    good_accuracy, gap : float
        Passed to :func:`diagnose`: the training accuracy that counts as good, and the
        train-minus-validation accuracy that counts as overfitting.
    verbose : bool
        Print each problem on stderr at the end of the epoch it first shows, and the full
        list of findings at the end.
    update_ratio, activations, gradients, loss : monitors, optional
        Replace a default monitor (e.g. with other thresholds); ``False`` turns one off.

    Attributes
    ----------
    findings : list of Finding
        Filled at the end of training (or by :meth:`collect`).
    report : Report
        The same findings as a :class:`Report`.

    Notes
    -----
    When the trainer has an ``out_dir``, the end of training writes ``monitors.json`` (the
    sampled statistics) and adds the findings to ``findings.json``, keeping the pre-flight
    findings already there. ``state_dict`` holds the samples, so a resumed run's files
    cover the whole run.
    """

    def __init__(self, every: int = DEFAULT_EVERY, *, good_accuracy: float = 0.9, gap: float = 0.1,
                 verbose: bool = False, update_ratio=None, activations=None, gradients=None, loss=None):
        if not 0 < good_accuracy <= 1 or not 0 < gap < 1:
            raise ValueError(f"Babysitter: need 0 < good_accuracy <= 1 and 0 < gap < 1, got "
                             f"good_accuracy={good_accuracy}, gap={gap}")
        chosen = {"update_ratio": (update_ratio, UpdateRatioMonitor), "activations": (activations, ActivationMonitor),
                  "gradients": (gradients, GradientMonitor), "loss": (loss, LossMonitor)}
        self.every = every
        self.monitors: dict[str, Callback] = {}
        for section, (given, cls) in chosen.items():
            if given is False:
                continue
            monitor = (cls() if cls is LossMonitor else cls(every)) if given is None else given
            if not isinstance(monitor, cls):
                raise TypeError(f"Babysitter: {section} must be a {cls.__name__} (or False to turn it off), "
                                f"got {type(monitor).__name__}")
            self.monitors[section] = monitor
        self.good_accuracy, self.gap, self.verbose = good_accuracy, gap, verbose
        self.findings: list[Finding] = []
        self._announced: set[str] = set()

    @property
    def report(self) -> Report:
        return Report(list(self.findings))

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, trainer, logs):
        self._dispatch("on_train_begin", trainer, logs)

    def on_epoch_begin(self, trainer, logs):
        self._dispatch("on_epoch_begin", trainer, logs)

    # Called on every step: between samples a sampled monitor is not even called.
    def on_batch_begin(self, trainer, logs):
        step = logs["step"]
        for monitor in self.monitors.values():
            if not isinstance(monitor, SampledMonitor) or step % monitor.every == 0:
                monitor.on_batch_begin(trainer, logs)

    def on_batch_end(self, trainer, logs):
        step = logs["step"]
        for monitor in self.monitors.values():
            if not isinstance(monitor, SampledMonitor) or step % monitor.every == 0:
                monitor.on_batch_end(trainer, logs)

    def on_epoch_end(self, trainer, logs):
        self._dispatch("on_epoch_end", trainer, logs)
        if self.verbose:
            self._announce(trainer)

    def on_train_end(self, trainer, logs):
        self._dispatch("on_train_end", trainer, logs)
        self.findings = self.collect(trainer)
        out_dir = getattr(trainer, "out_dir", None)
        if out_dir is not None:
            self.write(out_dir)
        if self.verbose:
            print(self.report, file=sys.stderr, flush=True)

    def _dispatch(self, hook, trainer, logs):
        for monitor in self.monitors.values():
            getattr(monitor, hook)(trainer, logs)

    # ------------------------------------------------------------------ verdicts
    def collect(self, trainer) -> list[Finding]:
        """Every monitor's findings and the train/validation diagnosis, for the run so far."""
        findings = self._monitor_findings()
        update = self.monitors.get("update_ratio")
        ratio = median(update.medians().values()) if update is not None else None
        loss = self.monitors.get("loss")
        if loss is not None:
            findings += loss.findings(trainer, update_ratio=ratio)
        chance = 1.0 / loss.num_classes if loss is not None and loss.num_classes else None
        # The callbacks tell the diagnosis whether the best model is already kept (EarlyStopping,
        # ModelCheckpoint), so it does not advise what the run already does.
        callbacks = getattr(getattr(trainer, "callbacks", None), "callbacks", ())
        findings += diagnose(trainer.history, good_accuracy=self.good_accuracy, gap=self.gap, chance_accuracy=chance,
                             callbacks=callbacks)
        return findings

    def _monitor_findings(self) -> list[Finding]:
        return [finding for monitor in self.monitors.values() if isinstance(monitor, SampledMonitor)
                for finding in monitor.findings()]

    def _announce(self, trainer):
        """Print problems as soon as they show; the train/validation verdict waits for the end."""
        for finding in self._monitor_findings():
            if finding.status != "ok" and finding.name not in self._announced:
                self._announced.add(finding.name)
                print(f"epoch {trainer.epoch}: {finding}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        """The sampled statistics as written to monitors.json."""
        data = {"every": self.every}
        data.update({section: monitor.to_dict() for section, monitor in self.monitors.items()})
        return jsonable(data)

    def write(self, out_dir) -> None:
        """Write monitors.json and add the findings to findings.json in ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / "monitors.json", self.to_dict())
        path = out_dir / "findings.json"
        kept = [row for row in _read_findings(path) if row.get("name") not in LIVE_FINDINGS]
        write_json(path, {"findings": kept + [jsonable(finding.to_dict()) for finding in self.findings]})

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict:
        return {section: monitor.state_dict() for section, monitor in self.monitors.items()}

    def load_state_dict(self, state: dict) -> None:
        for section, monitor in self.monitors.items():
            if section in state:
                monitor.load_state_dict(state[section])


def _read_findings(path: Path) -> list[dict]:
    """The findings already in ``path`` (the pre-flight checks); an unreadable file is replaced, with a warning."""
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text()).get("findings")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as error:
        warnings.warn(f"Babysitter: {path} could not be read ({error}); writing only the live findings",
                      stacklevel=3)
        return []
    if not isinstance(rows, list):
        warnings.warn(f"Babysitter: {path} should hold {{'findings': [...]}}, got {type(rows).__name__}; "
                      "writing only the live findings", stacklevel=3)
        return []
    return [row for row in rows if isinstance(row, dict)]

