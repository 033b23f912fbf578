"""Learning-rate range test (Smith 2017, "Cyclical Learning Rates"; the lecture's lr search).

The learning rate grows exponentially from ``start_lr`` to ``end_lr`` over a few hundred
mini-batch steps while the loss is recorded. Where the loss starts to fall, the rate is
high enough to learn; where it blows up, too high. Runs on a copy of the model, so the
model passed in is left exactly as it was.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from babysit.backend import as_rng
from babysit.errors import NonFiniteError


@dataclass
class LRFinderResult:
    """Rates tried, raw and smoothed losses, and the range read off the curve."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    learns_from: float | None = None  # the smallest rate at which the loss clearly falls
    best_lr: float | None = None  # the rate at the lowest smoothed loss
    diverges_at: float | None = None  # the rate at which the loss blew up (None: never did)

    @property
    def suggested_lr(self) -> float | None:
        """A tenth of the rate at the lowest loss: fast, yet clear of the cliff."""
        return None if self.best_lr is None else self.best_lr / 10

    @property
    def usable_range(self) -> tuple[float, float] | None:
        if self.learns_from is None or self.best_lr is None:
            return None
        return self.learns_from, self.best_lr

    def to_dict(self) -> dict:
        return {"lrs": self.lrs, "losses": self.losses, "smoothed": self.smoothed, "learns_from": self.learns_from,
                "best_lr": self.best_lr, "diverges_at": self.diverges_at, "suggested_lr": self.suggested_lr}


def find_lr(model, loss, x, y, *, optimizer=None, start_lr: float = 1e-7, end_lr: float = 10.0, steps: int = 200,
            batch_size: int = 64, smoothing: float = 0.9, divergence_factor: float = 4.0, rng=None) -> LRFinderResult:
    """Run the range test on a copy of ``model``.

    Parameters
    ----------
    optimizer : callable ``(params, lr) -> Optimizer``, optional
        Defaults to SGD with momentum 0.9. Use the optimizer you will train with: the
        usable range depends on it (Adam's is typically 10-100x lower than SGD's).
    steps : int
        Number of rates tried, spaced geometrically between ``start_lr`` and ``end_lr``.
    smoothing : float
        Exponential moving average of the loss (bias-corrected), to read the trend.
    divergence_factor : float
        Stop once the smoothed loss exceeds this multiple of its best value.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"find_lr: need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    rng = as_rng(0 if rng is None else rng)
    model = copy.deepcopy(model)
    model.train()
    model.needs_input_grad = False
    optimizer = (optimizer or _default_optimizer)(model.parameters(), start_lr)
    lrs = np.geomspace(start_lr, end_lr, steps)
    x = np.asarray(x, dtype=model.dtype)
    result = LRFinderResult()
    average, best = 0.0, math.inf
    for step, lr in enumerate(lrs, start=1):
        for group in optimizer.param_groups:
            group["lr"] = float(lr)
        index = rng.choice(len(x), size=min(batch_size, len(x)), replace=False)
        try:
            with np.errstate(all="raise", under="ignore"):  # an overflow is a divergence, not a warning
                value = loss(model(x[index]), y[index])
                model.zero_grad()
                model.backward(loss.backward())
                optimizer.step()
        except (NonFiniteError, FloatingPointError):
            result.diverges_at = float(lr)
            break
        average = smoothing * average + (1 - smoothing) * value
        smoothed = average / (1 - smoothing**step)
        result.lrs.append(float(lr))
        result.losses.append(float(value))
        result.smoothed.append(float(smoothed))
        best = min(best, smoothed)
        if step > 10 and smoothed > divergence_factor * best:
            result.diverges_at = float(lr)
            break
    _read_curve(result)
    return result


def _read_curve(result: LRFinderResult) -> None:
    if len(result.smoothed) < 5:
        return
    smoothed = np.array(result.smoothed)
    lowest = int(smoothed.argmin())
    result.best_lr = result.lrs[lowest]
    start = smoothed[: max(3, len(smoothed) // 20)].mean()
    falling = np.nonzero(smoothed[: lowest + 1] < start - 0.1 * (start - smoothed[lowest]))[0]
    if len(falling) and smoothed[lowest] < 0.95 * start:
        result.learns_from = result.lrs[int(falling[0])]


def _default_optimizer(params, lr):
    from babysit.optim import SGD  # noqa: PLC0415 - optim imports nn; keep diagnostics importable alone

    return SGD(params, lr=lr, momentum=0.9)
