"""The regularization lab's figures: train/val curves per regularizer, and the strength sweeps."""

from __future__ import annotations

import numpy as np

from babysit.report.plots import integer_ticks, new_figure


def plot_curves(methods: dict, path, setup: str) -> None:
    """Per regularizer (columns): accuracy (top) and loss (bottom), training solid, validation dashed,
    the gap shaded; the unregularized run's validation curve in grey for reference."""
    names = list(methods)
    figure, axes = new_figure(4.1 * len(names), 8, nrows=2, ncols=len(names), sharey="row")
    reference = methods["none"]
    for column, name in enumerate(names):
        run = methods[name]
        epochs = np.arange(1, run["epochs_run"] + 1)
        for row, key in enumerate(("accuracy", "loss")):
            ax = axes[row, column]
            train, val = np.asarray(run[f"train_{key}"]), np.asarray(run[f"val_{key}"])
            if name != "none":
                ax.plot(np.arange(1, reference["epochs_run"] + 1), reference[f"val_{key}"], color="0.6", lw=1,
                        label="validation, no regularization")
            ax.plot(epochs, train, color="C0", lw=1.8, label="training (eval mode)")
            ax.plot(epochs, val, color="C3", lw=1.8, ls="--", label="validation")
            ax.fill_between(epochs, train, val, color="C1", alpha=0.2, label="gap")
            if "best_epoch" in run and run["best_epoch"] is not None:
                ax.axvline(run["best_epoch"], color="k", lw=1, ls=":", label="early stopping: the epoch restored")
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3, which="both")
            integer_ticks(ax.xaxis)
            if key == "loss":
                ax.set_yscale("log")
        final = run["final"]
        axes[0, column].set_title(f"{name}\nval {final['val_accuracy']:.1%}, gap {final['gap']:.1%}", fontsize=11)
        axes[1, column].set_title(f"val loss {final['val_loss']:.2f} - train loss {final['train_loss']:.3f}",
                                  fontsize=10)
    axes[0, 0].set_ylabel("accuracy")
    axes[1, 0].set_ylabel("cross-entropy loss (log scale)")
    axes[0, 0].set_ylim(0, 1.02)
    # one legend for all panels (per-panel legends would hide the curves); the last panel has every entry
    handles, labels = axes[0, -1].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=10)
    figure.suptitle(f"Training vs validation per regularizer ({setup}); the shaded band is the gap "
                    "(overfitting). Titles: the final model's numbers")
    figure.savefig(path)


def plot_strength(l2_sweep: dict, dropout_sweep: dict, none: dict, path, setup: str) -> None:
    """Training / validation accuracy and their gap against the L2 strength (log axis) and dropout probability."""
    figure, axes = new_figure(12, 4.8, ncols=2, sharey=True)
    for ax, sweep, label in ((axes[0], l2_sweep, "L2 strength lambda (log scale)"),
                             (axes[1], dropout_sweep, "dropout probability p (of dropping a unit)")):
        values = sorted(sweep)
        train = [sweep[v]["train_accuracy"] for v in values]
        val = [sweep[v]["val_accuracy"] for v in values]
        ax.plot(values, train, "o-", color="C0", label="training accuracy (eval mode)")
        ax.plot(values, val, "s--", color="C3", label="validation accuracy")
        ax.fill_between(values, train, val, color="C1", alpha=0.2, label="gap")
        ax.axhline(none["val_accuracy"], color="0.5", lw=1, ls=":", label="validation, no regularization")
        if ax is axes[0]:
            ax.set_xscale("log")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.set_xlabel(label)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    axes[0].set_ylabel("accuracy of the final model")
    axes[0].set_title("L2: stronger shrinks the gap, too strong underfits")
    axes[1].set_title("Dropout: the same trade-off")
    figure.suptitle(setup)
    figure.savefig(path)
