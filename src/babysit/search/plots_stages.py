"""The stages of a coarse-to-fine search: each parameter's range per stage, with the trials in it.

The lecture's recipe runs a coarse stage (wide ranges, few epochs), then narrows every range
to where the best trials were and trains longer. This picture shows the narrowing: one panel
per parameter, one row per stage, a bar spanning the stage's range (on a log axis for log
dimensions) and the stage's trials as dots on it, coloured by score.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from babysit.search.plots import (
    _finite,
    _key,
    _save,
    _x_axis,
    param_names,
    x_positions,
)


def plot_stages(result, path, *, metric: str = "score") -> Path:
    """Draw :func:`stages_figure` (each range per stage) into the PNG ``path``; returns the path."""
    return _save(stages_figure(result, metric=metric), path)


def stages_figure(result, *, metric: str = "score"):
    """Each parameter's range per stage (bars) and the trials of each stage (dots coloured by score).

    A range that moved outward (the edge rule widened it) shows as a bar reaching past the
    previous one. Diverged and failed trials are red x's on their stage's row; the best
    trial of each stage is ringed in black.

    Parameters
    ----------
    result : SearchResult
        With ``result.spaces`` holding one space per stage (as :func:`coarse_to_fine` returns).
    metric : str
        The score's name, for the colour bar.

    Returns
    -------
    matplotlib Figure
    """
    names = param_names(result)
    if not names:
        raise ValueError(f"plot_stages: the search has no parameters ({len(result.trials)} trials)")
    stages = sorted({trial.stage for trial in result.trials} | set(range(1, len(result.spaces) + 1)))
    columns = min(len(names), 2)
    rows = math.ceil(len(names) / columns)
    figure, axes = new_axes(columns, rows, len(stages))
    scores = [trial.score for trial in result.trials if _finite(trial.score)]
    limits = (min(scores), max(scores)) if scores else (0.0, 1.0)
    rng = np.random.default_rng(0)  # fixed vertical jitter: the same picture every time
    points = None
    for index, name in enumerate(names):
        axis = axes.flat[index]
        positions, ticks = x_positions(result, name)
        for row, stage in enumerate(stages):
            _range_bar(axis, result, name, stage, row, ticks)
            trials = result.stage(stage)
            lost = [trial for trial in trials if trial.status in ("diverged", "failed") and name in trial.params]
            scored = [trial for trial in trials if _finite(trial.score) and name in trial.params and trial not in lost]
            jitter = rng.uniform(-0.18, 0.18, size=len(trials))
            ys = {trial.number: row + offset for trial, offset in zip(trials, jitter, strict=True)}
            if scored:
                points = axis.scatter([positions(trial.params[name]) for trial in scored],
                                      [ys[trial.number] for trial in scored], c=[trial.score for trial in scored],
                                      cmap="viridis", vmin=limits[0], vmax=limits[1], s=22, zorder=3,
                                      edgecolors="none")
            if lost:
                axis.scatter([positions(trial.params[name]) for trial in lost], [ys[trial.number] for trial in lost],
                             marker="x", color="red", s=24, zorder=3, linewidths=1.2)
            best = _stage_best(result, stage)
            if best is not None and name in best.params:
                axis.scatter([positions(best.params[name])], [ys[best.number]], s=110, facecolors="none",
                             edgecolors="black", linewidths=1.6, zorder=4)
        _x_axis(axis, result, name, ticks)
        axis.set_yticks(range(len(stages)), [_stage_label(result, stage) for stage in stages])
        axis.set_ylim(len(stages) - 0.5, -0.5)  # stage 1 on top: the eye reads the narrowing downward
        axis.set_title(name)
        axis.grid(alpha=0.3, axis="x")
    for axis in axes.flat[len(names):]:
        axis.set_visible(False)
    if points is not None:
        figure.colorbar(points, ax=list(axes.flat[:len(names)]), label=metric, shrink=0.9)
    figure.suptitle("Coarse to fine: each stage's range (bar) and trials (dots; x diverged/failed, ring = best)")
    return figure


def new_axes(columns: int, rows: int, stages: int):
    from babysit.report.plots import new_figure  # noqa: PLC0415 - matplotlib loads only when drawn

    return new_figure(5.2 * columns + 1.0, (0.55 * stages + 1.6) * rows + 0.5, nrows=rows, ncols=columns,
                      squeeze=False)


def _range_bar(axis, result, name, stage, row, ticks) -> None:
    if stage > len(result.spaces) or name not in result.spaces[stage - 1]:
        return
    dim = result.spaces[stage - 1][name]
    if ticks is not None:
        kept = [ticks.index(_key(option)) for option in getattr(dim, "options", ()) if _key(option) in ticks]
        low, high = (min(kept) - 0.3, max(kept) + 0.3) if kept else (None, None)
    else:
        low, high = float(dim.low), float(dim.high)
    if low is None:
        return
    axis.barh(row, high - low, left=low, height=0.6, color=f"C{(stage - 1) % 10}", alpha=0.18, zorder=1,
              edgecolor=f"C{(stage - 1) % 10}")


def _stage_label(result, stage) -> str:
    trials = result.stage(stage)
    budget = max((trial.epochs for trial in trials), default=0)
    return f"stage {stage}\n{len(trials)} x {budget} ep" if trials else f"stage {stage}"


def _stage_best(result, stage):
    """The best complete trial of one stage, or ``None``."""
    ranked = [trial for trial in result.ranked(stage) if trial.status == "complete" and _finite(trial.score)]
    return ranked[0] if ranked else None
