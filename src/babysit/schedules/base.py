"""The Schedule base class, its registry and JSON round trip, and argument checks."""

from __future__ import annotations

import dataclasses
import itertools
import numbers
from collections.abc import Callable
from typing import ClassVar

#: What the rest of the library accepts where a learning rate may vary with the step.
ScheduleLike = Callable[[int], float]

#: Every schedule class by its function name; :func:`from_config` rebuilds from it.
SCHEDULES: dict[str, type[Schedule]] = {}


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Base of all schedules: callable on a step, comparable, saveable as JSON."""

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            SCHEDULES[cls.name] = cls

    def __call__(self, step) -> float:
        if not step >= 0:
            raise ValueError(f"{self.name}: step must be >= 0, got {step}")
        return float(self.value(step))

    def value(self, step) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement value(step) -> lr")

    def values(self, steps: int) -> list[float]:
        """The learning rates of steps ``0 .. steps - 1`` (for plots and tables)."""
        return [self(t) for t in range(steps)]

    def to_config(self) -> dict:
        """A JSON-ready dict: ``{"name": ..., <argument>: <value>, ...}``; nested schedules nest."""
        config = {"name": self.name}
        for field in dataclasses.fields(self):
            config[field.name] = _encode(getattr(self, field.name), f"{self.name}.{field.name}")
        return config


def from_config(config: dict) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_config`'s output."""
    config = dict(config)
    name = config.pop("name", None)
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {sorted(SCHEDULES)}")
    return SCHEDULES[name](**{key: _decode(value) for key, value in config.items()})


def as_schedule(lr) -> ScheduleLike:
    """A number becomes :func:`constant`; a schedule or any callable is returned as is."""
    if is_real(lr):
        from babysit.schedules.decay import Constant  # decay imports this module

        return Constant(lr)
    if callable(lr):
        return lr
    raise TypeError(f"expected a learning rate (number) or a schedule (callable step -> lr), got {lr!r}")


def check_nonnegative(schedule, field: str) -> None:
    value = getattr(schedule, field)
    if not is_real(value) or not value >= 0:
        raise ValueError(f"{schedule.name}: {field} must be a number >= 0, got {value!r}")
    object.__setattr__(schedule, field, float(value))  # numpy scalars become JSON-ready floats


def check_positive(schedule, field: str) -> None:
    value = getattr(schedule, field)
    if not is_real(value) or not value > 0:
        raise ValueError(f"{schedule.name}: {field} must be a number > 0, got {value!r}")
    object.__setattr__(schedule, field, float(value))


def check_positive_int(schedule, field: str) -> None:
    value = getattr(schedule, field)
    if not is_int(value) or value < 1:
        raise ValueError(f"{schedule.name}: {field} must be a positive int, got {value!r}")
    object.__setattr__(schedule, field, int(value))


def increasing_ints(schedule, field: str, values) -> tuple[int, ...]:
    values = tuple(values)
    if not all(is_int(v) and v >= 0 for v in values) or any(a >= b for a, b in itertools.pairwise(values)):
        raise ValueError(f"{schedule.name}: {field} must be increasing ints >= 0, got {list(values)}")
    return tuple(int(v) for v in values)


def is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _encode(value, where: str):
    if isinstance(value, Schedule):
        return value.to_config()
    if isinstance(value, tuple):
        return [_encode(item, where) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save {where}={value!r}: only babysit schedules, numbers and strings are stored")


def _decode(value):
    if isinstance(value, dict):
        return from_config(value)
    if isinstance(value, list):
        return tuple(_decode(item) for item in value)
    return value
