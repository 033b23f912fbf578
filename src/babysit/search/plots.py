"""Pictures of a search: score against each hyperparameter, the "command center", random vs grid, the stages.

CS231n "Training Neural Networks II" reads a search from pictures: the score of every trial
against each hyperparameter (where the good region is, and where the learning rate is so
high that training diverged), every trial's validation curve on one plot (the "command
center" of a cluster of runs), Bergstra & Bengio's (2012) random-vs-grid layout, and the
ranges of a coarse-to-fine search narrowing from stage to stage (:mod:`.plots_stages`).

Every ``plot_*`` function takes a :class:`~babysit.search.records.SearchResult`, writes one
PNG (Agg, no pyplot) and returns its path; the ``*_figure`` functions return the matplotlib
Figure instead. ``metric`` names the score on the axes (``val_accuracy``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from babysit.report.plots import integer_ticks, new_figure, spans_decades

#: Trials without a score (diverged, failed) are drawn in a grey band below the lowest score.
BAND = 0.16
STATUS_MARKERS = {"diverged": dict(marker="x", color="red", s=40, linewidths=1.6),
                  "failed": dict(marker="^", color="0.35", s=30)}



def plot_scores(result, path, *, metric: str = "score") -> Path:
    """Draw :func:`scores_figure` (score against each hyperparameter) into the PNG ``path``; returns the path."""
    return _save(scores_figure(result, metric=metric), path)


def plot_command_center(result, path, *, metric: str = "score") -> Path:
    """Draw :func:`command_center_figure` (every trial's curve) into the PNG ``path``; returns the path."""
    return _save(command_center_figure(result, metric=metric), path)


def plot_random_vs_grid(random_result, grid_result, important: str, unimportant: str, path, *,
                        metric: str = "score") -> Path:
    """Draw :func:`random_vs_grid_figure` (Bergstra & Bengio's picture) into the PNG ``path``; returns the path."""
    return _save(random_vs_grid_figure(random_result, grid_result, important, unimportant, metric=metric), path)


def scores_figure(result, *, metric: str = "score"):
    """Score against each hyperparameter, one panel per parameter.

    Complete trials are filled dots coloured by stage, pruned ones hollow (their last score,
    at fewer epochs), the best trial a star. Diverged trials are a red x in a grey band under
    the scores, at their parameter value (the lecture's "lr too high"), failed ones a grey
    triangle. The x axis is logarithmic for log dimensions; a choice is categorical.

    Parameters
    ----------
    result : SearchResult
    metric : str
        The score's name, for the y axis.

    Returns
    -------
    matplotlib Figure
    """
    names = param_names(result)
    if not names:
        raise ValueError(f"plot_scores: the search has no trial with parameters ({len(result.trials)} trials)")
    columns = min(len(names), 3)
    rows = math.ceil(len(names) / columns)
    figure, axes = new_figure(4.3 * columns, 3.5 * rows + 0.4, nrows=rows, ncols=columns, squeeze=False, sharey=True)
    stages = sorted({trial.stage for trial in result.trials})
    best = _best_or_none(result)
    scores = [trial.score for trial in result.trials if _finite(trial.score)]
    for index, name in enumerate(names):
        axis = axes.flat[index]
        positions, ticks = x_positions(result, name)
        for stage in stages:
            _scatter_stage(axis, result, name, stage, positions, len(stages) > 1)
        bottom = no_score_band(axis, scores)
        for status, style in STATUS_MARKERS.items():
            xs = [positions(trial.params.get(name)) for trial in result.trials if trial.status == status]
            if xs:
                axis.scatter(xs, [bottom] * len(xs), zorder=4, label=f"{status} ({len(xs)})", **style)
        if best is not None:
            axis.scatter([positions(best.params.get(name))], [best.score], marker="*", s=220, color="gold",
                         edgecolors="black", zorder=5, label=f"best ({_number(best.score)})")
        _x_axis(axis, result, name, ticks)
        axis.set_title(name)
        axis.grid(alpha=0.3)
        if index % columns == 0:
            axis.set_ylabel(metric)
    for axis in axes.flat[len(names):]:
        axis.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    # about two legend entries per panel's width fit in a row; more rows rather than clipped ends
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 2 * columns), fontsize=8)
    counts = ", ".join(f"{count} {status}" for status, count in result.status_counts().items())
    figure.suptitle(f"{metric} of each trial against each hyperparameter ({counts})")
    return figure


def command_center_figure(result, *, metric: str = "score"):
    """Every trial's validation curve on one plot; the loss curves beside it when reported.

    The lecture's "command center": complete trials in their stage's colour, pruned ones
    faint (they stop at a rung), diverged ones red and ending in an x (at the bottom of the
    panel when they never reached a score), the best trial thick and black.

    Parameters
    ----------
    result : SearchResult
    metric : str
        The score's name, for the y axis.

    Returns
    -------
    matplotlib Figure
    """
    has_loss = any(_finite(row.get("loss")) for trial in result.trials for row in trial.curve)
    figure, axes = new_figure(12.0 if has_loss else 7.5, 4.8, ncols=2 if has_loss else 1, squeeze=False)
    score_axis = axes.flat[0]
    best = _best_or_none(result)
    multi_stage = len({trial.stage for trial in result.trials}) > 1
    scores = [row["score"] for trial in result.trials for row in trial.curve if _finite(row.get("score"))]
    for key, axis in (("score", score_axis), ("loss", axes.flat[-1] if has_loss else None)):
        if axis is None:
            continue
        bottom = no_score_band(axis, scores) if key == "score" else None
        for trial in result.trials:
            _curve(axis, trial, key, trial is best, multi_stage, bottom)
        integer_ticks(axis.xaxis)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    score_axis.set_ylabel(f"{metric} (per epoch)")
    score_axis.set_title(f"{metric} of every trial")
    if has_loss:
        loss_axis = axes.flat[-1]
        losses = [row["loss"] for trial in result.trials for row in trial.curve if _finite(row.get("loss"))]
        if spans_decades(losses, factor=10):
            loss_axis.set_yscale("log")
        loss_axis.set_ylabel("training loss (per epoch" + (", log scale)" if spans_decades(losses, 10) else ")"))
        loss_axis.set_title("training loss of every trial")
    handles = _status_handles(result, best, multi_stage)
    score_axis.legend(handles=handles, fontsize=8, loc="best")
    counts = ", ".join(f"{count} {status}" for status, count in result.status_counts().items())
    figure.suptitle(f"Command center: {len(result.trials)} trials ({counts})")
    return figure


def random_vs_grid_figure(random_result, grid_result, important: str, unimportant: str, *, metric: str = "score"):
    """Bergstra & Bengio (2012), Fig. 1: with the same budget, random search tries more values of the
    parameter that matters.

    Top row: each strategy's trials in the plane (important, unimportant), coloured by score.
    Bottom row: the score along the important parameter (its marginal); the titles count the
    distinct values of ``important`` each strategy tried.

    Parameters
    ----------
    random_result, grid_result : SearchResult
        The two searches, same space and same number of trials.
    important, unimportant : str
        Parameter names: the one the score depends on, and one it barely depends on.
    metric : str

    Returns
    -------
    matplotlib Figure

    References
    ----------
    J. Bergstra and Y. Bengio, "Random search for hyper-parameter optimization", JMLR 13, 2012.
    """
    for name in (important, unimportant):
        missing = [label for label, result in (("random", random_result), ("grid", grid_result))
                   if name not in param_names(result)]
        if missing:
            raise ValueError(f"plot_random_vs_grid: parameter {name!r} is not in the {', '.join(missing)} search; "
                             f"its parameters: {param_names(random_result if 'random' in missing else grid_result)}")
    figure, axes = new_figure(10.0, 7.6, nrows=2, ncols=2, squeeze=False, sharey="row")
    scores = [trial.score for result in (random_result, grid_result) for trial in result.trials
              if _finite(trial.score)]
    limits = (min(scores), max(scores)) if scores else (0.0, 1.0)
    for column, (label, result) in enumerate((("grid", grid_result), ("random", random_result))):
        layout, marginal = axes[0, column], axes[1, column]
        values = [trial.params.get(important) for trial in result.trials]
        distinct = len({_key(value) for value in values if value is not None})
        scored = [trial for trial in result.trials if _finite(trial.score)]
        xs = [trial.params[important] for trial in scored]
        points = layout.scatter(xs, [trial.params[unimportant] for trial in scored],
                                c=[trial.score for trial in scored], cmap="viridis", vmin=limits[0], vmax=limits[1],
                                s=36, edgecolors="black", linewidths=0.4, zorder=3)
        unscored = [trial for trial in result.trials if not _finite(trial.score)]
        if unscored:
            layout.scatter([t.params[important] for t in unscored], [t.params[unimportant] for t in unscored],
                           marker="x", color="red", zorder=3, label="no score (diverged/failed)")
            layout.legend(fontsize=8, loc="upper right")
        layout.set_title(f"{label}: {len(result.trials)} trials, {distinct} distinct values of {important}")
        marginal.scatter(xs, [trial.score for trial in scored], color="C0" if label == "random" else "C1", s=24,
                         zorder=3)
        for axis in (layout, marginal):
            _x_axis(axis, result, important, None)
            axis.grid(alpha=0.3)
        _y_axis(layout, result, unimportant)
        layout.set_ylabel(unimportant if column == 0 else "")
        marginal.set_ylabel(metric if column == 0 else "")
        marginal.set_title(f"{metric} along {important}")
    figure.colorbar(points, ax=axes[0, :], label=metric, shrink=0.9)
    figure.suptitle(f"Random vs grid search with the same budget: only {important} matters")
    return figure


# ---------------------------------------------------------------------- helpers (shared with plots_stages)
def param_names(result) -> list[str]:
    """Parameter names in the order of the first stage's space, then any others the trials have."""
    names = [name for space in result.spaces for name in space]
    names += [name for trial in result.trials for name in trial.params]
    return list(dict.fromkeys(names))


def dimension(result, name):
    """The first stage's dimension called ``name`` (``None`` when no space has it)."""
    for space in result.spaces:
        if name in space:
            return space[name]
    return None


def is_categorical(result, name) -> bool:
    """A Choice dimension, or values that are not all numbers (strings, booleans)."""
    dim = dimension(result, name)
    if dim is not None and hasattr(dim, "options"):
        return True
    values = [trial.params.get(name) for trial in result.trials if trial.params.get(name) is not None]
    return any(isinstance(value, (str, bool)) or not isinstance(value, (int, float)) for value in values)


def is_log(result, name) -> bool:
    """The dimension's ``log`` flag; without a dimension, whether the values span decades."""
    dim = dimension(result, name)
    if dim is not None:
        return bool(getattr(dim, "log", False))
    return spans_decades([trial.params.get(name) for trial in result.trials if trial.params.get(name) is not None])


def options(result, name) -> list:
    """The categories of a categorical parameter: the Choice's options, then any other values seen."""
    dim = dimension(result, name)
    found = list(getattr(dim, "options", ())) if dim is not None else []
    found += [trial.params.get(name) for trial in result.trials if name in trial.params]
    return list(dict.fromkeys(_key(value) for value in found))


def x_positions(result, name):
    """``(value -> x, tick labels or None)``: identity for numbers; index plus a small jitter for categories."""
    if not is_categorical(result, name):
        return (lambda value: np.nan if value is None else float(value)), None
    labels = options(result, name)
    rng = np.random.default_rng(0)  # a fixed jitter: the same picture on every draw

    def position(value):
        return labels.index(_key(value)) + rng.uniform(-0.12, 0.12)

    return position, labels


def no_score_band(axis, scores) -> float:
    """Fix the y range to the scores plus a grey band below them; return the band's middle, where
    diverged and failed trials are drawn (a diverged trial's last score says little: it was killed)."""
    low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)
    span = (high - low) or max(abs(high), 1.0)
    axis.set_ylim(low - BAND * span, high + 0.06 * span)
    axis.axhspan(low - BAND * span, low - 0.05 * span, color="0.92", zorder=0)
    middle = low - 0.105 * span
    # the band's tick says what it holds, in place of a score (the ticks above it stay)
    ticks = [tick for tick in axis.get_yticks() if low - 0.04 * span <= tick <= high + 0.06 * span]
    axis.set_yticks([middle, *ticks], ["diverged\nfailed", *(f"{tick:.3g}" for tick in ticks)])
    return middle


def log_ticks(axis, values, which: str = "x") -> None:
    """Plain numbers (20, 50, 100) instead of 2x10^1 on a log axis spanning less than two decades."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter  # noqa: PLC0415

    values = [float(value) for value in values if _finite(value) and value > 0]
    if not values or max(values) / min(values) >= 100:
        return
    target = axis.xaxis if which == "x" else axis.yaxis
    target.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    formatter = ScalarFormatter()
    formatter.set_scientific(False)
    target.set_major_formatter(formatter)
    target.set_minor_formatter(NullFormatter())


def _x_axis(axis, result, name, ticks) -> None:
    if ticks is not None:
        axis.set_xticks(range(len(ticks)), [str(tick) for tick in ticks])
        axis.set_xlim(-0.5, len(ticks) - 0.5)
        axis.set_xlabel(f"{name} (choice)")
    elif is_log(result, name):
        axis.set_xscale("log")
        axis.set_xlabel(f"{name} (log scale)")
        dim = dimension(result, name)
        ends = [dim.low, dim.high] if dim is not None else []
        log_ticks(axis, ends + [trial.params.get(name) for trial in result.trials])
    else:
        axis.set_xlabel(name)


def _y_axis(axis, result, name) -> None:
    if is_log(result, name) and not is_categorical(result, name):
        axis.set_yscale("log")


def _scatter_stage(axis, result, name, stage, positions, label_stage) -> None:
    colour = f"C{(stage - 1) % 10}"
    trials = result.stage(stage)
    budget = max((trial.epochs for trial in trials), default=0)
    prefix = f"stage {stage} ({budget} epochs), " if label_stage else ""
    for status, face in (("complete", colour), ("pruned", "none")):
        chosen = [trial for trial in trials if trial.status == status and _finite(trial.score)]
        if chosen:
            axis.scatter([positions(trial.params.get(name)) for trial in chosen], [trial.score for trial in chosen],
                         facecolors=face, edgecolors=colour, s=28, linewidths=1.1, zorder=3,
                         label=f"{prefix}{status} ({len(chosen)})")


def _curve(axis, trial, key, is_best, multi_stage, bottom) -> None:
    rows = [row for row in trial.curve if _finite(row.get(key))]
    epochs = [row["epoch"] for row in rows]
    values = [row[key] for row in rows]
    if trial.status == "diverged":
        if values:
            axis.plot(epochs, values, color="red", linewidth=1.0, alpha=0.8, zorder=3)
            axis.scatter([epochs[-1]], [values[-1]], marker="x", color="red", s=40, zorder=4)
        elif bottom is not None:  # killed before its first score: an x in the band, at the epoch it reached
            axis.scatter([max(trial.epochs_run, 1)], [bottom], marker="x", color="red", s=40, zorder=4)
        return
    if not values:
        return
    colour = f"C{(trial.stage - 1) % 10}" if multi_stage else "C0"
    if is_best:
        axis.plot(epochs, values, color="black", linewidth=2.4, zorder=5, marker="o", markersize=3)
    elif trial.status == "pruned":
        axis.plot(epochs, values, color=colour, linewidth=0.8, alpha=0.25, zorder=2)
    else:
        axis.plot(epochs, values, color=colour, linewidth=1.0, alpha=0.7, zorder=3)


def _status_handles(result, best, multi_stage) -> list:
    from matplotlib.lines import Line2D  # noqa: PLC0415 - matplotlib loads only when a plot is drawn

    counts = result.status_counts()
    handles = []
    stages = sorted({trial.stage for trial in result.trials})
    for stage in stages if multi_stage else [1]:
        label = f"stage {stage}: complete" if multi_stage else "complete"
        handles.append(Line2D([], [], color=f"C{(stage - 1) % 10}" if multi_stage else "C0", alpha=0.7, label=label))
    if counts.get("pruned"):
        handles.append(Line2D([], [], color="0.4", alpha=0.3, label=f"pruned ({counts['pruned']}, faint)"))
    if counts.get("diverged"):
        handles.append(Line2D([], [], color="red", marker="x", label=f"diverged ({counts['diverged']})"))
    if best is not None:
        handles.append(Line2D([], [], color="black", linewidth=2.4,
                              label=f"best: stage {best.stage} trial {best.number} ({_number(best.score)})"))
    return handles


def _best_or_none(result):
    try:
        return result.best
    except ValueError:  # no complete trial: nothing to highlight
        return None


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _key(value):
    """A hashable, printable category (lists from YAML become tuples)."""
    return tuple(value) if isinstance(value, list) else value


def _number(value) -> str:
    return f"{value:.4g}" if _finite(value) else "-"


def _save(figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", facecolor="white")
    return path
