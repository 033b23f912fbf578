"""Cyclical schedules: triangular cycles (Smith 2017) and the one-cycle policy (Smith 2018)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import ClassVar

from babysit.schedules.base import Schedule, check_nonnegative, check_positive, check_positive_int

_MODES = ("triangular", "triangular2", "exp_range")
_ANNEALING = ("cos", "linear")


@dataclasses.dataclass(frozen=True)
class Cyclical(Schedule):
    """Cyclical learning rates (Smith 2017, "Cyclical Learning Rates for Training Neural Networks").

    The rate climbs linearly from ``base_lr`` to ``max_lr`` over ``step_size`` steps and
    back over ``step_size_down`` (default: the same). ``mode``: "triangular" keeps the
    amplitude, "triangular2" halves it every cycle, "exp_range" scales it by ``gamma ** t``.
    :meth:`momentum` gives the inverse cycle between ``max_momentum`` and ``base_momentum``.
    Equals PyTorch ``CyclicLR(step_size_up=step_size)``.
    """

    name: ClassVar[str] = "cyclical"
    base_lr: float
    max_lr: float
    step_size: int
    mode: str = "triangular"
    gamma: float = 1.0
    step_size_down: int | None = None
    base_momentum: float = 0.8
    max_momentum: float = 0.9

    def __post_init__(self):
        check_nonnegative(self, "base_lr")
        check_nonnegative(self, "max_lr")
        check_positive_int(self, "step_size")
        if self.step_size_down is not None:
            check_positive_int(self, "step_size_down")
        if self.mode not in _MODES:
            raise ValueError(f"cyclical: mode must be one of {_MODES}, got {self.mode!r}")
        check_positive(self, "gamma")

    def _phase(self, step) -> tuple[float, float]:
        """``(height, scale)``: position on the triangle in [0, 1] and the amplitude factor."""
        up = float(self.step_size)
        total = up + float(self.step_size if self.step_size_down is None else self.step_size_down)
        ratio = up / total
        cycle = math.floor(1 + step / total)
        x = 1.0 + step / total - cycle
        height = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        if self.mode == "triangular":
            return height, 1.0
        if self.mode == "triangular2":
            return height, 1 / (2.0 ** (cycle - 1))
        return height, self.gamma**step

    def value(self, step):
        height, scale = self._phase(step)
        return self.base_lr + (self.max_lr - self.base_lr) * height * scale

    def momentum(self, step) -> float:
        """Momentum at ``step``: high when the rate is low and low when it is high."""
        height, scale = self._phase(step)
        return float(self.max_momentum - (self.max_momentum - self.base_momentum) * height * scale)


@dataclasses.dataclass(frozen=True)
class OneCycle(Schedule):
    """The one-cycle policy (Smith 2018; Smith & Topin 2017, "Super-Convergence").

    Warm up from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then anneal to ``max_lr / (div_factor * final_div_factor)``; with
    ``three_phase`` it first anneals back to the initial rate and only then to the final
    one. ``anneal_strategy`` is "cos" or "linear". :meth:`momentum` runs the matching
    inverse cycle from ``max_momentum`` down to ``base_momentum`` and back. Equals PyTorch
    ``OneCycleLR`` for steps ``0 .. total_steps - 1``; later steps hold the final value.
    """

    name: ClassVar[str] = "one_cycle"
    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    base_momentum: float = 0.85
    max_momentum: float = 0.95

    def __post_init__(self):
        check_nonnegative(self, "max_lr")
        check_positive_int(self, "total_steps")
        check_positive(self, "div_factor")
        check_positive(self, "final_div_factor")
        if self.anneal_strategy not in _ANNEALING:
            raise ValueError(f"one_cycle: anneal_strategy must be one of {_ANNEALING}, got {self.anneal_strategy!r}")
        ends = [end for end, *_ in self._phases()]
        if not (ends[0] > 0 and all(a < b for a, b in itertools.pairwise(ends))):
            raise ValueError(
                f"one_cycle: pct_start={self.pct_start} with total_steps={self.total_steps} leaves a phase without "
                "steps; every phase needs at least one step (pct_start * total_steps > 1, and < 0.5 * total_steps "
                "with three_phase)"
            )

    def _phases(self) -> list[tuple[float, str, str]]:
        """``(end_step, start, end)`` per phase; start/end name a point: initial, max or final."""
        warm_end = float(self.pct_start * self.total_steps) - 1
        if self.three_phase:
            return [(warm_end, "initial", "max"), (float(2 * self.pct_start * self.total_steps) - 2, "max", "initial"),
                    (self.total_steps - 1, "initial", "final")]
        return [(warm_end, "initial", "max"), (self.total_steps - 1, "max", "final")]

    def _anneal(self, step, points: dict) -> float:
        step = min(step, self.total_steps - 1)
        start_step, phases = 0.0, self._phases()
        for index, (end_step, start, end) in enumerate(phases):
            if step <= end_step or index == len(phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                return _anneal(self.anneal_strategy, points[start], points[end], pct)
            start_step = end_step
        raise AssertionError("unreachable")

    def value(self, step):
        initial = self.max_lr / self.div_factor
        return self._anneal(step, {"initial": initial, "max": self.max_lr, "final": initial / self.final_div_factor})

    def momentum(self, step) -> float:
        """Momentum (or Adam's beta1) at ``step``: ``max_momentum`` where the rate is lowest."""
        points = {"initial": self.max_momentum, "max": self.base_momentum, "final": self.max_momentum}
        return float(self._anneal(step, points))


def cyclical(base_lr: float, max_lr: float, step_size: int, mode: str = "triangular", *, gamma: float = 1.0,
             step_size_down: int | None = None, base_momentum: float = 0.8, max_momentum: float = 0.9) -> Cyclical:
    """Triangular cycles between ``base_lr`` and ``max_lr`` (Smith 2017); see :class:`Cyclical`."""
    return Cyclical(base_lr, max_lr, step_size, mode, gamma, step_size_down, base_momentum, max_momentum)


def one_cycle(max_lr: float, total_steps: int, *, pct_start: float = 0.3, anneal_strategy: str = "cos",
              div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
              base_momentum: float = 0.85, max_momentum: float = 0.95) -> OneCycle:
    """One warm-up-then-anneal cycle over the whole run (Smith 2018); see :class:`OneCycle`."""
    return OneCycle(max_lr, total_steps, pct_start, anneal_strategy, div_factor, final_div_factor, three_phase,
                    base_momentum, max_momentum)


def _anneal(strategy: str, start: float, end: float, pct: float) -> float:
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start
