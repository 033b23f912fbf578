"""Decaying schedules: constant, step, multistep, exponential, 1/t, cosine, and SGDR."""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_right
from typing import ClassVar

from babysit.schedules.base import Schedule, check_nonnegative, check_positive, check_positive_int, increasing_ints


@dataclasses.dataclass(frozen=True)
class Constant(Schedule):
    """``lr`` at every step."""

    name: ClassVar[str] = "constant"
    lr: float

    def __post_init__(self):
        check_nonnegative(self, "lr")

    def value(self, step):
        return self.lr


@dataclasses.dataclass(frozen=True)
class StepDecay(Schedule):
    """``lr * gamma ** (t // step_size)`` (PyTorch ``StepLR``)."""

    name: ClassVar[str] = "step_decay"
    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        check_nonnegative(self, "lr")
        check_positive_int(self, "step_size")
        check_positive(self, "gamma")

    def value(self, step):
        return self.lr * self.gamma ** (step // self.step_size)


@dataclasses.dataclass(frozen=True)
class Multistep(Schedule):
    """``lr * gamma ** (number of milestones <= t)`` (PyTorch ``MultiStepLR``)."""

    name: ClassVar[str] = "multistep"
    lr: float
    milestones: tuple[int, ...]
    gamma: float = 0.1

    def __post_init__(self):
        check_nonnegative(self, "lr")
        check_positive(self, "gamma")
        object.__setattr__(self, "milestones", increasing_ints(self, "milestones", self.milestones))

    def value(self, step):
        return self.lr * self.gamma ** bisect_right(self.milestones, step)


@dataclasses.dataclass(frozen=True)
class Exponential(Schedule):
    """``lr * gamma ** t`` (PyTorch ``ExponentialLR``)."""

    name: ClassVar[str] = "exponential"
    lr: float
    gamma: float

    def __post_init__(self):
        check_nonnegative(self, "lr")
        check_positive(self, "gamma")

    def value(self, step):
        return self.lr * self.gamma**step


@dataclasses.dataclass(frozen=True)
class InverseTime(Schedule):
    """``lr / (1 + decay_rate * t / decay_steps)``: CS231n's 1/t decay (Keras ``InverseTimeDecay``).

    With ``staircase`` the ratio ``t / decay_steps`` is floored.
    """

    name: ClassVar[str] = "inverse_time"
    lr: float
    decay_rate: float
    decay_steps: int = 1
    staircase: bool = False

    def __post_init__(self):
        check_nonnegative(self, "lr")
        check_nonnegative(self, "decay_rate")
        check_positive_int(self, "decay_steps")

    def value(self, step):
        ratio = step // self.decay_steps if self.staircase else step / self.decay_steps
        return self.lr / (1.0 + self.decay_rate * ratio)


@dataclasses.dataclass(frozen=True)
class Cosine(Schedule):
    """``min_lr + (lr - min_lr) * (1 + cos(pi * t / total_steps)) / 2``, then ``min_lr``.

    PyTorch's ``CosineAnnealingLR`` (T_max = total_steps, eta_min = min_lr) for
    ``t <= total_steps``; after that PyTorch's curve rises again, this one stays at ``min_lr``.
    """

    name: ClassVar[str] = "cosine"
    lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self):
        check_nonnegative(self, "lr")
        check_positive_int(self, "total_steps")
        check_nonnegative(self, "min_lr")

    def value(self, step):
        return _cosine(self.lr, self.min_lr, min(step, self.total_steps) / self.total_steps)


@dataclasses.dataclass(frozen=True)
class WarmRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2016).

    The first cycle lasts ``t0`` steps, each next one ``t_mult`` times longer; within a cycle
    of length T_i, ``lr(t) = min_lr + (lr - min_lr) * (1 + cos(pi * T_cur / T_i)) / 2`` with
    T_cur the steps since the last restart (PyTorch ``CosineAnnealingWarmRestarts``).
    Pairs with snapshot ensembles: save a model at the end of each cycle.
    """

    name: ClassVar[str] = "warm_restarts"
    lr: float
    t0: int
    t_mult: int = 1
    min_lr: float = 0.0

    def __post_init__(self):
        check_nonnegative(self, "lr")
        check_positive_int(self, "t0")
        check_positive_int(self, "t_mult")
        check_nonnegative(self, "min_lr")

    def cycle_position(self, step) -> tuple[float, int]:
        """``(T_cur, T_i)``: steps into the current cycle and that cycle's length."""
        if self.t_mult == 1:
            return step % self.t0, self.t0
        t_cur, t_i = step, self.t0
        while t_cur >= t_i:
            t_cur, t_i = t_cur - t_i, t_i * self.t_mult
        return t_cur, t_i

    def value(self, step):
        t_cur, t_i = self.cycle_position(step)
        return _cosine(self.lr, self.min_lr, t_cur / t_i)


def constant(lr: float) -> Constant:
    """The same rate at every step."""
    return Constant(lr)


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> StepDecay:
    """Multiply the rate by ``gamma`` every ``step_size`` steps (CS231n: halve it every few epochs)."""
    return StepDecay(lr, step_size, gamma)


def multistep(lr: float, milestones, gamma: float = 0.1) -> Multistep:
    """Multiply the rate by ``gamma`` at each milestone step (ResNet: x0.1 at epochs 30, 60, 90)."""
    return Multistep(lr, tuple(milestones), gamma)


def exponential(lr: float, gamma: float) -> Exponential:
    """``lr * gamma ** t``."""
    return Exponential(lr, gamma)


def inverse_time(lr: float, decay_rate: float, decay_steps: int = 1, staircase: bool = False) -> InverseTime:
    """1/t decay, ``lr / (1 + decay_rate * t / decay_steps)``."""
    return InverseTime(lr, decay_rate, decay_steps, staircase)


def cosine(lr: float, total_steps: int, min_lr: float = 0.0) -> Cosine:
    """Half a cosine from ``lr`` down to ``min_lr`` over ``total_steps`` (Loshchilov & Hutter 2016)."""
    return Cosine(lr, total_steps, min_lr)


def warm_restarts(lr: float, t0: int, t_mult: int = 1, min_lr: float = 0.0) -> WarmRestarts:
    """SGDR: cosine cycles of ``t0``, ``t0 * t_mult``, ... steps, each restarting at ``lr``."""
    return WarmRestarts(lr, t0, t_mult, min_lr)


def _cosine(high: float, low: float, fraction: float) -> float:
    return low + (high - low) * (1 + math.cos(math.pi * fraction)) / 2
