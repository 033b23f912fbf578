"""Combinators: a linear warm-up on any schedule, and schedules joined one after another in time."""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from typing import ClassVar

from babysit.schedules.base import Schedule, ScheduleLike, as_schedule, check_positive_int, increasing_ints


@dataclasses.dataclass(frozen=True)
class LinearWarmup(Schedule):
    """``schedule(t)`` times a factor rising linearly from ``start_factor`` to 1 over ``warmup_steps``.

    ``factor(t) = start_factor + (1 - start_factor) * min(t, warmup_steps) / warmup_steps``
    (Goyal et al. 2017's gradual warm-up; PyTorch ``LinearLR(start_factor,
    total_iters=warmup_steps)``, chained with the wrapped schedule). ``schedule`` may be
    a number. To warm up first and start another schedule's clock afterwards, use
    :func:`join`.
    """

    name: ClassVar[str] = "linear_warmup"
    schedule: ScheduleLike
    warmup_steps: int
    start_factor: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "schedule", as_schedule(self.schedule))
        check_positive_int(self, "warmup_steps")
        if not 0.0 <= self.start_factor <= 1.0:
            raise ValueError(f"linear_warmup: start_factor must be in [0, 1], got {self.start_factor}")

    def value(self, step):
        progress = min(step, self.warmup_steps) / self.warmup_steps
        return self.schedule(step) * (self.start_factor + (1.0 - self.start_factor) * progress)


@dataclasses.dataclass(frozen=True)
class Join(Schedule):
    """Run ``schedules[0]`` until ``boundaries[0]``, then ``schedules[1]`` from its own step 0, ...

    ``lr(t) = schedules[i](t - boundaries[i - 1])`` for ``boundaries[i - 1] <= t < boundaries[i]``
    (PyTorch ``SequentialLR(schedulers, milestones=boundaries)``). Numbers are constants.
    """

    name: ClassVar[str] = "join"
    schedules: tuple[ScheduleLike, ...]
    boundaries: tuple[int, ...]

    def __post_init__(self):
        schedules = tuple(as_schedule(s) for s in self.schedules)
        boundaries = increasing_ints(self, "boundaries", self.boundaries)
        if not schedules or len(boundaries) != len(schedules) - 1:
            raise ValueError(
                f"join: needs one boundary fewer than schedules, got {len(schedules)} schedules and "
                f"{len(boundaries)} boundaries"
            )
        if boundaries and boundaries[0] < 1:
            raise ValueError(f"join: boundaries must be >= 1, got {list(boundaries)}")
        object.__setattr__(self, "schedules", schedules)
        object.__setattr__(self, "boundaries", boundaries)

    def value(self, step):
        index = bisect_right(self.boundaries, step)
        start = self.boundaries[index - 1] if index else 0
        return self.schedules[index](step - start)


def linear_warmup(schedule, warmup_steps: int, start_factor: float = 0.0) -> LinearWarmup:
    """Scale ``schedule`` (or a constant rate) by a linear ramp to 1 over ``warmup_steps``."""
    return LinearWarmup(schedule, warmup_steps, start_factor)


def join(schedules, boundaries) -> Join:
    """Chain schedules in time: each starts its own clock at its boundary."""
    return Join(tuple(schedules), tuple(boundaries))
