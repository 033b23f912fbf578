"""The registry of gradient-check cases: every Module and Loss of the library appears here.

Each topic has its own file in this package defining ``MODULE_CASES`` and/or
``LOSS_CASES`` lists; :func:`all_module_cases` and :func:`all_loss_cases` gather them.
``tests/test_registry.py`` fails when a Module or Loss class of babysit is in no case.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ModuleCase:
    """A module to gradient-check: ``build(rng)`` makes it, it takes input of ``input_shape``."""

    name: str
    build: Callable
    input_shape: tuple
    modes: tuple = ("train", "eval")
    make_input: Callable | None = None  # (rng, shape) -> array; default standard normal
    tolerance: float = 1e-6

    def input(self, rng):
        if self.make_input is not None:
            return self.make_input(rng, self.input_shape)
        return rng.standard_normal(self.input_shape)


@dataclass
class LossCase:
    """A loss to gradient-check: ``make_data(rng) -> (scores, targets)``."""

    name: str
    build: Callable
    make_data: Callable
    tolerance: float = 1e-6
    extra: dict = field(default_factory=dict)


def _case_modules():
    for info in pkgutil.iter_modules(__path__):
        yield importlib.import_module(f"{__name__}.{info.name}")


def all_module_cases() -> list[ModuleCase]:
    return [case for module in _case_modules() for case in getattr(module, "MODULE_CASES", [])]


def all_loss_cases() -> list[LossCase]:
    return [case for module in _case_modules() for case in getattr(module, "LOSS_CASES", [])]


def away_from_zero(rng, shape, margin=0.05):
    """Standard-normal values pushed at least ``margin`` away from 0 (ReLU-like kinks)."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)
