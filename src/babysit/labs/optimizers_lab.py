"""Optimizers lab: every optimizer on three 2-D loss surfaces, and on MNIST-1D.

CS231n "Training Neural Networks II", optimization: plain SGD jitters across a narrow
valley and crawls along it, and stalls near a saddle point; momentum (and Nesterov) build
up speed along the valley; AdaGrad, RMSProp and Adam rescale each coordinate and head for
the minimum more directly. On a real net (the MNIST-1D MLP) the same ordering shows in
the training loss: SGD with the lecture's rate is the slowest.
"""

from __future__ import annotations

import numpy as np

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.labs.optimizer_race import final_losses, plot_race, race
from babysit.labs.surfaces import get_surface
from babysit.report.plots import new_figure
from babysit.train import Trainer

SURFACES = ("taco", "rosenbrock", "beale")
BATCH_SIZE = 100

#: Every mini-batch optimizer of babysit.optim with a usual rate for this MLP. SGD and
#: momentum share one rate, so the curves show what momentum alone adds. (L-BFGS is a
#: full-batch method that needs a closure re-evaluating the loss: it is left out here.)
MNIST_OPTIMIZERS = {
    "SGD": (optim.SGD, {"lr": 0.01}),
    "Momentum": (optim.SGD, {"lr": 0.01, "momentum": 0.9}),
    "Nesterov": (optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    "AdaGrad": (optim.Adagrad, {"lr": 0.05}),
    "Adadelta": (optim.Adadelta, {"lr": 1.0}),
    "RMSProp": (optim.RMSprop, {"lr": 1e-3}),
    "Adam": (optim.Adam, {"lr": 1e-3}),
    "AdamW": (optim.AdamW, {"lr": 1e-3}),
    "NAdam": (optim.NAdam, {"lr": 2e-3}),
    "Adamax": (optim.Adamax, {"lr": 2e-3}),
    "AdaBound": (optim.AdaBound, {"lr": 1e-3}),
    "SWATS": (optim.SWATS, {"lr": 1e-3}),
}


def _mlp(seed: int) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(40, 100, rng=rng), nn.ReLU(), nn.Linear(100, 100, rng=rng), nn.ReLU(),
                         nn.Linear(100, 10, rng=rng))


def run_optimizers_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """Race the lecture's optimizers on each surface; train the MNIST-1D MLP with each optimizer.

    Returns ``(results, summary)``: ``results["surfaces"][surface][optimizer]`` is the final
    loss (``inf`` if it diverged) and ``results["paths"][surface][optimizer]`` the trajectory;
    ``results["mnist"][optimizer]`` holds ``train_loss`` (per epoch) and ``test_accuracy``.
    """
    surfaces, paths = {}, {}
    for name in SURFACES:
        trajectories = race(name)
        paths[name] = trajectories
        surfaces[name] = final_losses(trajectories, name)
        plot_race(trajectories, name, out_dir / f"optimizers_{name}.png")
    data = mnist1d()
    train = (data.x_train[:1000], data.y_train[:1000]) if quick else data.train
    epochs = 10 if quick else 30
    mnist = {}
    for name, (cls, kwargs) in MNIST_OPTIMIZERS.items():
        model = _mlp(seed)
        trainer = Trainer(model, nn.SoftmaxCrossEntropy(), cls(model.parameters(), **kwargs), batch_size=BATCH_SIZE,
                          rng=seed, verbose=False)
        history = trainer.fit(train, epochs=epochs)
        mnist[name] = {"train_loss": [row["loss"] for row in history.epochs], "lr": kwargs["lr"],
                       "test_accuracy": float(trainer.evaluate(*data.test)["accuracy"])}
    _plot_mnist(mnist, len(train[0]), out_dir / "optimizers_mnist1d.png")
    results = {"surfaces": surfaces, "paths": paths, "mnist": mnist, "epochs": epochs, "train_size": len(train[0])}
    return results, _summary(results)


def _plot_mnist(mnist: dict, train_size: int, path) -> None:
    figure, (loss_ax, bar_ax) = new_figure(14, 5.5, ncols=2, width_ratios=[2, 1])
    styles = ("-", "--")
    for index, (name, run) in enumerate(mnist.items()):
        epochs = np.arange(1, len(run["train_loss"]) + 1)
        loss_ax.plot(epochs, run["train_loss"], styles[index // 10], color=f"C{index % 10}", marker=".",
                     label=f"{name} (lr {run['lr']:g})")
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss (epoch mean, log scale)")
    loss_ax.set_title(f"MNIST-1D MLP, {train_size} training signals, batch {BATCH_SIZE}")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=8, ncols=2)
    names = list(mnist)
    accuracy = [mnist[name]["test_accuracy"] for name in names]
    bar_ax.barh(names, accuracy, color=[f"C{index % 10}" for index in range(len(names))],
                hatch=[None if index < 10 else "//" for index in range(len(names))])
    for position, value in enumerate(accuracy):
        bar_ax.text(value, position, f" {value:.3f}", va="center", fontsize=9)
    bar_ax.invert_yaxis()
    bar_ax.set_xlim(max(min(accuracy) - 0.1, 0.0), max(accuracy) + 0.08)
    bar_ax.set_xlabel("test accuracy")
    bar_ax.set_title("Test accuracy at the end")
    figure.savefig(path)


def _summary(results) -> str:
    lines = []
    for name, losses in results["surfaces"].items():
        best = min(losses, key=losses.get)
        ordered = ", ".join(f"{opt} {loss:.3g}" for opt, loss in sorted(losses.items(), key=lambda item: item[1]))
        lines.append(f"- **{name}** ({get_surface(name).description}): final losses {ordered}; "
                     f"best {best}, SGD {losses['SGD']:.3g}.")
    mnist = results["mnist"]
    rows = "\n".join(f"| {name} | {run['lr']:g} | {run['train_loss'][-1]:.3f} | {run['test_accuracy']:.3f} |"
                     for name, run in mnist.items())
    surfaces = "\n".join(lines)
    return f"""What to look for: optimizers_<surface>.png draws each optimizer's path from the same start
(SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam); optimizers_mnist1d.png trains the MNIST-1D
MLP with every optimizer ({results['train_size']} signals, {results['epochs']} epochs).

{surfaces}

On the taco (a narrow valley with a saddle at the origin) SGD is still crawling away from the
saddle when the others have reached a minimum. On MNIST-1D, SGD at lr 0.01 ends at training loss
{mnist['SGD']['train_loss'][-1]:.3f}; the same rate with momentum 0.9 reaches
{mnist['Momentum']['train_loss'][-1]:.3f}, Adam {mnist['Adam']['train_loss'][-1]:.3f}.

| optimizer | lr | final training loss | test accuracy |
|---|---|---|---|
{rows}
"""
