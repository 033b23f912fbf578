"""ExplosionGuard: the lecture's rule, stop a run as soon as its cost exceeds 3x the initial cost."""

from __future__ import annotations

import math

from babysit.train.callbacks.base import Callback


class ExplosionGuard(Callback):
    """Stop as soon as a batch loss exceeds ``factor`` times the run's first batch loss.

    CS231n's hyperparameter search loop breaks out early when "cost > 3 * original
    cost": a loss that has tripled will not come back, and a search should not spend
    its budget on it. A non-finite loss counts as an explosion too.

    Parameters
    ----------
    factor : float > 1
        3 in the lecture.

    Notes
    -----
    The initial cost is the first batch loss of the run (kept in :meth:`state_dict`, so
    a resumed run compares with the same value). Losses are non-negative; when the first
    one is 0 there is nothing to be a multiple of, and the guard stays silent.
    """

    def __init__(self, factor: float = 3.0):
        if not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor <= 1:
            raise ValueError(f"ExplosionGuard: factor must be a finite number > 1, got {factor!r}")
        self.factor = float(factor)
        self.initial = None

    def on_train_begin(self, trainer, logs):
        self.initial = None

    def on_batch_end(self, trainer, logs):
        loss, step = logs["loss"], logs["step"]
        if self.initial is None and math.isfinite(loss):
            self.initial = loss
            return
        if math.isfinite(loss) and not (self.initial > 0 and loss > self.factor * self.initial):
            return
        initial = "none (no finite loss yet)" if self.initial is None else f"{self.initial:.4g}"
        trainer.stop(
            f"explosion guard: loss {loss:.4g} at step {step} exceeds {self.factor:g} x the initial loss {initial}",
            {"name": "explosion_guard", "status": "fail", "measured": f"loss {loss:.4g} at step {step}",
             "expected": f"at most {self.factor:g} x the initial loss {initial}",
             "advice": "the learning rate is too high (or the data or the loss is broken): lower it 3-10x",
             "data": {"step": step, "loss": str(loss), "initial": self.initial, "factor": self.factor}})

    def state_dict(self) -> dict:
        return {"initial": self.initial}

    def load_state_dict(self, state: dict) -> None:
        self.initial = state["initial"]
