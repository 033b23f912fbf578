"""Training curves: loss per batch, accuracy and loss per epoch, learning rate, range test.

Every plot function takes a :class:`~babysit.report.rundata.RunData` and returns a
matplotlib ``Figure`` drawn without pyplot (no global state, Agg when saved), or raises
:class:`MissingData` saying which data is missing. matplotlib is imported only here, when a
plot is asked for, so ``import babysit`` stays fast.
"""

from __future__ import annotations

import numpy as np

from babysit.report.rundata import FILES, RunData


class MissingData(LookupError):
    """The run directory lacks what a plot needs; the message says what, for the page."""


def new_figure(width: float = 8.0, height: float = 4.5, **subplots):
    """A pyplot-free Figure with constrained layout (labels never overlap) and its axes."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - matplotlib loads only when a report is drawn

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    axes = figure.subplots(**subplots) if subplots else figure.add_subplot()
    return figure, axes


def smooth(values, window: float | None = None) -> np.ndarray:
    """Bias-corrected exponential moving average that steps over NaN/inf values.

    ``window`` is the effective length ``1 / (1 - beta)``; by default about a 25th of the
    run, between 1 and 50 batches, so short runs are not flattened and long ones are readable.
    """
    from scipy.signal import lfilter  # noqa: PLC0415 - scipy.signal takes a second to import; only reports need it

    values = np.asarray(values, dtype=float)
    if window is None:
        window = float(np.clip(len(values) / 25, 1, 50))
    beta = 1.0 - 1.0 / window
    finite = np.isfinite(values)
    # Averaging the values and the "was finite" indicator with the same filter and dividing
    # removes the start-up bias (Adam's correction) and skips non-finite batches.
    numerator = lfilter([1 - beta], [1, -beta], np.where(finite, values, 0.0))
    denominator = lfilter([1 - beta], [1, -beta], finite.astype(float))
    out = np.full_like(values, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def integer_ticks(axis) -> None:
    """Whole numbers only on an epoch axis (no 'epoch 2.5')."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - matplotlib loads only when a report is drawn

    axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def spans_decades(values, factor: float = 30.0) -> bool:
    """Whether positive ``values`` vary by more than ``factor``: then a log axis reads better."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return bool(len(values) and values.min() > 0 and values.max() / values.min() > factor)


def _require(condition, reason: str) -> None:
    if not condition:
        raise MissingData(reason)


def _column(epochs: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if row.get(key) is None else row[key] for row in epochs], dtype=float)


def _has(values: np.ndarray) -> bool:
    return bool(np.isfinite(values).any())


# ------------------------------------------------------------------------ loss per batch
def plot_loss(run: RunData):
    """Per-batch loss, raw and smoothed, on one axis (log y when it spans decades)."""
    _require(run.batch_loss is not None, f"{FILES['history']} not found")
    loss = run.batch_loss
    _require(len(loss) > 0, f"{FILES['history']} has no per-batch losses")
    steps = np.arange(len(loss))
    window = float(np.clip(len(loss) / 25, 1, 50))
    figure, axes = new_figure()
    smoothing = window >= 2  # fewer than 50 batches: the raw curve is all there is to see
    axes.plot(steps, loss, color="tab:blue", lw=0.8 if smoothing else 1.8, alpha=0.35 if smoothing else 1.0,
              marker=None if smoothing else ".", label="loss per batch")
    if smoothing:
        axes.plot(steps, smooth(loss, window), color="tab:blue", lw=2.2,
                  label=f"moving average (~{window:.0f} batches)")
    bad = np.nonzero(~np.isfinite(loss))[0]
    if len(bad):
        axes.axvline(bad[0], color="tab:red", ls="--", lw=1.5,
                     label=f"first NaN/inf loss (step {bad[0]}, {len(bad)} in all)")
    if spans_decades(loss):
        axes.set_yscale("log")
    axes.set_title("Training loss per mini-batch")
    axes.set_xlabel("step (mini-batch)")
    integer_ticks(axes.xaxis)
    axes.set_ylabel("loss" + (" (log scale)" if axes.get_yscale() == "log" else ""))
    axes.grid(alpha=0.3)
    # Below the axes: a diverging run climbs into the corner where a legend would sit.
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3, frameon=False)
    return figure


# ------------------------------------------------------------------------ per epoch
def plot_accuracy(run: RunData):
    """Train vs validation accuracy per epoch, and train vs validation loss per epoch."""
    _require(run.epochs is not None, f"{FILES['history']} not found")
    _require(len(run.epochs) > 0, f"{FILES['history']} has no finished epoch")
    epochs = _column(run.epochs, "epoch")
    if not _has(epochs):
        epochs = np.arange(1, len(run.epochs) + 1, dtype=float)
    accuracy = {key: _column(run.epochs, key) for key in ("train_accuracy", "val_accuracy")}
    losses = {key: _column(run.epochs, key) for key in ("loss", "val_loss")}
    panels = [name for name, series in (("accuracy", accuracy), ("loss", losses))
              if any(_has(values) for values in series.values())]
    _require(panels, f"{FILES['history']} has no accuracy or loss per epoch")
    figure, axes = new_figure(5.2 * len(panels) + 0.6, 4.5, ncols=len(panels), squeeze=False)
    for name, ax in zip(panels, axes[0], strict=True):
        (_accuracy_panel if name == "accuracy" else _epoch_loss_panel)(ax, epochs, accuracy if name == "accuracy"
                                                                       else losses)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
        integer_ticks(ax.xaxis)
        if len(epochs) == 1:  # one point: give the axis whole-number room around it
            ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
    return figure


def _accuracy_panel(ax, epochs, series):
    train, val = series["train_accuracy"], series["val_accuracy"]
    if _has(train):
        ax.plot(epochs, train, "o-", color="tab:blue", label="train")
    if _has(val):
        ax.plot(epochs, val, "s-", color="tab:orange", label="validation")
    both = np.nonzero(np.isfinite(train) & np.isfinite(val))[0]
    if len(both):
        last = both[-1]
        ax.text(0.98, 0.04, f"gap train - val at epoch {epochs[last]:.0f}: {train[last] - val[last]:+.3f}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=9,
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    ax.set_title("Accuracy per epoch")
    ax.set_ylabel("accuracy")
    shown = np.concatenate([train, val])
    shown = shown[np.isfinite(shown)]
    low, high = shown.min(), shown.max()
    pad = max(0.05, 0.08 * (high - low))  # at least +-0.05: noise of a few examples must not fill the plot
    ax.set_ylim(max(0.0, low - pad), min(1.0, high + pad) + 0.01)


def _epoch_loss_panel(ax, epochs, series):
    train, val = series["loss"], series["val_loss"]
    if _has(train):
        ax.plot(epochs, train, "o-", color="tab:blue", label="train (mean over the epoch)")
    if _has(val):
        ax.plot(epochs, val, "s-", color="tab:orange", label="validation")
        best = int(np.nanargmin(val))
        ax.plot(epochs[best], val[best], "*", color="black", ms=14, zorder=5,
                label=f"lowest validation loss (epoch {epochs[best]:.0f})")
    if spans_decades(np.concatenate([train, val])):
        ax.set_yscale("log")
    ax.set_title("Loss per epoch")
    ax.set_ylabel("loss")


def plot_learning_rate(run: RunData):
    """The learning rate at the end of each epoch, with the range test's suggestion if any."""
    _require(run.epochs is not None, f"{FILES['history']} not found")
    lr = _column(run.epochs, "lr") if run.epochs else np.array([])
    _require(_has(lr), f"{FILES['history']} records no learning rate per epoch")
    epochs = _column(run.epochs, "epoch")
    if not _has(epochs):
        epochs = np.arange(1, len(lr) + 1, dtype=float)
    figure, axes = new_figure(8.0, 4.0)
    axes.plot(epochs, lr, "o-", color="tab:green", ms=4, label="learning rate (end of epoch)")
    shown = lr
    suggested = (run.lr_find or {}).get("suggested_lr")
    if suggested:
        axes.axhline(suggested, color="tab:purple", ls=":", lw=1.5, label=f"range test suggests {suggested:.1e}")
        shown = np.append(lr, suggested)
    if spans_decades(shown, factor=10.0):
        axes.set_yscale("log")
    else:  # from zero, so a small step does not look like a collapse; headroom for the suggestion's line
        axes.set_ylim(0, 1.12 * np.nanmax(shown))
    axes.set_title("Learning rate per epoch")
    axes.set_xlabel("epoch")
    integer_ticks(axes.xaxis)
    axes.set_ylabel("learning rate")
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    return figure


# ------------------------------------------------------------------------ range test
_MARKS = (  # key, label, colour, line style
    ("learns_from", "starts to learn", "tab:green", ":"),
    ("best_lr", "lowest loss", "black", "--"),
    ("suggested_lr", "suggested (lowest / 10)", "tab:purple", "-"),  # as on the learning-rate plot
    ("diverges_at", "diverges", "tab:red", "-."),
)


def plot_lr_find(run: RunData):
    """The range test: loss against the exponentially growing learning rate (log x)."""
    _require(run.lr_find is not None, f"{FILES['lr_find']} not found (the range test did not run)")
    found = run.lr_find
    lrs, losses, smoothed = found["lrs"], found["losses"], found["smoothed"]
    keep = np.isfinite(lrs) & (lrs > 0)
    _require(keep.sum() >= 2, f"{FILES['lr_find']} holds fewer than two learning rates")
    figure, axes = new_figure(10.0, 4.8)
    axes.plot(lrs[keep], losses[keep], color="tab:gray", lw=0.8, alpha=0.6, label="loss per step")
    curve = smoothed[keep] if smoothed is not None else smooth(losses[keep], 5)
    axes.plot(lrs[keep], curve, color="tab:blue", lw=2.2, label="smoothed")
    axes.set_xscale("log")
    if found.get("learns_from") and found.get("best_lr"):
        axes.axvspan(found["learns_from"], found["best_lr"], color="tab:green", alpha=0.12, label="usable range")
    for key, label, color, style in _MARKS:
        if found.get(key):
            axes.axvline(found[key], color=color, ls=style, lw=1.6, label=f"{label}: {found[key]:.1e}")
    axes.set_ylim(*_lr_find_ylim(losses[keep], curve))
    axes.set_title("Learning-rate range test")
    axes.set_xlabel("learning rate (log scale)")
    axes.set_ylabel("training loss")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)  # outside: the curve fills the axes
    return figure


def _lr_find_ylim(losses, curve):
    """Clip the blow-up at the end so the informative part (the fall) fills the plot."""
    finite = curve[np.isfinite(curve)]
    raw = losses[np.isfinite(losses)]
    if not len(finite):
        finite = raw if len(raw) else np.array([0.0, 1.0])
    head = finite[: max(3, len(finite) // 10)]
    low = min(finite.min(), np.percentile(raw, 2) if len(raw) else finite.min())
    high = max(head.max(), finite.max() if finite.max() < 2 * head.max() else 1.5 * head.max())
    margin = 0.05 * (high - low) or 0.1 * abs(high) or 1.0
    return low - margin, high + margin
