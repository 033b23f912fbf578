"""Optimizer race: every optimizer from the same start on a named 2-D loss surface.

The lecture's pictures (CS231n "Training Neural Networks II"): on a long narrow valley
plain SGD zig-zags across and crawls along it, and stalls near a saddle point; momentum
builds up speed along the valley; adaptive methods (AdaGrad, RMSProp, Adam) rescale
each coordinate and head for the minimum more directly.

>>> results = race("taco", steps=60)                     # doctest: +SKIP
>>> plot_race(results, "taco", "race.png")               # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from babysit.labs.surfaces import Surface, get_surface
from babysit.nn.module import Parameter

#: Beyond this distance from the origin a run counts as diverged and stops.
DIVERGED = 1e6

#: Learning rates per surface for :func:`default_optimizers` (SGD, Momentum, Nesterov,
#: AdaGrad, RMSProp, Adam), chosen so that each method shows its character in about a
#: hundred steps. On the taco, SGD's rate sits near its stability limit 2 / curvature = 0.5
#: across the valley, so it zig-zags; Nesterov diverges there (its limit is lower).
_DEFAULT_RATES = {
    "taco": (0.45, 0.1, 0.1, 0.2, 0.03, 0.1),
    "rosenbrock": (2e-3, 1e-3, 1e-3, 0.5, 0.01, 0.1),
    "beale": (3e-3, 1e-3, 1e-3, 0.5, 0.01, 0.05),
}


def default_optimizers(surface="taco") -> dict[str, tuple[type, dict]]:
    """The lecture's line-up with rates that suit ``surface``: SGD, momentum, Nesterov,
    AdaGrad, RMSProp and Adam, as ``{name: (OptimizerClass, kwargs)}``."""
    from babysit import optim  # imported here: the surfaces and race() need no optimizer module

    sgd, momentum, nesterov, adagrad, rmsprop, adam = _DEFAULT_RATES.get(get_surface(surface).name, (1e-2,) * 6)
    return {
        "SGD": (optim.SGD, {"lr": sgd}),
        "Momentum": (optim.SGD, {"lr": momentum, "momentum": 0.9}),
        "Nesterov": (optim.SGD, {"lr": nesterov, "momentum": 0.9, "nesterov": True}),
        "AdaGrad": (optim.Adagrad, {"lr": adagrad}),
        "RMSProp": (optim.RMSprop, {"lr": rmsprop, "alpha": 0.9}),
        "Adam": (optim.Adam, {"lr": adam}),
    }


def race(surface="taco", optimizers=None, steps: int | None = None, start=None) -> dict[str, np.ndarray]:
    """Run each optimizer for ``steps`` steps from the same ``start`` on ``surface``.

    Parameters
    ----------
    surface : str or Surface
        ``"taco"``, ``"rosenbrock"``, ``"beale"`` or a :class:`~babysit.labs.surfaces.Surface`.
    optimizers : dict name -> (OptimizerClass, kwargs), optional
        Classes with the babysit/torch interface ``Cls([param], **kwargs)`` and
        ``step(closure)``; default :func:`default_optimizers`.
    steps : int, optional
        Default: the surface's own (50 on the taco, where SGD is still stuck at the saddle).
    start : pair of floats, optional
        Default: the surface's own start point.

    Returns
    -------
    dict name -> array of shape (steps + 1, 2)
        Row ``t`` is the point after ``t`` steps (row 0 is ``start``). A run that leaves the
        plane (non-finite or beyond ``DIVERGED``) stops; its remaining rows are NaN.
    """
    surface = get_surface(surface)
    steps = surface.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"race: steps must be an int >= 0, got {steps!r}")
    start = np.array(surface.start if start is None else start, dtype=np.float64)
    if start.shape != (2,):
        raise ValueError(f"race: start must be a point (x, y), got shape {start.shape}")
    if optimizers is None:
        optimizers = default_optimizers(surface)
    return {name: _trajectory(surface, cls, dict(kwargs), steps, start) for name, (cls, kwargs) in optimizers.items()}


def _trajectory(surface: Surface, cls, kwargs: dict, steps: int, start: np.ndarray) -> np.ndarray:
    point = Parameter(start.copy())
    optimizer = cls([point], **kwargs)
    path = np.full((steps + 1, 2), np.nan)
    path[0] = start

    def closure():
        point.grad = surface.gradient(point.data)
        return surface(point.data)

    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is a result, not an error
        for t in range(1, steps + 1):
            optimizer.step(closure)
            if not np.all(np.isfinite(point.data)) or np.abs(point.data).max() > DIVERGED:
                break
            path[t] = point.data
    return path


def final_losses(results: dict[str, np.ndarray], surface) -> dict[str, float]:
    """The loss at each trajectory's last point (``inf`` for a run that diverged)."""
    surface = get_surface(surface)
    return {name: surface(path[-1]) if np.all(np.isfinite(path[-1])) else float("inf")
            for name, path in results.items()}


def plot_race(results: dict[str, np.ndarray], surface, path=None, *, title: str | None = None):
    """Draw the trajectories over the surface's contours; save a PNG when ``path`` is given.

    Returns the matplotlib Figure. It is drawn with the Agg renderer and without pyplot,
    so it works on headless machines and leaves an interactive session's backend alone.
    """
    surface = get_surface(surface)
    matplotlib, Figure = _matplotlib()
    figure = Figure(figsize=(9, 6.5), dpi=110)
    axes = figure.add_subplot()
    _draw_contours(axes, surface)
    losses = final_losses(results, surface)
    colors = matplotlib.colormaps["tab10"].colors
    styles = ("-", "--", "-.", ":")
    for index, (name, trajectory) in enumerate(results.items()):
        color, order = colors[index % len(colors)], 10 - index * 0.1  # earlier entries drawn on top
        label = f"{name}: loss {losses[name]:.3g}" if np.isfinite(losses[name]) else f"{name}: diverged"
        axes.plot(trajectory[:, 0], trajectory[:, 1], styles[(index // len(colors)) % len(styles)], color=color,
                  lw=1.6, marker=".", ms=3, alpha=0.9, label=label, zorder=order)
        finite = trajectory[np.isfinite(trajectory).all(axis=1)]
        axes.plot(*finite[-1], "o", color=color, ms=7, mec="black", mew=0.8, zorder=order)
    start = next(iter(results.values()))[0] if results else np.array(surface.start)
    axes.plot(*start, "s", color="white", mec="black", ms=9, label="start", zorder=20)
    minima = np.array(surface.minima)
    axes.plot(minima[:, 0], minima[:, 1], "*", color="gold", mec="black", ms=16, label="minimum", zorder=20)
    if surface.saddles:
        saddles = np.array(surface.saddles)
        axes.plot(saddles[:, 0], saddles[:, 1], "X", color="white", mec="black", ms=10, label="saddle", zorder=20)
    steps = len(next(iter(results.values()))) - 1 if results else 0
    axes.set_title(title or f"Optimizer race on '{surface.name}' ({steps} steps from the same start)")
    axes.set_xlim(*surface.xlim)
    axes.set_ylim(*surface.ylim)
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, framealpha=0.95)
    figure.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    return figure


def _draw_contours(axes, surface: Surface) -> None:
    X, Y, Z = surface.grid()
    low = max(surface.minimum_value, 0.0)
    if surface.log_levels:
        levels = np.logspace(np.log10(max(np.percentile(Z, 0.5) - low, 1e-3)), np.log10(Z.max() - low), 25) + low
    else:  # quadratic spacing: more contours near the valley floor
        levels = low + (np.percentile(Z, 95) - low) * np.linspace(0.0, 1.0, 26)[1:] ** 2
    axes.contourf(X, Y, Z, levels=levels, cmap="Greys", alpha=0.45, extend="both")
    axes.contour(X, Y, Z, levels=levels, colors="gray", linewidths=0.5, alpha=0.7)


def _matplotlib():
    try:  # an optional dependency, imported only when a plot is asked for
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("plot_race needs matplotlib: pip install matplotlib") from error
    return matplotlib, Figure
