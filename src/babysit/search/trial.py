"""What an objective receives (:class:`Trial`) and the worker-side :func:`run_trial`.

An objective is ``objective(trial) -> float``: it trains a model with ``trial.params`` for
``trial.epochs`` epochs, seeded by ``trial.seed``, and returns the validation score (the
search maximizes it by default). Along the way it reports each epoch with
:meth:`Trial.report`, or lets the Trainer do so through :meth:`Trial.callbacks`, so the
trial can stop itself early:

- *early kill* (the lecture's rule): the loss turned NaN/inf or exceeds ``kill_factor``
  (3) times the first loss -> ``diverged``;
- *pruning* (successive halving): the score at a rung is below the bar the driver computed
  before submitting the trial (:mod:`babysit.search.pruning`) -> ``pruned``.

Everything a worker needs travels in a small picklable :class:`TrialSpec`; the worker
sends back a :class:`~babysit.search.records.TrialRecord`. :func:`run_trial` never raises.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from babysit.errors import BabysitError
from babysit.search.pruning import below_bar
from babysit.search.records import TrialRecord
from babysit.train.callbacks.base import Callback
from babysit.train.callbacks.explosion_guard import ExplosionGuard


class TrialPruned(BabysitError):
    """Raised by :meth:`Trial.report` when the score is below its rung's bar (successive halving)."""


class TrialDiverged(BabysitError):
    """Raised by :meth:`Trial.report` when the loss is NaN/inf or exceeds ``kill_factor`` x the first loss."""


@dataclass
class TrialSpec:
    """Everything a worker needs to run one trial (picklable, JSON-able)."""

    number: int
    stage: int
    params: dict
    epochs: int
    seed: int
    thresholds: dict = field(default_factory=dict)  # rung epoch -> the score needed there
    direction: str = "maximize"
    kill_factor: float | None = 3.0


def trial_seed(seed: int, stage: int, number: int) -> int:
    """The seed of trial ``number`` of ``stage``: a re-run trial gets the same one."""
    return int(np.random.SeedSequence(seed, spawn_key=(stage, number, 1)).generate_state(1)[0])


class Trial:
    """One trial, as its objective sees it.

    Attributes
    ----------
    params : dict
        The hyperparameters to train with.
    epochs : int
        The budget: how many epochs to train.
    seed : int
        Seed every random thing with it (``trial.rng`` is ``default_rng(seed)``).
    number, stage : int
    curve : list of dict
        The rows reported so far: ``{"epoch", "score", "loss"}``.
    status : str
        ``running``, or ``diverged`` / ``pruned`` once the trial stopped itself.
    stop_reason : str or None
        Why, in words.
    """

    def __init__(self, spec: TrialSpec):
        self.spec = spec
        self.params = dict(spec.params)
        self.epochs, self.seed, self.number, self.stage = spec.epochs, spec.seed, spec.number, spec.stage
        self.kill_factor, self.direction = spec.kill_factor, spec.direction
        self.thresholds = {int(rung): float(bar) for rung, bar in spec.thresholds.items()}
        self.rng = np.random.default_rng(spec.seed)
        self.curve: list[dict] = []
        self.status = "running"
        self.stop_reason: str | None = None
        self._first_loss: float | None = None
        self._judged: set[int] = set()

    def report(self, epoch: int, score: float | None = None, loss: float | None = None) -> None:
        """Record epoch ``epoch``'s validation ``score`` and training ``loss``; stop the trial if hopeless.

        Raises
        ------
        TrialDiverged
            ``loss`` (or ``score``) is NaN/inf, or ``loss > kill_factor * first loss``
            (CS231n: "if cost > 3 * original cost, break out early").
        TrialPruned
            ``score`` misses the bar of a rung ``<= epoch`` (successive halving).
        """
        self._record(epoch, score, loss, kill=self.kill_factor is not None)

    def _record(self, epoch, score, loss, kill: bool) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 1:
            raise ValueError(f"Trial.report: epoch must be an int >= 1, got {epoch!r}")
        if self.curve and epoch <= self.curve[-1]["epoch"]:
            raise ValueError(f"Trial.report: epochs must increase, got {epoch} after {self.curve[-1]['epoch']}")
        score, loss = _float_or_none(score, "score"), _float_or_none(loss, "loss")
        self.curve.append({"epoch": int(epoch), "score": score, "loss": loss})
        if self.status != "running":  # already stopped (an objective that caught the exception)
            return
        if kill:
            self._check_kill(epoch, score, loss)
        self._check_bars(epoch, score)

    def _check_kill(self, epoch, score, loss) -> None:
        if loss is not None and not math.isfinite(loss):
            self._stop(TrialDiverged, f"loss {loss} at epoch {epoch} is not finite")
        if score is not None and not math.isfinite(score):
            self._stop(TrialDiverged, f"score {score} at epoch {epoch} is not finite")
        if loss is None:
            return
        if self._first_loss is None:
            self._first_loss = loss
        elif self._first_loss > 0 and loss > self.kill_factor * self._first_loss:
            self._stop(TrialDiverged, f"loss {loss:.4g} at epoch {epoch} exceeds {self.kill_factor:g} x "
                                      f"the first loss {self._first_loss:.4g}")

    def _check_bars(self, epoch, score) -> None:
        if score is None or not math.isfinite(score):
            return
        for rung in sorted(self.thresholds):
            if rung > epoch or rung in self._judged:
                continue
            self._judged.add(rung)
            bar = self.thresholds[rung]
            if below_bar(score, bar, self.direction):
                better = "above" if self.direction == "maximize" else "below"
                self._stop(TrialPruned, f"pruned at epoch {epoch}: score {score:.4g} is not in the top of rung "
                                        f"{rung} (needed {better} {bar:.4g})")

    def _stop(self, error_type, reason: str):
        self.mark("diverged" if error_type is TrialDiverged else "pruned", reason)
        raise error_type(reason)

    def mark(self, status: str, reason: str) -> None:
        """Record that the trial stopped itself (``diverged`` or ``pruned``) without raising."""
        if status not in ("diverged", "pruned"):
            raise ValueError(f"Trial.mark: status must be 'diverged' or 'pruned', got {status!r}")
        if self.status == "running":
            self.status, self.stop_reason = status, reason

    def callbacks(self, monitor: str = "val_accuracy") -> list[Callback]:
        """Trainer callbacks that kill and prune this trial from inside ``Trainer.fit``.

        Per batch: stop at a NaN loss or one above ``kill_factor`` x the first batch loss
        (:class:`~babysit.train.callbacks.ExplosionGuard`). Per epoch: report ``monitor``
        (the score; a validation metric, never the test set) and the training loss, and
        stop when pruned. They stop the trainer and mark the trial instead of raising, so
        ``Trainer(..., callbacks=trial.callbacks()).fit(...)`` followed by ``return best
        score`` is recorded ``diverged`` or ``pruned``.
        """
        return [TrialCallback(self, monitor)]

    def __repr__(self):
        return f"Trial(number={self.number}, stage={self.stage}, params={self.params!r}, epochs={self.epochs})"


class TrialCallback(Callback):
    """The Trainer side of a :class:`Trial` (see :meth:`Trial.callbacks`)."""

    def __init__(self, trial: Trial, monitor: str = "val_accuracy"):
        self.trial, self.monitor = trial, monitor
        self.guard = None if trial.kill_factor is None else ExplosionGuard(trial.kill_factor)

    def on_train_begin(self, trainer, logs):
        if self.guard is not None:
            self.guard.on_train_begin(trainer, logs)

    def on_batch_end(self, trainer, logs):
        if self.guard is None or self.trial.status != "running":
            return
        self.guard.on_batch_end(trainer, logs)
        self._mark_if_diverged(trainer, "explosion_guard")

    def on_epoch_end(self, trainer, logs):
        self._mark_if_diverged(trainer, "non_finite_loss")  # the Trainer stops itself on a NaN
        if self.monitor not in logs:
            raise ValueError(f"Trial.callbacks: monitor {self.monitor!r} is not in the epoch row "
                             f"(it has {sorted(logs)}); pass val= to fit, or another monitor")
        try:  # the per-batch guard is the kill rule here: no epoch-level loss check on top
            self.trial._record(logs["epoch"], logs[self.monitor], logs.get("loss"), kill=False)
        except TrialPruned as error:
            trainer.stop(str(error), {"name": "pruned", "status": "warn", "measured": str(error),
                                      "expected": "a score in the top of its rung", "advice": "",
                                      "data": {"epoch": logs["epoch"]}})

    def _mark_if_diverged(self, trainer, name):
        details = trainer.stop_details or {}
        if trainer.stop_training and details.get("name") == name:
            self.trial.mark("diverged", trainer.stop_reason)


def run_trial(objective, spec: TrialSpec) -> TrialRecord:
    """Run ``objective`` on the trial ``spec`` describes and return its record; never raises.

    ``complete``: the objective returned a finite number. ``diverged``: it returned NaN/inf,
    or the trial was killed (:class:`TrialDiverged`, or the callbacks marked it).
    ``pruned``: :class:`TrialPruned`, or marked; its score is the last one reported.
    ``failed``: any other exception, recorded as its type, message and last traceback lines.
    """
    started = time.perf_counter()
    trial = Trial(spec)
    value, error = None, None
    try:
        value = objective(trial)
    except (TrialPruned, TrialDiverged):
        pass  # the trial marked itself
    except (Exception, SystemExit) as raised:  # a worker must always answer
        error = describe_error(raised)
    seconds = time.perf_counter() - started
    status, score, reason = _outcome(trial, value, error)
    return TrialRecord(number=spec.number, stage=spec.stage, params=dict(spec.params), status=status, score=score,
                       epochs=spec.epochs, curve=trial.curve, seed=spec.seed, seconds=seconds, error=reason)


def _outcome(trial: Trial, value, error):
    """(status, score, error text) from what the objective did."""
    last = _last_score(trial.curve)
    if trial.status != "running":  # it stopped itself; an error after that is a consequence
        reason = trial.stop_reason if error is None else f"{trial.stop_reason}; then the objective raised {error}"
        score = last if trial.status == "pruned" else _finite_or_none(value, last)
        return trial.status, score, reason
    if error is not None:
        return "failed", _finite_or_none(None, last), error
    try:
        score = float(value)
    except (TypeError, ValueError):
        return "failed", last, (f"TypeError: the objective returned {type(value).__name__} {value!r}; "
                                "expected the validation score as a float")
    if not math.isfinite(score):
        return "diverged", last, f"the objective returned {score}"
    return "complete", score, None


def _last_score(curve) -> float | None:
    scores = [row["score"] for row in curve if row["score"] is not None and math.isfinite(row["score"])]
    return scores[-1] if scores else None


def _finite_or_none(value, fallback):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return fallback
    return value if math.isfinite(value) else fallback


def _float_or_none(value, name):
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Trial.report: {name} must be a number or None, got {value!r}") from error


def describe_error(error: BaseException, frames: int = 3) -> str:
    """``Type: message`` and the last ``frames`` frames of its traceback (where it was raised)."""
    where = traceback.extract_tb(error.__traceback__)[-frames:]
    lines = [f"  at {frame.filename}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}" for frame in where]
    return "\n".join([f"{type(error).__name__}: {error}", *lines])
