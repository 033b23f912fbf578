"""Plots of the live monitors: update/weight ratios, activations and gradients per layer."""

from __future__ import annotations

import math

import numpy as np

from babysit.report.plots import MissingData, integer_ticks, new_figure, spans_decades
from babysit.report.rundata import FILES, RunData

TARGET_RATIO = 1e-3  # the lecture's rule of thumb for norm(update) / norm(W)
RATIO_BAND = (1e-4, 1e-2)  # within a factor of ten of it
MAX_PANELS = 16  # small multiples beyond this stop being readable


def _colors(count: int):
    from matplotlib import colormaps  # noqa: PLC0415 - matplotlib loads only when a report is drawn

    palette = colormaps["tab10" if count <= 10 else "tab20"].colors
    return [palette[i % len(palette)] for i in range(count)]


def _section(run: RunData, section: str) -> dict:
    if not run.has_monitors:
        raise MissingData(f"{FILES['monitors']} not found (train with the monitor callbacks to record it)")
    entries = getattr(run, section)
    if not entries:
        raise MissingData(f"{FILES['monitors']} has no usable '{section}' entries")
    return entries


def weights_only(entries: dict) -> tuple[dict, bool]:
    """Leave biases out when there are weights: they start at 0, so their ratios and
    gradient sizes say little about the layer (the lecture's rules are about weights)."""
    weights = {name: entry for name, entry in entries.items() if name.rsplit(".", 1)[-1] != "bias"}
    return (weights, len(weights) < len(entries)) if weights else (entries, False)


def _positive(steps, values):
    keep = np.isfinite(values) & (values > 0)
    return steps[keep], values[keep]


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3):]


def _late_median(values: np.ndarray) -> float:
    """Median over the second half of the samples: where training has settled."""
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.median(values[len(values) // 2:])) if len(values) else math.nan


def _ranking_panel(ax, names, values, colors, xlabel, band=None):
    """Horizontal bars on a log axis, first layer on top, each bar labelled with its value."""
    rows = np.arange(len(names))
    good = np.isfinite(values) & (values > 0)
    candidates = [*values[good], *(band or ())]
    low, high = (min(candidates) / 10, max(candidates) * 10) if candidates else (0.1, 10.0)
    # Bars start at a floor below the smallest value: a log axis has no zero to start from.
    ax.barh(rows[good], values[good] - low, left=low, color=np.array(colors)[good], height=0.7)
    ax.set_yticks(rows, [_short(name) for name in names])
    ax.set_ylim(len(names) - 0.5, -0.5)  # first layer on top
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    for row, value in zip(rows, values, strict=True):
        if np.isfinite(value) and value > 0:
            ax.annotate(f"{value:.1e}", (value, row), xytext=(3, 0), textcoords="offset points", va="center",
                        fontsize=8)
        else:
            ax.text(0.02, row, "no positive values", transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3, axis="x")


def _bottom_legend(figure, axes) -> None:
    """Below the plot, where it cannot hide a curve however many parameters there are."""
    handles, labels = axes.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 6), fontsize=9)


def _height(count: int) -> float:
    return max(4.5, 0.32 * count + 1.6)


# ---------------------------------------------------------------- update / weight ratio
def plot_update_ratio(run: RunData):
    """norm(update)/norm(W) per parameter over training (log y), with the 1e-3 target band."""
    ratios, dropped = weights_only(_section(run, "update_ratio"))
    names = list(ratios)
    colors = _colors(len(names))
    figure, (over_time, ranking) = new_figure(12.0, _height(len(names)), ncols=2, width_ratios=[1.5, 1])
    for name, color in zip(names, colors, strict=True):
        steps, values = _positive(*ratios[name])
        over_time.plot(steps, values, color=color, lw=1.3, label=_short(name))
    for ax in (over_time, ranking):
        band = ax.axhspan if ax is over_time else ax.axvspan
        line = ax.axhline if ax is over_time else ax.axvline
        band(*RATIO_BAND, color="tab:green", alpha=0.1, label="within 10x of 1e-3")
        line(TARGET_RATIO, color="tab:green", ls="--", lw=1.4, label="target 1e-3")
    over_time.set_yscale("log")
    over_time.set_title("Update / weight ratio per " + ("weight (biases left out)" if dropped else "parameter"))
    over_time.set_xlabel("step (mini-batch)")
    integer_ticks(over_time.xaxis)
    over_time.set_ylabel("norm(update) / norm(W)  (log scale)")
    over_time.grid(alpha=0.3)
    _bottom_legend(figure, over_time)
    late = np.array([_late_median(ratios[name][1]) for name in names])
    _ranking_panel(ranking, names, late, colors, "median ratio, second half of training", band=RATIO_BAND)
    ranking.set_title("Where each parameter settled")
    return figure


# ---------------------------------------------------------------- activations
def plot_activation_histograms(run: RunData):
    """Small multiples: one histogram per layer at the last sampled step (first one in grey)."""
    layers = {name: stats for name, stats in _section(run, "activations").items() if stats["histogram"] is not None}
    if not layers:
        raise MissingData(f"{FILES['monitors']} holds no activation histograms")
    names = list(layers)[:MAX_PANELS]
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    # At least 8 inches wide, so that the title fits above one or two panels.
    figure, axes = new_figure(max(3.3 * cols + 0.4, 8.0), 2.7 * rows + 0.6, nrows=rows, ncols=cols, squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= len(names):
            ax.set_visible(False)
            continue
        _histogram_panel(ax, names[index], layers[names[index]])
        if index % cols == 0:
            ax.set_ylabel("fraction of activations")
        if index >= len(names) - cols:
            ax.set_xlabel("activation value")
    left_out = len(layers) - len(names)
    title = "Activation distribution per layer at the last sampled step"
    figure.suptitle(title + (f" (first {len(names)} of {len(layers)} layers)" if left_out else ""))
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=9)
    return figure


def _histogram_panel(ax, name, stats):
    histogram, steps = stats["histogram"], stats["steps"]
    edges, counts = histogram["edges"], histogram["counts"]
    last_edges = edges[-1] if edges.ndim == 2 else edges
    last = _fractions(counts[-1])
    step = f"step {steps[-1]:.0f}" if len(steps) else "last sample"
    if len(counts) > 1:
        first_edges = edges[0] if edges.ndim == 2 else edges
        first_step = f"step {steps[-len(counts)]:.0f}" if len(steps) >= len(counts) else "first sample"
        ax.stairs(_fractions(counts[0]), first_edges, color="0.45", lw=1.2, label=f"first sample ({first_step})")
    ax.stairs(last, last_edges, fill=True, color="tab:blue", alpha=0.75, label=f"last sample ({step})")
    ax.set_ylim(bottom=0)
    if not last.any():  # the monitor records an empty row when the layer's output was not finite
        ax.text(0.5, 0.5, "no finite activations\nat this step", transform=ax.transAxes, ha="center", va="center",
                color="tab:red")
    # The numbers go in the title, not in a box: a box can hide a spike of the histogram.
    kind = f" ({stats['kind']})" if "kind" in stats else ""
    ax.set_title(f"{_short(name + kind, 34)}\n{_stats_text(stats)}", fontsize=9.5)
    ax.tick_params(labelsize=8)


def _fractions(counts: np.ndarray) -> np.ndarray:
    total = np.nansum(counts)
    return np.nan_to_num(counts) / total if total > 0 else np.zeros_like(counts)


def _stats_text(stats: dict) -> str:
    parts = [f"{key} {stats[key][-1]:.2g}" for key in ("mean", "std") if key in stats and len(stats[key])]
    for key, word in (("dead_fraction", "dead"), ("saturated_fraction", "saturated")):
        if key in stats and len(stats[key]) and np.isfinite(stats[key][-1]):
            parts.append(f"{word} {100 * stats[key][-1]:.0f}%")
    return ", ".join(parts) or "no statistics"


def plot_activation_stats(run: RunData):
    """Mean, std and the dead or saturated fraction of each layer's activations over training."""
    layers = {name: stats for name, stats in _section(run, "activations").items()
              if len(stats["steps"]) and ("mean" in stats or "std" in stats)}
    if not layers:
        raise MissingData(f"{FILES['monitors']} holds no activation mean/std over steps")
    keys = [key for key in ("mean", "std") if any(key in stats for stats in layers.values())]
    if any(k in stats for stats in layers.values() for k in ("dead_fraction", "saturated_fraction")):
        keys.append("fraction")
    figure, axes = new_figure(4.2 * len(keys) + 2.4, 4.2, ncols=len(keys), squeeze=False)
    colors = dict(zip(layers, _colors(len(layers)), strict=True))
    for key, ax in zip(keys, axes[0], strict=True):
        for name, stats in layers.items():
            _stat_lines(ax, key, name, stats, colors[name])
        ax.set_xlabel("step (mini-batch)")
        integer_ticks(ax.xaxis)
        ax.grid(alpha=0.3)
        titles = {"mean": "Mean activation per layer", "std": "Activation std per layer",
                  "fraction": _fraction_title(layers)}
        ax.set_title(titles[key], fontsize=11)
        ax.set_ylabel({"mean": "mean", "std": "std", "fraction": "fraction of units"}[key])
    if "std" in keys and spans_decades(np.concatenate([s["std"] for s in layers.values() if "std" in s]), 10.0):
        std_axes = axes[0][keys.index("std")]
        std_axes.set_yscale("log")
        std_axes.set_ylabel("std (log scale)")
    if "fraction" in keys:
        axes[0][keys.index("fraction")].set_ylim(-0.03, 1.03)
    handles = [axes[0][0].plot([], [], color=colors[name], lw=2)[0] for name in layers]
    names = [_short(name + (f" ({stats['kind']})" if "kind" in stats else "")) for name, stats in layers.items()]
    figure.legend(handles, names, loc="outside right upper", fontsize=9, title="layer")
    return figure


def _fraction_title(layers: dict) -> str:
    dead = any("dead_fraction" in stats for stats in layers.values())
    saturated = any("saturated_fraction" in stats for stats in layers.values())
    if dead and saturated:
        return "Dead (solid) / saturated (dashed) units"
    return "Dead units (never active on a batch)" if dead else "Saturated units"


def _stat_lines(ax, key, name, stats, color):
    steps = stats["steps"]
    if key == "std" and "std" in stats:
        ax.plot(*_positive(steps, stats["std"]), color=color, lw=1.5)
    elif key == "mean" and "mean" in stats:
        ax.plot(steps, stats["mean"], color=color, lw=1.5)
    elif key == "fraction":
        for fraction, style in (("dead_fraction", "-"), ("saturated_fraction", "--")):
            if fraction in stats:
                ax.plot(steps, stats[fraction], color=color, lw=1.5, ls=style)


# ---------------------------------------------------------------- gradients
def plot_gradients(run: RunData):
    """Gradient std (or norm) per layer over training, and per layer from input to output."""
    gradients, dropped = weights_only(_section(run, "gradients"))
    names = list(gradients)
    statistics = {statistic for _, _, statistic in gradients.values()}
    word = statistics.pop() if len(statistics) == 1 else "size"
    statistic = "|mean|" if word == "mean" else word
    sizes = {name: np.abs(values) for name, (_, values, _) in gradients.items()}  # |mean|: a mean can be negative
    colors = _colors(len(names))
    figure, (over_time, ranking) = new_figure(12.0, _height(len(names)), ncols=2, width_ratios=[1.5, 1])
    for name, color in zip(names, colors, strict=True):
        over_time.plot(*_positive(gradients[name][0], sizes[name]), color=color, lw=1.3, label=_short(name))
    log = spans_decades(np.concatenate(list(sizes.values())), 10.0)
    if log:  # layers a decade or more apart: the vanishing-gradient picture
        over_time.set_yscale("log")
    over_time.set_title(f"Gradient {statistic} per layer" + (" (weights; biases left out)" if dropped else ""))
    over_time.set_xlabel("step (mini-batch)")
    integer_ticks(over_time.xaxis)
    over_time.set_ylabel(f"gradient {statistic}" + (" (log scale)" if log else ""))
    over_time.grid(alpha=0.3)
    _bottom_legend(figure, over_time)
    late = np.array([_late_median(sizes[name]) for name in names])
    _ranking_panel(ranking, names, late, colors, f"median gradient {statistic}, second half")
    ranking.set_title("From input (top) to output (bottom)")
    return figure
