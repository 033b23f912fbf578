"""Babysitting lab: the lecture's sequence of sanity checks on a 2-layer net (MNIST-1D).

CS231n "Training Neural Networks I", babysitting the learning process:

1. With small weights and no regularization the loss at init is ``ln(10) = 2.30`` (ten
   classes, uniform softmax). 2. Turning on strong regularization raises it. 3. With no
   regularization the net overfits 20 examples to 100% training accuracy. 4. A learning
   rate of 1e-6 barely moves the loss; 5. 1e6 gives NaN at once; 6. a merely too-high rate
   explodes after a few steps; 7. a coarse sweep (and the range test) finds the usable range.
"""

from __future__ import annotations

import math

import numpy as np

from babysit import init, nn, optim
from babysit.data import mnist1d
from babysit.diagnostics.lr_finder import find_lr
from babysit.errors import NonFiniteError
from babysit.report.plots import new_figure

HIDDEN = 100
#: Rates of the coarse search: from "barely moves" through "explodes" to "NaN at once".
SWEEP = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 1e6)
#: L2 strengths whose effect on the loss at init is measured.
REGULARIZATION = (0.0, 1e-3, 1e-2, 1e-1, 1.0)


def two_layer_net(rng=None) -> nn.Sequential:
    """``Linear(40, 100)``-ReLU-``Linear(100, 10)``: He for the hidden layer, and a tiny
    output layer (std 1e-3) so that the scores, and so the softmax, start near uniform."""
    rng = np.random.default_rng(rng)
    return nn.Sequential(nn.Linear(40, HIDDEN, init="he", rng=rng, dtype=np.float64), nn.ReLU(),
                         nn.Linear(HIDDEN, 10, init=init.normal(std=1e-3), rng=rng, dtype=np.float64))


def train_sgd(model, x, y, *, lr: float, steps: int, batch_size: int = 100, momentum: float = 0.9,
              penalty=None, rng=None) -> list[float]:
    """``steps`` SGD updates on random mini-batches; the loss before each (NaN once it blew up).

    A run whose loss turns non-finite stops there: the rest of the list is NaN.
    """
    rng = np.random.default_rng(rng)
    loss_fn, optimizer = nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = [math.nan] * steps
    with np.errstate(all="ignore"):  # a diverging run is one of the results, not an error
        for step in range(steps):
            index = rng.choice(len(x), size=min(batch_size, len(x)), replace=False)
            try:
                loss = float(loss_fn(model(x[index]), y[index]) + (penalty(model) if penalty else 0.0))
            except (NonFiniteError, FloatingPointError, ValueError):
                break
            if not math.isfinite(loss):
                break
            losses[step] = loss
            model.zero_grad()
            model.backward(loss_fn.backward())
            if penalty:
                penalty.backward(model)
            optimizer.step()
    return losses


def accuracy(model, x, y) -> float:
    model.eval()
    accuracy = float(np.mean(model(x).argmax(axis=1) == y))
    model.train()
    return accuracy


def run_babysitting_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """The lecture's sequence; returns ``(results, summary)`` and writes four plots.

    ``results``: ``initial_loss``, ``chance_loss``, ``reg_loss`` (L2 strength -> loss at
    init), ``overfit_losses``/``overfit_accuracy`` (20 examples), ``sweep`` (lr -> losses
    per step), ``sweep_change`` (lr -> relative change of the loss, NaN if it blew up),
    ``diverged`` (lr -> bool), ``usable_range`` (from the range test).
    """
    data = mnist1d()
    x, y = data.x_train.astype(np.float64), data.y_train
    loss_fn = nn.SoftmaxCrossEntropy()
    model = two_layer_net(seed)
    initial_loss = float(loss_fn(model(x), y))
    reg_loss = {strength: initial_loss + nn.L2Penalty(strength)(model) for strength in REGULARIZATION}

    tiny_x, tiny_y = x[:20], y[:20]
    tiny_model = two_layer_net(seed)
    overfit_steps = 200 if quick else 400
    overfit_losses = train_sgd(tiny_model, tiny_x, tiny_y, lr=0.05, steps=overfit_steps, batch_size=20, rng=seed)
    overfit_accuracy = accuracy(tiny_model, tiny_x, tiny_y)

    sweep_steps = 100 if quick else 400  # 1 or 10 epochs of 4000 examples in batches of 100
    sweep, change, diverged = {}, {}, {}
    for lr in SWEEP:
        losses = train_sgd(two_layer_net(seed), x, y, lr=lr, steps=sweep_steps, rng=seed)
        sweep[lr] = losses
        final = np.nanmean(losses[-10:]) if math.isfinite(losses[-1]) else math.nan
        diverged[lr] = not math.isfinite(final) or final > 1.5 * initial_loss
        change[lr] = (final - losses[0]) / losses[0] if math.isfinite(final) else math.nan

    finder = find_lr(two_layer_net(seed), nn.SoftmaxCrossEntropy(), x, y, start_lr=1e-6, end_lr=10.0,
                     steps=100 if quick else 300, batch_size=100, rng=seed)
    _plot_init(initial_loss, reg_loss, out_dir / "babysitting_init_loss.png")
    _plot_overfit(overfit_losses, overfit_accuracy, out_dir / "babysitting_overfit.png")
    _plot_sweep(sweep, diverged, out_dir / "babysitting_lr_sweep.png")
    _plot_finder(finder, out_dir / "babysitting_lr_find.png")
    results = {"initial_loss": initial_loss, "chance_loss": math.log(10), "reg_loss": reg_loss,
               "overfit_losses": overfit_losses, "overfit_accuracy": overfit_accuracy, "sweep": sweep,
               "sweep_change": change, "diverged": diverged, "usable_range": finder.usable_range,
               "lr_find": finder.to_dict()}
    return results, _summary(results)


def _plot_init(initial_loss, reg_loss, path) -> None:
    figure, ax = new_figure(7, 4.5)
    labels = [f"{strength:g}" for strength in reg_loss]
    ax.bar(labels, list(reg_loss.values()), color="tab:blue")
    ax.axhline(math.log(10), color="tab:red", ls="--", label=f"ln 10 = {math.log(10):.3f}")
    for index, value in enumerate(reg_loss.values()):
        ax.text(index, value, f"{value:.3f}", ha="center", va="bottom", fontsize=9)
    ax.set_yscale("log")
    ax.set_xlabel("L2 strength")
    ax.set_ylabel("loss at init (data + L2, log scale)")
    ax.set_title(f"Loss at init: {initial_loss:.3f} without regularization; stronger L2 raises it")
    ax.legend()
    figure.savefig(path)


def _plot_overfit(losses, final_accuracy, path) -> None:
    figure, ax = new_figure(7, 4.5)
    ax.semilogy(np.arange(len(losses)), losses, color="tab:blue")
    ax.set_xlabel("SGD step (the 20 examples as one batch)")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title(f"Overfitting 20 examples, no regularization: train accuracy {final_accuracy:.0%}")
    ax.grid(alpha=0.3)
    figure.savefig(path)


def _plot_sweep(sweep, diverged, path) -> None:
    figure, (full, zoom) = new_figure(12, 5, ncols=2)
    for index, (lr, losses) in enumerate(sweep.items()):
        losses, color = np.asarray(losses), f"C{index}"
        finite = np.isfinite(losses)
        last = int(np.flatnonzero(finite)[-1]) if finite.any() else 0
        state = (" (NaN at step 0)" if not finite.any() else f" (NaN at step {last + 1})" if not finite[-1]
                 else " (exploded)" if diverged[lr] else "")
        steps = np.arange(len(losses))
        # log10 of the loss on a linear axis: losses reach 1e300, past what a log axis can draw
        full.plot(steps, np.log10(losses), color=color)
        zoom.plot(steps, losses, color=color, label=f"lr {lr:g}{state}")
        if finite.any() and not finite[-1]:
            full.plot(last, np.log10(losses[last]), "x", color=color, ms=10, mew=2)
    finite_values = np.concatenate([np.asarray(v)[np.isfinite(v)] for v in sweep.values()])
    full.set_title("All rates (x: the last finite loss before NaN)")
    zoom.set_ylim(0.5 * finite_values.min(), 1.6 * math.log(10))
    zoom.set_title("Zoom on the rates that learn")
    for ax in (full, zoom):
        ax.set_xlabel("SGD step (batches of 100, momentum 0.9)")
        ax.grid(alpha=0.3)
    full.axhline(math.log10(math.log(10)), color="gray", ls=":", lw=1)
    zoom.axhline(math.log(10), color="gray", ls=":", lw=1, label="ln 10")
    full.set_ylabel("log10(training loss)")
    zoom.set_ylabel("training loss")
    zoom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    figure.suptitle("Coarse learning-rate search: too low barely moves, too high explodes or gives NaN")
    figure.savefig(path)


def _plot_finder(finder, path) -> None:
    figure, ax = new_figure(8, 4.5)
    ax.semilogx(finder.lrs, finder.losses, color="tab:blue", alpha=0.35, label="loss")
    ax.semilogx(finder.lrs, finder.smoothed, color="tab:blue", label="smoothed")
    if finder.usable_range is not None:
        low, high = finder.usable_range
        ax.axvspan(low, high, color="tab:green", alpha=0.2, label=f"usable: {low:.1e} to {high:.1e}")
    finite = np.asarray(finder.losses)[np.isfinite(finder.losses)]
    if finite.size:
        ax.set_ylim(0.0, min(float(finite.max()), 3.0 * float(finite[0])) * 1.05)
    ax.set_xlabel("learning rate (log scale, raised every step)")
    ax.set_ylabel("training loss")
    ax.set_title("Learning-rate range test: the usable range")
    ax.legend()
    ax.grid(alpha=0.3)
    figure.savefig(path)


def _summary(results) -> str:
    change = results["sweep_change"]
    usable = results["usable_range"]
    usable_text = "not found" if usable is None else f"{usable[0]:.1e} to {usable[1]:.1e}"
    exploding = [lr for lr, bad in results["diverged"].items() if bad]
    rows = "\n".join(f"| {lr:g} | {'NaN / diverged' if results['diverged'][lr] else f'{change[lr]:+.1%}'} |"
                     for lr in results["sweep"])
    return f"""What to look for, in the lecture's order:

1. Loss at init **{results['initial_loss']:.3f}** vs ln 10 = {math.log(10):.3f} (babysitting_init_loss.png).
2. With L2 strength 1.0 it rises to **{results['reg_loss'][1.0]:.3f}**.
3. 20 examples, no regularization: train accuracy **{results['overfit_accuracy']:.0%}** (babysitting_overfit.png).
4. lr 1e-6 changes the loss by **{change[1e-6]:+.2%}**: far too low (babysitting_lr_sweep.png).
5. lr 1e6 blows the loss up at once, to NaN within the run; every rate from **{min(exploding):g}** up explodes.
6. The range test (babysitting_lr_find.png) reads the usable range **{usable_text}**.

| lr | change of the training loss |
|---|---|
{rows}
"""
