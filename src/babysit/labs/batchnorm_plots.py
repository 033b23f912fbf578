"""The BatchNorm lab's figures: the (learning rate x init scale) grid, loss curves, activations at init."""

from __future__ import annotations

import math

import numpy as np

from babysit.report.plots import new_figure, smooth

#: Losses are drawn up to this value; a diverged run ends with an x at the top of the axis.
LOSS_CEILING = 10.0
NETS = ("plain", "BatchNorm")


def plot_grid(runs: dict, rates, scales, path, subtitle: str) -> None:
    """Heatmaps: final validation accuracy (top) and training loss (bottom), plain (left) vs BatchNorm (right)."""
    figure, axes = new_figure(12, 9, nrows=2, ncols=2)
    # (key, title, colour map, colour range): bright = good in both rows
    metrics = (("final_val_accuracy", "validation accuracy", "viridis", (0.1, 0.6)),
               ("final_loss", "training loss, last epoch", "viridis_r", (1.0, 2.5)))
    for row, (key, title, cmap, (low, high)) in enumerate(metrics):
        for column, net in enumerate(NETS):
            ax = axes[row, column]
            values = np.array([[runs[net][scale][lr][key] for lr in rates] for scale in scales], dtype=float)
            diverged = np.array([[runs[net][scale][lr]["diverged"] for lr in rates] for scale in scales])
            shown = np.ma.masked_array(values, diverged)
            image = ax.imshow(shown, cmap=cmap, origin="lower", aspect="auto", vmin=low, vmax=high)
            ax.set_facecolor("0.85")  # masked (diverged) cells show the grey background
            for (i, j), value in np.ndenumerate(values):
                text = "diverged" if diverged[i, j] else (f"{value:.0%}" if row == 0 else f"{value:.2f}")
                ax.text(j, i, text, ha="center", va="center", fontsize=9,
                        color="black" if diverged[i, j] or _light(image, value) else "white")
            ax.set_xticks(range(len(rates)), [f"{lr:g}" for lr in rates])
            ax.set_yticks(range(len(scales)), [f"x{scale:g}" for scale in scales])
            ax.set_xlabel("learning rate (plain SGD)")
            ax.set_ylabel("init scale (times He normal)")
            ax.set_title(f"{'without' if net == 'plain' else 'with'} BatchNorm: {title}")
        figure.colorbar(image, ax=axes[row, :], shrink=0.9,
                        label="validation accuracy" if row == 0 else "training loss (chance: ln 10 = 2.30)")
    figure.suptitle(f"BatchNorm vs learning rate and init scale. {subtitle}\n"
                    "grey: diverged (loss non-finite or above 3x its first value)")
    figure.savefig(path)


def _light(image, value: float) -> bool:
    """Whether the colour of ``value`` is light, so its label is drawn in black."""
    red, green, blue, _ = image.cmap(image.norm(value))
    return 0.299 * red + 0.587 * green + 0.114 * blue > 0.5


def plot_curves(runs: dict, rates, scales, curve_lr: float, steps_per_epoch: int, path) -> None:
    """Training loss per step (smoothed) for every rate at scale 1, and every scale at ``curve_lr``."""
    figure, axes = new_figure(13, 8.5, nrows=2, ncols=2, sharey=True)
    for row, net in enumerate(NETS):
        panels = (("init x1 (He), each learning rate", [(f"lr {lr:g}", runs[net][1.0][lr]) for lr in rates]),
                  (f"lr {curve_lr:g}, each init scale", [(f"x{s:g}", runs[net][s][curve_lr]) for s in scales]))
        for column, (title, lines) in enumerate(panels):
            ax = axes[row, column]
            for index, (label, run) in enumerate(lines):
                _draw_loss(ax, run, steps_per_epoch, f"C{index}", label)
            ax.axhline(math.log(10), color="0.4", lw=0.8, ls=":")
            ax.set_yscale("log")
            ax.set_ylim(0.5, LOSS_CEILING * 1.3)
            ax.set_xlabel("epoch")
            ax.set_ylabel("training loss (smoothed, log scale)")
            ax.set_title(f"{'without' if net == 'plain' else 'with'} BatchNorm: {title}")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8, loc="lower left", ncols=2)
    figure.suptitle("Training loss (dotted: chance, ln 10). x: the run diverged there "
                    f"(losses above {LOSS_CEILING:g} drawn at the top)")
    figure.savefig(path)


def _draw_loss(ax, run: dict, steps_per_epoch: int, color: str, label: str) -> None:
    losses = np.asarray(run["batch_loss"], dtype=float)
    if losses.size == 0:
        return
    shown = np.minimum(smooth(np.minimum(losses, LOSS_CEILING)), LOSS_CEILING)
    epochs = np.arange(1, losses.size + 1) / steps_per_epoch
    if run["diverged"]:
        label += f" (diverged, step {run['steps']})"
    ax.plot(epochs, shown, color=color, lw=1.3, label=label)
    if run["diverged"]:
        last = losses[-1] if np.isfinite(losses[-1]) else LOSS_CEILING
        ax.plot(epochs[-1], min(last, LOSS_CEILING), "x", color=color, ms=10, mew=2.5)


def plot_activations(activation_std: dict, path) -> None:
    """Std of each hidden layer's output at init, one line per init scale, plain (left) vs BatchNorm (right)."""
    figure, axes = new_figure(12, 4.8, ncols=2, sharey=True)
    for ax, net in zip(axes, NETS, strict=True):
        for index, (scale, stds) in enumerate(activation_std[net].items()):
            layers = np.arange(1, len(stds) + 1)
            values = np.clip(np.nan_to_num(np.asarray(stds), nan=1e30, posinf=1e30), 1e-30, 1e30)
            # BatchNorm's lines coincide: shrinking markers and dashes keep each one visible
            ax.semilogy(layers, values, color=f"C{index}", marker="o", ms=10 - 1.5 * index,
                        ls=("-", "--", ":")[index % 3],
                        lw=2, label=f"x{scale:g}")
        ax.set_xticks(layers)
        ax.set_xlabel("hidden layer")
        ax.set_ylabel("std of the layer's output (ReLU), log scale")
        ax.set_title(f"{'without' if net == 'plain' else 'with'} BatchNorm")
        ax.grid(alpha=0.3, which="both")
        ax.legend(title="init scale", fontsize=8)
    figure.suptitle("Activations at init, 500 MNIST-1D signals. With BatchNorm every layer has the same scale "
                    "whatever the init\n(std 0.58: a unit Gaussian through a ReLU; the lines lie on top of each other)")
    figure.savefig(path)
