"""TerminateOnNaN: stop as soon as a batch loss is NaN or infinite."""

from __future__ import annotations

import math

from babysit.train.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Stop training at the first non-finite batch loss.

    The babysit losses already raise :class:`~babysit.errors.NonFiniteError` on NaN or
    infinite scores, and the Trainer always stops cleanly on it (``stop_reason`` set, the
    last good checkpoint kept). This callback covers what reaches ``on_batch_end`` without
    raising: a custom loss that returns NaN, or a penalty that overflows.
    """

    def on_batch_end(self, trainer, logs):
        loss = logs["loss"]
        if math.isfinite(loss):
            return
        trainer.stop(f"terminate on NaN: the loss is {loss} at step {logs['step']}", {
            "name": "non_finite_loss", "status": "fail", "measured": f"loss {loss} at step {logs['step']}",
            "expected": "a finite loss",
            "advice": "the learning rate is most likely too high: lower it 3-10x; else check the data and the init",
            "data": {"step": logs["step"], "loss": str(loss)},
        })
