"""Gradient checking: analytic backward passes against centered differences, in float64.

CS231n's recipe: ``(f(x + h) - f(x - h)) / 2h`` with ``h ~ 1e-5``, relative error
``|a - n| / max(|a|, |n|)``; above 1e-2 the gradient is wrong, below 1e-7 it is right.
Random layers (dropout) see the same random numbers in every evaluation: the state of
every generator in the model is restored before each forward pass.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from babysit.backend import as_rng

#: Largest relative error the registry test accepts for a correct backward in float64.
DEFAULT_TOLERANCE = 1e-6


def relative_error(analytic, numeric, floor: float = 1e-12):
    """Elementwise ``|a - n| / max(|a|, |n|)``; entries where both are below ``floor`` count as 0."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    return np.abs(analytic - numeric) / denominator


def numerical_gradient(f, x, h: float = 1e-5, *, dout=None, indices=None):
    """Centered-difference gradient of ``f()`` with respect to the array ``x`` (perturbed in place).

    ``f`` takes no argument and reads ``x``. If ``dout`` is given, ``f`` returns an array
    and the gradient is that of ``sum(f() * dout)``; subtracting outputs before summing
    keeps the rounding error at the scale of single outputs. ``indices`` (a list of index
    tuples) restricts the check to a sample of coordinates; the others stay 0.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in indices if indices is not None else np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = np.array(f(), copy=True)  # the output may be a view of x (Flatten)
        x[index] = original - h
        minus = np.array(f(), copy=True)
        x[index] = original
        if dout is None:
            grad[index] = (plus - minus) / (2 * h)
        else:
            grad[index] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


@dataclass
class GradientRow:
    name: str
    shape: tuple
    checked: int
    max_error: float

    def __str__(self) -> str:
        return f"{self.name:<28} {self.shape!s:<18} {self.checked:>7} {self.max_error:>10.2e}"


@dataclass
class GradientReport:
    """Per-parameter (and input) maximum relative error between analytic and numerical gradients."""

    rows: list[GradientRow] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE

    @property
    def max_error(self) -> float:
        return max((row.max_error for row in self.rows), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error < self.tolerance

    def worst(self) -> GradientRow | None:
        return max(self.rows, key=lambda row: row.max_error, default=None)

    def __str__(self) -> str:
        header = f"{'gradient of':<28} {'shape':<18} {'checked':>7} {'max rel err':>10}"
        verdict = "ok" if self.passed else f"FAILED (tolerance {self.tolerance:.0e})"
        return "\n".join([header, *map(str, self.rows), f"max relative error {self.max_error:.2e}: {verdict}"])


def check_gradients(
    model, loss, x, y, *, h: float = 1e-5, max_coordinates: int | None = 50, tolerance: float = DEFAULT_TOLERANCE,
    rng=None, check_input: bool = True, floor: float = 1e-12,
) -> GradientReport:
    """Compare ``model.backward`` with centered differences of ``loss(model(x), y)``.

    Works on a float64 copy of the model (the model passed in is untouched), in the mode
    the model is in. At most ``max_coordinates`` coordinates per array are checked, drawn
    with ``rng`` (all of them when ``None``). Entries where both gradients are below
    ``floor`` count as agreeing: a gradient that is truly 0 (a bias before BatchNorm)
    has numerical noise of about ``1e-16 * |loss| / h``, which is not an error.
    """
    model = copy.deepcopy(model).to(np.float64)
    x = np.array(x, dtype=np.float64)
    rng = as_rng(0 if rng is None else rng)
    states = _generator_states(model)

    def evaluate():
        _restore_generators(model, states)
        return loss(model(x), y)

    model.zero_grad()
    model.needs_input_grad = True
    evaluate()
    dx = model.backward(loss.backward())
    report = GradientReport(tolerance=tolerance)
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            analytic = np.zeros(parameter.shape) if parameter.grad is None else parameter.grad
            report.rows.append(_compare(name, parameter.data, analytic, evaluate, h, max_coordinates, rng, floor=floor))
    if check_input:
        report.rows.append(_compare("input", x, dx, evaluate, h, max_coordinates, rng, floor=floor))
    return report


def check_module_gradients(module, x, *, dout=None, h: float = 1e-5, max_coordinates: int | None = None,
                           tolerance: float = DEFAULT_TOLERANCE, rng=None) -> GradientReport:
    """Check one module's backward against ``d/dθ sum(module(x) * dout)`` for a random ``dout``.

    The registry test runs this over every module of the library.
    """
    module = copy.deepcopy(module).to(np.float64)
    x = np.array(x, dtype=np.float64)
    rng = as_rng(0 if rng is None else rng)
    states = _generator_states(module)

    def evaluate():
        _restore_generators(module, states)
        return module(x)

    module.zero_grad()
    module.needs_input_grad = True
    out = evaluate()
    dout = rng.standard_normal(out.shape) if dout is None else np.asarray(dout, dtype=np.float64)
    dx = module.backward(dout.copy())
    report = GradientReport(tolerance=tolerance)
    for name, parameter in module.named_parameters():
        if parameter.requires_grad:
            analytic = np.zeros(parameter.shape) if parameter.grad is None else parameter.grad
            report.rows.append(_compare(name, parameter.data, analytic, evaluate, h, max_coordinates, rng, dout))
    report.rows.append(_compare("input", x, dx, evaluate, h, max_coordinates, rng, dout))
    return report


def _compare(name, array, analytic, evaluate, h, max_coordinates, rng, dout=None, floor=1e-12) -> GradientRow:
    indices = _sample_indices(array.shape, max_coordinates, rng)
    numeric = numerical_gradient(evaluate, array, h, dout=dout, indices=indices)
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != array.shape:
        return GradientRow(name, array.shape, 0, float("inf"))
    chosen = tuple(np.array(indices).T) if indices else ()
    errors = relative_error(analytic[chosen], numeric[chosen], floor) if indices else np.zeros(0)
    return GradientRow(name, array.shape, len(indices), float(errors.max(initial=0.0)))


def _sample_indices(shape, max_coordinates, rng) -> list[tuple]:
    size = int(np.prod(shape))
    if max_coordinates is None or size <= max_coordinates:
        return list(np.ndindex(shape))
    flat = np.sort(rng.choice(size, size=max_coordinates, replace=False))
    return [tuple(int(i) for i in index) for index in zip(*np.unravel_index(flat, shape), strict=True)]


def _generator_states(module) -> list:
    return [(m, name, copy.deepcopy(value.bit_generator.state))
            for m in module.modules() for name, value in vars(m).items()
            if isinstance(value, np.random.Generator)]


def _restore_generators(module, states) -> None:
    for owner, name, state in states:
        getattr(owner, name).bit_generator.state = copy.deepcopy(state)
