"""Transfer lab: pretrain on a big source task, then learn a small target task three ways.

CS231n "Training Neural Networks II", transfer learning: "you need a lot of data if you
want to train/use CNNs" is busted by pretraining. Train on a big data set; for a small new
data set, freeze the pretrained body and train only a new top layer (feature extraction);
with more data, fine-tune more of the network, at a lower rate for the pretrained layers
(about a tenth of the new layers'). With enough target data, training from scratch catches
up, and the frozen features, tuned to the source task, fall behind.

Source task: MNIST-1D digits 0-4, about 8000 signals drawn fresh from the MNIST-1D
generator with seed 123 (the published split is seed 42, so no source signal is a target
signal). Target task: digits 5-9 with only ``n`` labelled signals per class, taken from the
published training split; tested on the 5-9 signals of the published test split (about 500).
The two halves share what makes MNIST-1D signals (bumps, ramps, noise, shifts, shear;
several 5-9 templates are 0-4 templates flipped in sign) but not a single class, like
ImageNet and a new set of object categories.
"""

from __future__ import annotations

import numpy as np

from babysit import optim
from babysit.data import mnist1d
from babysit.data.mnist1d import make_mnist1d
from babysit.evaluation import fine_tune_param_groups, freeze_all_but, replace_head
from babysit.labs.mnist1d_nets import accuracy, as_signals, cnn, fit
from babysit.report.plots import new_figure

SOURCE_SEED = 123
CHANNELS = 32  # a little wider than the published 25, so the body has features to spare
LR = 1e-2
BODY_LR_FACTOR = 0.1  # fine-tuning: pretrained layers at a tenth of the new head's rate
METHODS = {
    "scratch": "from scratch (random init)",
    "frozen": "feature extraction (frozen body, new head)",
    "fine_tuned": f"fine-tuning (new head, body at {BODY_LR_FACTOR:g}x rate)",
}

SETTINGS = {  # quick: a smaller source, fewer target sizes and draws
    False: {"source_samples": 20000, "pretrain_epochs": 20, "sizes": (5, 10, 25, 50, 100, 200, 350), "draws": 5},
    True: {"source_samples": 8000, "pretrain_epochs": 10, "sizes": (5, 200), "draws": 2},
}


def target_epochs(per_class: int) -> int:
    """Epochs on a target set of ``5 * per_class`` signals: about 100 to 200 steps of Adam whatever its size."""
    return int(np.clip(600 // per_class, 20, 100))


def source_task(samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Digits 0-4 of the training part of a fresh MNIST-1D draw of ``samples`` signals (seed 123)."""
    generated = make_mnist1d(num_samples=samples, seed=SOURCE_SEED)
    keep = generated["y"] < 5
    return as_signals(generated["x"][keep]).astype(np.float32), generated["y"][keep]


def pick_per_class(labels, classes, per_class: int, rng) -> np.ndarray:
    """Indices of ``per_class`` examples of each class in ``classes``, drawn without replacement."""
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes])


def _from_pretrained(pretrained, seed: int):
    model = cnn(0, classes=5, channels=CHANNELS)
    model.load_state_dict(pretrained.state_dict())
    replace_head(model, 5, rng=seed)
    return model


def train_three_ways(pretrained, few, test, seed: int) -> dict[str, float]:
    """Target test accuracy of the three recipes, trained on ``few = (x, labels 0-4)``."""
    epochs = target_epochs(len(few[0]) // 5)
    scores = {"scratch": accuracy(fit(cnn(seed, 5, CHANNELS), few, epochs, LR, seed=seed).model, *test)}
    frozen = _from_pretrained(pretrained, seed)
    fit(frozen, few, epochs, LR, optimizer=optim.Adam(freeze_all_but(frozen, 1), lr=LR), seed=seed)
    scores["frozen"] = accuracy(frozen, *test)
    tuned = _from_pretrained(pretrained, seed)
    # The Trainer's cosine schedule keeps the groups' ratio: the body stays at a tenth of the head.
    groups = fine_tune_param_groups(tuned, 1, base_lr=LR, pretrained_lr_factor=BODY_LR_FACTOR)
    fit(tuned, few, epochs, LR, optimizer=optim.Adam(groups), seed=seed)
    scores["fine_tuned"] = accuracy(tuned, *test)
    return scores


def run_transfer_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """Pretrain a CNN on digits 0-4, then compare the three recipes on few 5-9s, across sizes.

    Returns ``(results, summary)``: ``results["accuracy"][method][n]`` is the list of target
    test accuracies over the draws with ``n`` signals per class (``method`` one of
    :data:`METHODS`), ``results["mean"][method]`` the means in the order of ``results["sizes"]``;
    ``results["source_size"]`` and ``results["source_accuracy"]`` describe the pretraining.
    """
    settings = SETTINGS[bool(quick)]
    data = mnist1d()
    source = source_task(settings["source_samples"])
    pretrained = cnn(seed + 200, classes=5, channels=CHANNELS)
    fit(pretrained, source, settings["pretrain_epochs"], LR, seed=seed)
    low = data.y_test < 5
    source_accuracy = accuracy(pretrained, as_signals(data.x_test[low]), data.y_test[low])

    high = data.y_test >= 5
    test = (as_signals(data.x_test[high]), data.y_test[high] - 5)
    x_train, y_train = as_signals(data.x_train), data.y_train
    scores = {method: {n: [] for n in settings["sizes"]} for method in METHODS}
    for n in settings["sizes"]:
        for draw in range(settings["draws"]):
            index = pick_per_class(y_train, range(5, 10), n, np.random.default_rng(seed + 1000 * draw + n))
            few = (x_train[index], y_train[index] - 5)
            for method, value in train_three_ways(pretrained, few, test, seed + 300 + draw).items():
                scores[method][n].append(value)
    results = {
        "sizes": list(settings["sizes"]), "accuracy": scores,
        "mean": {m: [float(np.mean(scores[m][n])) for n in settings["sizes"]] for m in METHODS},
        "std": {m: [float(np.std(scores[m][n])) for n in settings["sizes"]] for m in METHODS},
        "source_size": len(source[0]), "source_accuracy": source_accuracy, "draws": settings["draws"],
        "test_size": len(test[0]),
    }
    _plot(results, out_dir / "transfer_vs_target_size.png")
    return results, _summary(results)


def _plot(results, path) -> None:
    sizes = np.asarray(results["sizes"])
    figure, (acc_ax, gain_ax) = new_figure(13, 5.2, ncols=2, width_ratios=[3, 2])
    for index, (method, label) in enumerate(METHODS.items()):
        acc_ax.errorbar(sizes, results["mean"][method], yerr=results["std"][method], fmt="o-", capsize=3,
                        color=f"C{index}", label=label)
    acc_ax.axhline(0.2, color="k", linestyle=":", linewidth=1, label="chance (5 classes)")
    acc_ax.set_xscale("log")
    acc_ax.set_xticks(sizes, [str(n) for n in sizes])
    acc_ax.set_xlabel("labelled target signals per class (log scale; 5 classes)")
    acc_ax.set_ylabel(f"target test accuracy ({results['test_size']} signals of digits 5-9)")
    acc_ax.set_title(f"Target: digits 5-9. Source: {results['source_size']} signals of digits 0-4 "
                     f"(pretrained CNN: {results['source_accuracy']:.1%} on 0-4)", fontsize=10)
    acc_ax.grid(alpha=0.3)
    acc_ax.legend(fontsize=9, loc="lower right")
    scratch = np.asarray(results["mean"]["scratch"])
    for index, method in enumerate(("frozen", "fine_tuned"), start=1):
        gain_ax.plot(sizes, 100 * (np.asarray(results["mean"][method]) - scratch), "o-", color=f"C{index}",
                     label=METHODS[method])
    gain_ax.axhline(0.0, color="C0", linewidth=1.5, label="from scratch (reference)")
    gain_ax.set_xscale("log")
    gain_ax.set_xticks(sizes, [str(n) for n in sizes])
    gain_ax.set_xlabel("labelled target signals per class (log scale)")
    gain_ax.set_ylabel("accuracy minus from-scratch accuracy (points)")
    gain_ax.set_title(f"What pretraining buys (mean of {results['draws']} draws)", fontsize=10)
    gain_ax.grid(alpha=0.3)
    gain_ax.legend(fontsize=8, loc="lower left")
    figure.savefig(path)


def _summary(results) -> str:
    sizes = results["sizes"]
    rows = "\n".join(f"| {n} | " + " | ".join(f"{results['mean'][m][i]:.3f} ± {results['std'][m][i]:.3f}"
                                                for m in METHODS) + " |" for i, n in enumerate(sizes))
    mean = results["mean"]
    small, large = 0, len(sizes) - 1
    return f"""What to look for: transfer_vs_target_size.png, the target test accuracy of each recipe against
the number of labelled target signals per class (left), and its difference from training from
scratch (right). A CNN pretrained on {results['source_size']} signals of digits 0-4 (test accuracy
{results['source_accuracy']:.3f} on 0-4) learns digits 5-9 from few examples; mean ± std over
{results['draws']} draws of the target examples, tested on {results['test_size']} signals of 5-9.

- With **{sizes[small]} per class**, from scratch reaches {mean['scratch'][small]:.3f}; the frozen pretrained
  body with a new head {mean['frozen'][small]:.3f} and fine-tuning {mean['fine_tuned'][small]:.3f}: with
  little data, reuse the features.
- With **{sizes[large]} per class**, from scratch reaches {mean['scratch'][large]:.3f}, the frozen body
  {mean['frozen'][large]:.3f}, fine-tuning {mean['fine_tuned'][large]:.3f}: with more data, fine-tune the whole
  network (the body at {BODY_LR_FACTOR:g}x the head's rate); features frozen for the source task stop improving.

| per class | {' | '.join(METHODS.values())} |
|---|---|---|---|
{rows}
"""
