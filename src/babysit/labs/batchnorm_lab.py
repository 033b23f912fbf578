"""BatchNorm lab: a 10-layer ReLU net with and without BatchNorm, over learning rates and init scales.

CS231n "Training Neural Networks I", batch normalization (Ioffe & Szegedy 2015): "you want
unit Gaussian activations? just make them so." Normalizing each hidden unit over the batch,
``x_hat = (x - E[x]) / sqrt(Var[x] + eps)``, then ``y = gamma * x_hat + beta``, placed after
every Linear layer and before the ReLU, (1) improves gradient flow, (2) allows higher
learning rates and (3) reduces the strong dependence on initialization.

The lab trains the same 10-layer, 64-unit ReLU MLP on MNIST-1D with plain mini-batch SGD
(``p -= lr * grad``), from He-normal weights multiplied by an init scale, over a grid of
learning rates and init scales, once without and once with BatchNorm. A run has diverged
when its loss is non-finite or exceeds 3x its first loss (the lecture's rule, ExplosionGuard).
The plain net only trains near scale 1 and at small rates; with BatchNorm nearly every cell
trains. ``benchmarks/batchnorm_evidence.py`` measured the same on the 8x8 digits.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.labs.batchnorm_plots import plot_activations, plot_curves, plot_grid
from babysit.train import ExplosionGuard, Trainer

DEPTH, WIDTH, BATCH_SIZE = 10, 64, 64
LEARNING_RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
INIT_SCALES = (0.1, 0.3, 1.0, 3.0, 10.0)
#: The quick grid keeps the corners and the middle: small / usual / too-high rate, shrinking / He / exploding init.
QUICK_LEARNING_RATES = (0.03, 0.3, 3.0)
QUICK_INIT_SCALES = (0.1, 1.0, 10.0)
NETS = ("plain", "BatchNorm")

#: A run "learned" when its last-epoch training loss is this far below chance, ln(10) = 2.30.
LEARNED_LOSS = 2.0


def deep_mlp(batchnorm: bool, init_scale: float = 1.0, seed: int = 0, inputs: int = 40, classes: int = 10,
             depth: int = DEPTH, width: int = WIDTH) -> nn.Sequential:
    """``depth`` Linear layers (``depth - 1`` hidden ones of ``width`` ReLU units), He-normal
    weights times ``init_scale``; with ``batchnorm``, a BatchNorm1d between each hidden Linear
    and its ReLU (whose Linear then has no bias: BatchNorm's beta replaces it)."""
    rng = np.random.default_rng(seed)
    layers, fan_in = [], inputs
    for _ in range(depth - 1):
        layers.append(nn.Linear(fan_in, width, bias=not batchnorm, rng=rng))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        fan_in = width
    layers.append(nn.Linear(fan_in, classes, rng=rng))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            layer.weight.data *= init_scale  # every layer, the classifier too: the init the lecture varies
    return nn.Sequential(*layers)


def hidden_activation_std(model: nn.Sequential, x: np.ndarray) -> list[float]:
    """The std of every ReLU's output for the batch ``x`` (train mode: BatchNorm uses the batch's statistics)."""
    model.train()
    stds, h = [], x
    with np.errstate(over="ignore", invalid="ignore"):  # the exploding init overflows: that is what is measured
        for layer in model:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                stds.append(float(np.std(h.astype(np.float64))))
    return stds


def train_run(model, train, val, lr: float, epochs: int, seed: int = 0) -> dict:
    """Plain SGD at ``lr``; returns per-step ``batch_loss``, per-epoch ``train_loss`` and
    ``val_accuracy``, and ``diverged`` / ``stop_reason`` (ExplosionGuard or a non-finite loss)."""
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=lr),
                      callbacks=[ExplosionGuard(3.0)], batch_size=BATCH_SIZE, rng=seed, verbose=False)
    # Overflow raises (as in the tests) whatever the caller's NumPy settings, so the Trainer stops a
    # diverging run at the same step everywhere instead of carrying NaN on. Divergence is what the
    # grid measures: the Trainer's warning about it would only repeat the table.
    with np.errstate(all="raise", under="ignore"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="training stopped", category=UserWarning)
        history = trainer.fit(train, val, epochs=epochs)
    diverged = trainer.stop_reason is not None
    rows = [row for row in history.epochs if row["val_accuracy"] is not None]
    return {"batch_loss": list(history.batch_loss), "train_loss": [row["loss"] for row in rows],
            "val_accuracy": [row["val_accuracy"] for row in rows], "diverged": diverged,
            "stop_reason": trainer.stop_reason, "steps": trainer.step,
            "final_loss": math.inf if diverged else rows[-1]["loss"],
            "final_val_accuracy": 0.0 if diverged else rows[-1]["val_accuracy"]}


def run_batchnorm_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """Train the plain and the BatchNorm net on every (learning rate, init scale) of the grid.

    Returns ``(results, summary)``: ``results["runs"][net][scale][lr]`` is :func:`train_run`'s
    dict, net ``"plain"`` or ``"BatchNorm"``; ``results["learned"][net]`` counts the cells
    whose last-epoch training loss is below :data:`LEARNED_LOSS` (and not diverged);
    ``results["activation_std"][net][scale]`` lists the std of each hidden layer's output at init.
    ``quick``: a 3 x 3 grid, 2000 training signals, 5 epochs (full: 6 x 5, 3000, 10).
    """
    data = mnist1d(val_size=1000)
    rates = QUICK_LEARNING_RATES if quick else LEARNING_RATES
    scales = QUICK_INIT_SCALES if quick else INIT_SCALES
    size, epochs = (2000, 5) if quick else (len(data.x_train), 10)
    train = (data.x_train[:size], data.y_train[:size])
    runs = {net: {scale: {lr: train_run(deep_mlp(net == "BatchNorm", scale, seed), train, data.val, lr, epochs, seed)
                          for lr in rates} for scale in scales} for net in NETS}
    probe = data.x_train[:500]
    activation_std = {net: {scale: hidden_activation_std(deep_mlp(net == "BatchNorm", scale, seed), probe)
                            for scale in scales} for net in NETS}
    learned = {net: sum(_learned(run) for row in runs[net].values() for run in row.values()) for net in NETS}
    results = {"runs": runs, "learned": learned, "activation_std": activation_std, "learning_rates": list(rates),
               "init_scales": list(scales), "epochs": epochs, "train_size": size, "cells": len(rates) * len(scales)}
    steps_per_epoch = -(-size // BATCH_SIZE)
    plot_grid(runs, rates, scales, out_dir / "batchnorm_grid.png", subtitle=_setup(size, epochs))
    curve_lr = max((lr for lr in rates if not runs["plain"][1.0][lr]["diverged"]), default=rates[0])
    plot_curves(runs, rates, scales, curve_lr, steps_per_epoch, out_dir / "batchnorm_curves.png")
    plot_activations(activation_std, out_dir / "batchnorm_activations.png")
    results["curve_lr"] = curve_lr
    return results, _summary(results)


def _learned(run: dict) -> bool:
    return not run["diverged"] and run["final_loss"] < LEARNED_LOSS


def _setup(size: int, epochs: int) -> str:
    return (f"{DEPTH}-layer ReLU MLP (width {WIDTH}), MNIST-1D, {size} training signals, "
            f"plain SGD, batch {BATCH_SIZE}, {epochs} epochs")


def _cell(run: dict) -> str:
    if run["diverged"]:
        return f"diverged (step {run['steps']})"
    return f"{run['final_loss']:.2f} / {run['final_val_accuracy']:.0%}"


def _summary(results: dict) -> str:
    runs, rates, scales = results["runs"], results["learning_rates"], results["init_scales"]
    header = "| init scale | net | " + " | ".join(f"lr {lr:g}" for lr in rates) + " |"
    rule = "|---|---|" + "---|" * len(rates)
    rows = "\n".join(f"| x{scale:g} | {net} | " + " | ".join(_cell(runs[net][scale][lr]) for lr in rates) + " |"
                     for scale in scales for net in NETS)
    plain, bn = runs["plain"], runs["BatchNorm"]
    top_rate = rates[-1]
    small, large = scales[0], scales[-1]
    act = results["activation_std"]
    bn_std = [std for stds in act["BatchNorm"].values() for std in stds]
    best = {net: max(run["final_val_accuracy"] for row in runs[net].values() for run in row.values()) for net in NETS}
    return f"""What to look for: batchnorm_grid.png colours each (learning rate, init scale) cell by the
final validation accuracy and training loss, without BatchNorm on the left and with it on the right;
batchnorm_curves.png shows the training loss of a few cells; batchnorm_activations.png the
std of every hidden layer's output at init. {_setup(results['train_size'], results['epochs'])};
a run diverged when its loss became non-finite or exceeded 3x its first loss.

- **Robust to init**: without BatchNorm the net learns (final training loss < {LEARNED_LOSS:g}) in
  {results['learned']['plain']} of {results['cells']} cells, with BatchNorm in {results['learned']['BatchNorm']}.
  At init scale x{small:g} the plain net's activations shrink to {act['plain'][small][-1]:.1e} by the last
  hidden layer and its loss stays at ln 10 = 2.30 ({_cell(plain[small][rates[0]])} at lr {rates[0]:g});
  at x{large:g} they grow to {act['plain'][large][-1]:.1e} and every run diverges. With BatchNorm every
  hidden layer's output has std {min(bn_std):.2f}-{max(bn_std):.2f} whatever the scale.
- **Higher learning rates**: at lr {top_rate:g} and He init (x1) the plain net gives
  {_cell(plain[1.0][top_rate])}; with BatchNorm {_cell(bn[1.0][top_rate])}.
- Best validation accuracy over the grid: plain {best['plain']:.1%}, BatchNorm {best['BatchNorm']:.1%}.
- With BatchNorm a larger init scale wants a larger rate: the layer's output does not depend on
  the scale of its weights, so their gradient shrinks as 1/scale and the relative step as 1/scale^2.

Cells: final training loss / final validation accuracy.

{header}
{rule}
{rows}
"""
