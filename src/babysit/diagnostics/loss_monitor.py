"""What the loss curve says about the learning rate and the initialization (CS231n's loss plots).

- NaN/inf, a loss that ends above where it started, or one that ever exceeds 3x its initial
  value: the learning rate is too high.
- A loss that barely moves over the whole run: the learning rate is too low.
- A loss that sits at its chance value for a while and only then drops: a bad initialization.

It reads the per-batch losses the Trainer already keeps (``trainer.history.batch_loss``), so
it costs nothing per step.
"""

from __future__ import annotations

import math
import re

import numpy as np

from babysit.diagnostics.findings import Finding
from babysit.train.callbacks.base import Callback

#: Words in ``trainer.stop_reason`` that mean the run blew up (ExplosionGuard, TerminateOnNaN,
#: the Trainer's own stop on a non-finite loss).
_DIVERGED = re.compile(r"nan|inf|finite|explo|diverg|exceed", re.IGNORECASE)


class LossMonitor(Callback):
    """Diagnose the learning rate and the initialization from the batch losses.

    Parameters
    ----------
    plateau_fraction : float
        The start of the run that is checked for a plateau: this fraction of the first
        epoch (at least ``plateau_min_steps`` batches).
    plateau_min_steps : int
    plateau_level : float
        "Not below ~chance": the loss at the end of that start is at least this fraction of
        the chance loss (``loss.chance_loss(C)``; the initial loss when there is none).
    flat : float
        A change of less than this fraction of the initial loss is "not moving": over the
        start (a plateau, when the loss falls later) or over the whole run (lr too low).
    rise : float
        A loss that ends more than this fraction above its start is rising.
    explosion_factor : float
        A batch loss above this multiple of the initial loss means the run blew up (the
        lecture's 3x rule).
    """

    section = "loss"

    def __init__(self, *, plateau_fraction: float = 0.25, plateau_min_steps: int = 5, plateau_level: float = 0.95,
                 flat: float = 0.02, rise: float = 0.1, explosion_factor: float = 3.0):
        if not 0 < plateau_fraction <= 1 or not 0 < flat < 1 or not rise > 0 or not explosion_factor > 1:
            raise ValueError(f"LossMonitor: need 0 < plateau_fraction <= 1, 0 < flat < 1, rise > 0 and "
                             f"explosion_factor > 1, got {plateau_fraction}, {flat}, {rise}, {explosion_factor}")
        self.plateau_fraction, self.plateau_min_steps = float(plateau_fraction), int(plateau_min_steps)
        self.plateau_level, self.flat, self.rise = float(plateau_level), float(flat), float(rise)
        self.explosion_factor = float(explosion_factor)
        self.num_classes: int | None = None
        self.steps_first_epoch: int | None = None
        self._handle = None

    def on_train_begin(self, trainer, logs):
        if self.num_classes is None and getattr(trainer.loss, "takes_labels", False):
            # the number of classes is the width of the scores: read it off the first forward pass
            self._handle = trainer.model.register_forward_hook(self._read_classes)

    def _read_classes(self, module, x, out):
        self.num_classes = int(np.shape(out)[-1]) if np.ndim(out) >= 2 else None
        self._handle.remove()

    def on_epoch_end(self, trainer, logs):
        if self.steps_first_epoch is None:
            self.steps_first_epoch = int(trainer.step)

    def on_train_end(self, trainer, logs):
        if self._handle is not None:
            self._handle.remove()

    def state_dict(self) -> dict:
        return {"num_classes": self.num_classes, "steps_first_epoch": self.steps_first_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.num_classes = state.get("num_classes")
        self.steps_first_epoch = state.get("steps_first_epoch")

    def to_dict(self) -> dict:
        return {"num_classes": self.num_classes, "steps_first_epoch": self.steps_first_epoch}

    def chance_loss(self, trainer) -> float | None:
        """The loss of an untrained classifier (ln C for softmax), when the loss defines one."""
        if self.num_classes is None or not hasattr(trainer.loss, "chance_loss"):
            return None
        return trainer.loss.chance_loss(self.num_classes) or None

    # ------------------------------------------------------------------ verdict
    def findings(self, trainer, update_ratio: float | None = None) -> list[Finding]:
        """``loss_progress`` (lr too low / too high) and ``loss_plateau_start`` (bad init).

        ``update_ratio`` (the median update/weight ratio, when an :class:`UpdateRatioMonitor`
        ran) sharpens the advice: a stuck loss with tiny updates is a too-low learning rate,
        a stuck loss with normal updates is something else.
        """
        losses = np.asarray(trainer.history.batch_loss, dtype=float)
        if losses.size == 0:
            return []
        return [self._progress(trainer, losses, update_ratio), self._plateau(trainer, losses)]

    def _progress(self, trainer, losses, update_ratio) -> Finding:
        window = max(1, min(len(losses) // 10, 50))
        start, end = _mean(losses[:window]), _mean(losses[-window:])
        initial = float(losses[0])
        expected = "a loss that falls and stays finite"
        data = {"start": start, "end": end, "initial": initial, "window": window, "verdict": "ok"}
        stop_reason = getattr(trainer, "stop_reason", None)
        bad = np.flatnonzero(~np.isfinite(losses))
        too_high = ("the learning rate is too high: lower it (try 3-10x lower, or run the learning-rate range "
                    "test); if it only happens late, a decaying schedule or gradient clipping helps")
        if bad.size:
            data["verdict"] = "too_high"
            return Finding("loss_progress", "fail", f"the loss became {losses[bad[0]]} at step {bad[0]}", expected,
                           too_high, data)
        if stop_reason and _DIVERGED.search(str(stop_reason)):
            data.update(verdict="too_high", stop_reason=str(stop_reason))
            return Finding("loss_progress", "fail", f"training was stopped: {stop_reason}", expected, too_high, data)
        peak = int(np.argmax(losses))
        if initial > 0 and losses[peak] > self.explosion_factor * initial:
            data.update(verdict="too_high", peak=float(losses[peak]), peak_step=peak)
            measured = (f"the loss reached {losses[peak]:.3g} at step {peak}, over {self.explosion_factor:g}x its "
                        f"initial {initial:.3g}")
            if end < start:  # it blew up and came back: at the edge rather than beyond it
                return Finding("loss_progress", "warn", f"{measured}, then recovered to {end:.3g}", expected,
                               "the learning rate is at the edge of too high (a spike the run survived, often "
                               "killing ReLUs on the way): lower it 2-3x, or warm it up over the first steps", data)
            return Finding("loss_progress", "fail", measured, expected, too_high, data)
        measured = f"mean loss {start:.4g} over the first {window} batches, {end:.4g} over the last {window}"
        scale = abs(start) if start != 0 else 1.0
        if end > start + self.rise * scale:
            data["verdict"] = "too_high"
            return Finding("loss_progress", "fail", measured + " (rising)", expected, too_high, data)
        if start - end < self.flat * scale and len(losses) >= 2 * window:
            data["verdict"] = "too_low"
            return Finding("loss_progress", "warn", measured + " (barely moving)", expected,
                           _stuck_advice(update_ratio), data)
        return Finding("loss_progress", "ok", measured, expected, data=data)

    def _plateau(self, trainer, losses) -> Finding:
        per_epoch = self.steps_first_epoch or (len(losses) // max(1, len(trainer.history.epochs)) or len(losses))
        length = max(self.plateau_min_steps, math.ceil(self.plateau_fraction * per_epoch))
        expected = "the loss falls below its chance value from the first steps"
        chance = self.chance_loss(trainer)
        window = max(1, length // 4)
        if len(losses) < 2 * length or not np.isfinite(losses).all():
            return Finding("loss_plateau_start", "ok", f"{len(losses)} batches", expected,
                           data={"checked": False, "steps": length})
        first, at = _mean(losses[:window]), _mean(losses[length - window:length])
        reference = chance if chance is not None else first
        later = float(np.min(_smooth(losses[length:], window)))
        data = {"checked": True, "steps": length, "first": first, "at_end_of_start": at, "later_min": later,
                "chance": chance}
        flat = abs(first - at) < self.flat * abs(first) if first else at == first
        plateau = at >= self.plateau_level * reference and flat
        falls_later = later < at - 4 * self.flat * abs(at)  # otherwise it is "barely moving", not a plateau
        what = f"its chance value {chance:.3f}" if chance is not None else f"its initial value {first:.3f}"
        measured = f"mean loss {at:.3f} after {length} batches ({what}), lowest later {later:.3f}"
        if plateau and falls_later:
            return Finding("loss_plateau_start", "warn", measured, expected,
                           f"the loss sat at {what} for the first {length} batches and only then fell: a "
                           "plateau at the start is the sign "
                           "of a bad initialization (weights too small, so the signal and its gradient vanish at "
                           "first); use He init for ReLU, Xavier for tanh, or batch normalization", data)
        return Finding("loss_plateau_start", "ok", measured, expected, data=data)


def _stuck_advice(update_ratio: float | None, target: float = 1e-3) -> str:
    """Why a loss does not move, using the update/weight ratio when there is one."""
    if update_ratio == 0.0:
        return ("the weights do not change at all (update/weight ratio 0): no gradient reaches them, which no "
                "learning rate fixes; look for dead ReLUs (a large negative bias, a too-high learning rate "
                "earlier), fully saturated units, or a layer cut off from the loss")
    known = update_ratio is not None and math.isfinite(update_ratio)
    if known and update_ratio >= target / 3:
        return (f"the loss is stuck although the weights move normally (update/weight ratio {update_ratio:.1e}): "
                "not the learning rate; look for dead or saturated units, vanishing gradients, a bad "
                "initialization or labels that do not match the inputs")
    evidence = f" (the update/weight ratio, {update_ratio:.1e}, is below the {target:.0e} target)" if known else ""
    return (f"the learning rate is too low{evidence}: raise it about 10x at a time, or run the learning-rate "
            "range test to find the usable range")


def _mean(values) -> float:
    return float(np.mean(values))


def _smooth(values, window: int) -> np.ndarray:
    """Moving average over ``window`` batches (the batch losses are noisy)."""
    if len(values) < window:
        return np.array([_mean(values)])
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    return (cumulative[window:] - cumulative[:-window]) / window
