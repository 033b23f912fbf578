"""Named 2-D loss surfaces with exact gradients, for watching optimizers move.

- ``"taco"``: a long, narrow valley (steep across, shallow along) whose floor has two
  minima at ``(±2, 0)`` and a saddle point at the origin between them: the lecture's
  "taco shell" (SGD jitters across the valley and crawls along it) and its saddle
  point (the gradient vanishes, so plain SGD stalls there) in one picture.
- ``"rosenbrock"``: Rosenbrock's banana valley ``(1 - x)^2 + 100 (y - x^2)^2``, minimum (1, 1).
- ``"beale"``: Beale's function, flat plateaus and sharp ridges, minimum (3, 0.5).

Each function works elementwise on arrays (for contour grids) and on points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class Surface:
    """A 2-D loss ``f(x, y)`` with its gradient, a start point, known minima and a plot window.

    ``function(x, y)`` and ``partials(x, y) -> (df/dx, df/dy)`` take scalars or arrays.
    ``log_levels``: draw contours on a log scale (for surfaces spanning many decades);
    ``steps``: how long a race on it runs by default.
    """

    name: str
    function: Callable
    partials: Callable
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    log_levels: bool = False
    description: str = ""
    saddles: tuple[tuple[float, float], ...] = ()
    steps: int = 100

    def __call__(self, point) -> float:
        x, y = np.asarray(point, dtype=np.float64)
        return float(self.function(x, y))

    def gradient(self, point) -> np.ndarray:
        """``[df/dx, df/dy]`` at ``point`` (a length-2 array), as a float64 array."""
        x, y = np.asarray(point, dtype=np.float64)
        return np.array(self.partials(x, y), dtype=np.float64)

    def grid(self, resolution: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``X, Y, Z`` over the plot window, for ``contour``."""
        X, Y = np.meshgrid(np.linspace(*self.xlim, resolution), np.linspace(*self.ylim, resolution))
        return X, Y, self.function(X, Y)

    @property
    def minimum_value(self) -> float:
        return min(self(m) for m in self.minima)


# ------------------------------------------------------------------------------- taco
_TACO_ACROSS = 2.0  # f = _TACO_ALONG * (x^2 - 4)^2 + _TACO_ACROSS * y^2
_TACO_ALONG = 0.01


def _taco(x, y):
    return _TACO_ALONG * (x * x - 4.0) ** 2 + _TACO_ACROSS * y * y


def _taco_partials(x, y):
    return 4.0 * _TACO_ALONG * x * (x * x - 4.0), 2.0 * _TACO_ACROSS * y


# ------------------------------------------------------------------------- rosenbrock
def _rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _rosenbrock_partials(x, y):
    return -2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)


# ------------------------------------------------------------------------------ beale
def _beale_terms(x, y):
    return 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y**3


def _beale(x, y):
    a, b, c = _beale_terms(x, y)
    return a * a + b * b + c * c


def _beale_partials(x, y):
    a, b, c = _beale_terms(x, y)
    dx = 2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y**3 - 1)
    dy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y * y
    return dx, dy


SURFACES: dict[str, Surface] = {
    "taco": Surface(
        "taco", _taco, _taco_partials, start=(0.05, 1.4), minima=((-2.0, 0.0), (2.0, 0.0)),
        xlim=(-3.0, 3.0), ylim=(-1.6, 1.6),
        description="long narrow valley (curvature 4 across, 0.32 along at the minima) with a saddle at (0, 0)",
        saddles=((0.0, 0.0),), steps=50,
    ),
    "rosenbrock": Surface(
        "rosenbrock", _rosenbrock, _rosenbrock_partials, start=(-1.2, 1.0), minima=((1.0, 1.0),),
        xlim=(-2.0, 2.0), ylim=(-1.0, 3.0), log_levels=True,
        description="Rosenbrock's curved banana valley, minimum 0 at (1, 1)", steps=500,
    ),
    "beale": Surface(
        "beale", _beale, _beale_partials, start=(1.0, 1.5), minima=((3.0, 0.5),),
        xlim=(-4.5, 4.5), ylim=(-4.5, 4.5), log_levels=True,
        description="Beale's function: plateaus and steep ridges, minimum 0 at (3, 0.5)", steps=300,
    ),
}


def get_surface(surface) -> Surface:
    """A :class:`Surface` by name (``"taco"``, ``"rosenbrock"``, ``"beale"``) or the surface itself."""
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; choose one of {sorted(SURFACES)}")
    return SURFACES[surface]
