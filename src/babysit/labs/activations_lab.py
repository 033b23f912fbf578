"""Activations lab: sigmoid, tanh, ReLU, leaky ReLU, PReLU, ELU and maxout on MNIST-1D.

CS231n "Training Neural Networks I", activation functions. The sigmoid's three problems:
saturated units kill the gradient (its local gradient is at most 1/4, so a deep sigmoid
net's first layers get gradients orders of magnitude smaller than its last: they barely
learn), its outputs are not zero-centered (all-positive inputs to the next layer make that
layer's weight gradients share one sign: updates zig-zag), and exp() is costly. tanh is
zero-centered but still saturates; ReLU does not saturate for x > 0 and converges much
faster; leaky ReLU, PReLU, ELU and maxout do not die. "Use ReLU; try leaky ReLU / maxout /
ELU; try tanh but don't expect much; don't use sigmoid."

Two nets are trained with every activation, the same data, optimizer and rate: a shallow
MLP (2 hidden layers of 100) and a deep one (8 hidden layers of 64), recording the
training loss, the test accuracy, each layer's weight-gradient norm, and how often the
second hidden layer's weight-gradient rows have one sign. :mod:`babysit.labs.zigzag`
shows the zig-zag on a 2-D weight vector.
"""

from __future__ import annotations

import math

import numpy as np

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.diagnostics.gradient_monitor import GradientMonitor
from babysit.diagnostics.monitor_base import weight_parameters
from babysit.labs.zigzag import best_steps, plot_paths, plot_steps, run_zigzag
from babysit.report.plots import new_figure
from babysit.train import Trainer
from babysit.train.callbacks.base import Callback

#: Activation name -> (layer class, weight init). Sigmoid and tanh get Xavier, the ReLU
#: family He (the init lab's lesson); maxout builds its own affine pieces (Xavier).
ACTIVATIONS = {
    "sigmoid": (nn.Sigmoid, "xavier"),
    "tanh": (nn.Tanh, "xavier"),
    "ReLU": (nn.ReLU, "he"),
    "leaky ReLU": (nn.LeakyReLU, "he"),
    "PReLU": (nn.PReLU, "he"),
    "ELU": (nn.ELU, "he"),
    "maxout": (None, "xavier"),
}
#: (hidden layers, width) of the two nets.
NETS = {"shallow": (2, 100), "deep": (8, 64)}
LR, MOMENTUM, BATCH_SIZE = 0.01, 0.9, 100
ZIGZAG_LRS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
ZIGZAG_PATH_LR = 1.0
ZIGZAG_STEPS = 300


def build_net(activation: str, hidden: int, width: int, seed: int = 0, in_features: int = 40,
              classes: int = 10) -> nn.Sequential:
    """``hidden`` layers of ``width`` units with ``activation`` (maxout: 2 pieces), then a linear classifier."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {list(ACTIVATIONS)}")
    layer_class, init = ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    layers, fan_in = [], in_features
    for _ in range(hidden):
        if layer_class is None:
            layers.append(nn.Maxout(fan_in, width, pieces=2, init=init, rng=rng))
        else:
            layers += [nn.Linear(fan_in, width, init=init, rng=rng), layer_class()]
        fan_in = width
    layers.append(nn.Linear(fan_in, classes, init="xavier", rng=rng))
    return nn.Sequential(*layers)


class SignAgreement(Callback):
    """After every update, the fraction of a weight matrix's rows (one neuron each) whose
    gradient components all share one sign (exact zeros, e.g. from dead ReLU inputs, ignored;
    rows that are all zero, from dead units, left out).

    Row ``j`` of ``dL/dW`` is ``sum_n delta_nj h_n``: with all-positive inputs ``h_n`` every
    example pushes the whole row one way, so the sum mostly does too.
    """

    def __init__(self, parameter):
        self.parameter = parameter
        self.fractions: list[float] = []

    def on_batch_end(self, trainer, logs):
        grad = self.parameter.grad
        positive, negative = (grad > 0).sum(axis=1), (grad < 0).sum(axis=1)
        alive = positive + negative > 0  # a dead unit's all-zero row says nothing about signs
        if alive.any():
            self.fractions.append(float(np.mean(((positive == 0) | (negative == 0))[alive])))


def train_net(activation: str, net: str, train, test, epochs: int, seed: int = 0) -> dict:
    """Train one net; returns its curves, test accuracy, per-layer gradient norms and sign agreement."""
    hidden, width = NETS[net]
    model = build_net(activation, hidden, width, seed)
    weights = weight_parameters(model)
    monitor = GradientMonitor(every=1)
    signs = SignAgreement(weights[1][1])  # the second hidden layer: its inputs are the first layer's outputs
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
                      batch_size=BATCH_SIZE, callbacks=[monitor, signs], rng=seed, verbose=False)
    history = trainer.fit(train, epochs=epochs)
    norms = np.array([monitor.records[name]["norm"] for name, _ in weights])  # (layers, steps)
    first_epoch = -(-len(train[0]) // BATCH_SIZE)
    return {"train_loss": [row["loss"] for row in history.epochs],
            "test_accuracy": float(trainer.evaluate(*test)["accuracy"]),
            "grad_norm_start": np.median(norms[:, :first_epoch], axis=1).tolist(),
            "grad_ratio_steps": (norms[0] / norms[-1]).tolist(),
            "same_sign": float(np.mean(signs.fractions))}


def run_activations_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """Train both nets with every activation; the 2-D zig-zag experiment; plots and summary.

    Returns ``(results, summary)``: ``results["runs"][net][activation]`` (``net`` "shallow"
    or "deep") holds ``train_loss`` (per epoch), ``test_accuracy``, ``grad_norm_start``
    (each weight layer's gradient norm, median over the first epoch, first layer first),
    ``grad_ratio_steps`` (first/last layer's gradient norm at every step) and ``same_sign``
    (mean fraction of the second hidden layer's neurons whose weight gradient has one sign);
    ``results["zigzag"][kind]`` (kind "all positive" or "zero-centered") holds
    ``same_sign``, ``path_ratio``, ``steps_to_converge``, ``steps_by_lr``, ``condition``.
    ``quick`` trains on 1000 signals for 10 epochs instead of 4000 for 30.
    """
    data = mnist1d()
    train = (data.x_train[:1000], data.y_train[:1000]) if quick else data.train
    epochs = 10 if quick else 30
    runs = {net: {name: train_net(name, net, train, data.test, epochs, seed) for name in ACTIVATIONS}
            for net in NETS}
    zigzag = run_zigzag(ZIGZAG_LRS, ZIGZAG_PATH_LR, steps=ZIGZAG_STEPS, seed=seed)
    _plot_curves(runs, len(train[0]), out_dir / "activations_curves.png")
    _plot_gradients(runs["deep"], out_dir / "activations_gradients.png")
    _plot_zigzag(zigzag, runs["shallow"], out_dir / "activations_zigzag.png")
    zigzag_numbers = {kind: {key: value for key, value in result.items() if key not in ("inputs", "path")}
                      for kind, result in zigzag.items()}
    results = {"runs": runs, "zigzag": zigzag_numbers, "epochs": epochs, "train_size": len(train[0])}
    return results, _summary(results)


def _plot_curves(runs: dict, train_size: int, path) -> None:
    figure, axes = new_figure(16, 5, ncols=3, width_ratios=[1.2, 1.2, 1])
    for ax, (net, by_activation) in zip(axes[:2], runs.items(), strict=False):
        for index, (name, run) in enumerate(by_activation.items()):
            epochs = np.arange(1, len(run["train_loss"]) + 1)
            ax.plot(epochs, run["train_loss"], "-", marker=".", color=f"C{index}", label=name)
        ax.axhline(math.log(10), color="0.4", ls=":", lw=1)
        ax.text(1, math.log(10), " chance: ln 10 = 2.30", va="bottom", fontsize=8, color="0.3")
        hidden, width = NETS[net]
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (epoch mean)")
        ax.set_title(f"{net} MLP: {hidden} hidden layers of {width}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    names = list(ACTIVATIONS)
    position = np.arange(len(names))
    for offset, net in zip((-0.2, 0.2), runs, strict=True):
        accuracy = [runs[net][name]["test_accuracy"] for name in names]
        axes[2].barh(position + offset, accuracy, height=0.4, label=f"{net} MLP",
                     color="tab:blue" if net == "shallow" else "tab:orange")
        for y, value in zip(position + offset, accuracy, strict=True):
            axes[2].text(value, y, f" {value:.2f}", va="center", fontsize=8)
    axes[2].set_yticks(position, names)
    axes[2].invert_yaxis()
    axes[2].axvline(0.1, color="0.4", ls=":", lw=1)
    axes[2].set_xlim(0, 1)
    axes[2].set_xlabel("test accuracy (chance 0.10, dotted)")
    axes[2].set_title("Test accuracy at the end")
    axes[2].legend(fontsize=8, loc="lower right")
    figure.suptitle(f"MNIST-1D, {train_size} training signals, SGD lr {LR} momentum {MOMENTUM}, batch {BATCH_SIZE}")
    figure.savefig(path)


def _plot_gradients(deep: dict, path) -> None:
    figure, (profile_ax, ratio_ax) = new_figure(14, 5, ncols=2)
    for index, (name, run) in enumerate(deep.items()):
        layers = np.arange(1, len(run["grad_norm_start"]) + 1)
        profile_ax.semilogy(layers, run["grad_norm_start"], "o-", color=f"C{index}", label=name)
        steps = np.arange(1, len(run["grad_ratio_steps"]) + 1)
        ratio_ax.semilogy(steps, run["grad_ratio_steps"], "-", color=f"C{index}", lw=1, label=name)
    profile_ax.set_xticks(layers, [*map(str, layers[:-1]), f"{layers[-1]}\n(output)"])
    profile_ax.set_xlabel("weight layer (1 = nearest the input)")
    profile_ax.set_ylabel("gradient norm ||dL/dW|| (median over epoch 1, log scale)")
    profile_ax.set_title("Gradient size by depth at the start of training (deep MLP)")
    ratio_ax.axhline(1.0, color="0.4", ls=":", lw=1)
    ratio_ax.set_xlabel("SGD step")
    ratio_ax.set_ylabel("first layer's / output layer's gradient norm (log scale)")
    ratio_ax.set_title("How much smaller the first layer's gradient is, during training")
    for ax in (profile_ax, ratio_ax):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, ncols=2)
    figure.savefig(path)


def _plot_zigzag(zigzag: dict, shallow: dict, path) -> None:
    figure, axes = new_figure(13, 11, nrows=2, ncols=2)
    plot_paths(axes[0], zigzag, ZIGZAG_PATH_LR)
    plot_steps(axes[1, 0], zigzag, ZIGZAG_STEPS)
    names = list(shallow)
    fractions = [shallow[name]["same_sign"] for name in names]
    bar_ax = axes[1, 1]
    bar_ax.barh(names, fractions, color=[f"C{index}" for index in range(len(names))])
    for position, value in enumerate(fractions):
        bar_ax.text(value, position, f" {value:.0%}", va="center", fontsize=9)
    bar_ax.invert_yaxis()
    bar_ax.set_xlim(0, 1.1)
    bar_ax.set_xlabel("fraction of neurons whose weight-gradient row has one sign (mean over steps)")
    bar_ax.set_title(f"The same on MNIST-1D: 2nd hidden layer of the shallow MLP,\nbatch {BATCH_SIZE}, "
                     "inputs = the 1st layer's activations", fontsize=10)
    figure.suptitle("Zig-zag: with all-positive inputs every per-example update is all-up or all-down")
    figure.savefig(path)


def _summary(results: dict) -> str:
    shallow, deep = results["runs"]["shallow"], results["runs"]["deep"]
    zig = results["zigzag"]
    positive, centered = zig["all positive"], zig["zero-centered"]
    (lr_pos, steps_pos), (lr_cen, steps_cen) = best_steps(positive), best_steps(centered)
    sigmoid_profile = deep["sigmoid"]["grad_norm_start"]
    relu_profile = deep["ReLU"]["grad_norm_start"]
    rows = "\n".join(
        f"| {name} | {shallow[name]['train_loss'][-1]:.3f} | {shallow[name]['test_accuracy']:.3f} | "
        f"{deep[name]['train_loss'][-1]:.3f} | {deep[name]['test_accuracy']:.3f} | "
        f"{deep[name]['grad_norm_start'][0] / deep[name]['grad_norm_start'][-1]:.1e} | "
        f"{shallow[name]['same_sign']:.0%} |"
        for name in shallow)
    return f"""What to look for: activations_curves.png (training loss and test accuracy of every
activation, shallow and deep MLP, {results['train_size']} signals, {results['epochs']} epochs),
activations_gradients.png (each layer's gradient norm in the deep MLP), activations_zigzag.png
(the 2-D zig-zag and the sign of real weight gradients). Losses are final training losses, acc test accuracies;
"one-signed rows": the shallow MLP's second hidden layer, mean over steps.

- **Vanishing gradients**: in the deep sigmoid MLP the first layer's gradient is
  {sigmoid_profile[0] / sigmoid_profile[-1]:.1e} of the output layer's (ReLU: {relu_profile[0] / relu_profile[-1]:.2g});
  its training loss stays at {deep['sigmoid']['train_loss'][-1]:.3f} (chance, ln 10 = 2.303) while ReLU reaches
  {deep['ReLU']['train_loss'][-1]:.3f}.
- **Sigmoid converges slowest** even when shallow: training loss {shallow['sigmoid']['train_loss'][-1]:.3f} after
  {results['epochs']} epochs, against {shallow['tanh']['train_loss'][-1]:.3f} (tanh) and
  {shallow['ReLU']['train_loss'][-1]:.3f} (ReLU).
- **Zig-zag**: with all-positive inputs {positive['same_sign']:.0%} of the per-example updates have two
  components of one sign (zero-centered: {centered['same_sign']:.0%}); the path to w* is
  {positive['path_ratio']:.1f}x the straight distance (zero-centered {centered['path_ratio']:.1f}x). The positive mean
  makes the loss ill-conditioned (condition number {positive['condition']:.1f} against {centered['condition']:.2f}), so
  the fastest rate converges in {steps_pos} steps (lr {lr_pos:g}) against {steps_cen} (lr {lr_cen:g}).
- On MNIST-1D (batch {BATCH_SIZE}), {shallow['sigmoid']['same_sign']:.0%} of the second sigmoid layer's neurons
  get a one-signed weight gradient per step; tanh {shallow['tanh']['same_sign']:.0%},
  ReLU {shallow['ReLU']['same_sign']:.0%}
  (ReLU outputs are positive too, so each example's update is one-signed, but they are sparse:
  over a batch, different examples drive different components and the signs mix).

| activation | shallow: loss | shallow: acc | deep: loss | deep: acc | deep: grad 1st / output | one-signed rows |
|---|---|---|---|---|---|---|
{rows}
"""
