"""Regularization lab: none vs L2 vs dropout vs data augmentation vs early stopping on MNIST-1D.

CS231n "Training Neural Networks II", regularization: a big network on a small training
set learns it perfectly (training accuracy 100%) while its validation accuracy stays far
below: the gap between the two is overfitting. Each regularizer trades some training fit
for a smaller gap: L2 in the loss (``0.5 * lambda * ||W||^2``, weight decay), dropout
(Srivastava et al. 2014: zero each hidden unit with probability p during training), data
augmentation (label-preserving transformations of the inputs: more data for free) and
early stopping (keep the weights of the epoch with the best validation accuracy, stop when
it no longer improves: "always keep track of the model snapshot that worked best on val").

The lab trains a 40-512-512-10 ReLU MLP with Adam on 1000 MNIST-1D signals (500 with
``quick``), once per regularizer, from the same init and the same batches. The training
curves are measured in evaluation mode on the un-augmented training signals (what the
network has learned), not with the training-time noise of dropout or augmentation.
"""

from __future__ import annotations

import numpy as np

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.data.augment import Compose, RandomScale, RandomTranslate
from babysit.labs.regularization_plots import plot_curves, plot_strength
from babysit.train import Callback, EarlyStopping, Trainer

WIDTH, BATCH_SIZE, LR = 512, 50, 1e-3
L2_STRENGTH, DROPOUT, PATIENCE = 1e-2, 0.3, 10
#: Shifts of up to 6 samples and stretches of +-10% keep an MNIST-1D digit a digit: the
#: generator itself made the signals by translating and dilating ten templates.
AUGMENTATION = Compose(RandomTranslate(6, mode="edge"), RandomScale((0.9, 1.1)))
#: Early stopping twice: on validation accuracy (CS231n's rule) and on validation loss (the other usual one).
EARLY_STOPPING = {"early stopping (val acc)": "val_accuracy", "early stopping (val loss)": "val_loss"}
METHODS = ("none", "L2", "dropout", "augmentation", *EARLY_STOPPING)
L2_SWEEP = (1e-3, 1e-2, 3e-2, 1e-1)
DROPOUT_SWEEP = (0.3, 0.5, 0.7)


class EvalOnTrain(Callback):
    """After each epoch, the loss and accuracy on the clean training set in evaluation mode."""

    def __init__(self, x, y):
        self.x, self.y = x, y
        self.loss, self.accuracy = [], []

    def on_epoch_end(self, trainer, logs):
        metrics = trainer.evaluate(self.x, self.y)
        self.loss.append(metrics["loss"])
        self.accuracy.append(metrics["accuracy"])


def mlp(seed: int, dropout: float = 0.0, width: int = WIDTH) -> nn.Sequential:
    """40-width-width-10 ReLU MLP; with ``dropout`` > 0 an (inverted) Dropout after each hidden ReLU."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in in (40, width):
        layers += [nn.Linear(fan_in, width, rng=rng), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout, rng=rng))
    return nn.Sequential(*layers, nn.Linear(width, 10, rng=rng))


def train_regularized(data, train, epochs: int, *, l2: float = 0.0, dropout: float = 0.0, augment=None,
                      patience: int | None = None, monitor: str = "val_accuracy", seed: int = 0,
                      width: int = WIDTH) -> dict:
    """Train one MLP on ``train`` with the given regularizers; validate on ``data.val`` every epoch.

    Returns per-epoch ``train_loss`` / ``train_accuracy`` (evaluation mode, clean training
    signals), ``val_loss`` / ``val_accuracy``, and the final model's ``final`` numbers
    (train, val and test accuracy and loss, ``gap`` = train - val accuracy, ``loss_gap`` =
    val - train loss); with ``patience`` (early stopping on ``monitor``, the best weights restored)
    also ``best_epoch`` and ``stopped_epoch`` (``None`` if it ran all ``epochs``).
    """
    model = mlp(seed, dropout, width)
    tracker = EvalOnTrain(*train)
    callbacks = [tracker]
    stopper = None
    if patience is not None:
        stopper = EarlyStopping(monitor, patience=patience, restore_best=True)
        callbacks.append(stopper)
    kwargs = {"penalties": [nn.L2Penalty(l2)] if l2 else [], "callbacks": callbacks, "batch_size": BATCH_SIZE,
              "rng": seed, "verbose": False}
    loss, optimizer = nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=LR)
    trainer = Trainer(model, loss, optimizer, transform=augment, **kwargs)
    history = trainer.fit(train, data.val, epochs=epochs)
    splits = {"train": train, "val": data.val, "test": data.test}
    final = {f"{split}_{key}": float(value) for split, (x, y) in splits.items()
             for key, value in trainer.evaluate(x, y).items()}
    final["gap"] = final["train_accuracy"] - final["val_accuracy"]
    final["loss_gap"] = final["val_loss"] - final["train_loss"]
    run = {"train_loss": tracker.loss, "train_accuracy": tracker.accuracy,
           "val_loss": [row["val_loss"] for row in history.epochs],
           "val_accuracy": [row["val_accuracy"] for row in history.epochs],
           "epochs_run": len(history.epochs), "final": final}
    if stopper is not None:
        run.update(best_epoch=stopper.best_epoch, stopped_epoch=stopper.stopped_epoch)
    return run


def method_settings(name: str) -> dict:
    """The keyword arguments of :func:`train_regularized` for one of :data:`METHODS`."""
    if name in EARLY_STOPPING:
        return {"patience": PATIENCE, "monitor": EARLY_STOPPING[name]}
    return {"none": {}, "L2": {"l2": L2_STRENGTH}, "dropout": {"dropout": DROPOUT},
            "augmentation": {"augment": AUGMENTATION}}[name]


def run_regularization_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """Train the MLP once per regularizer, and sweep the L2 strength and the dropout probability.

    Returns ``(results, summary)``: ``results["methods"][name]`` is :func:`train_regularized`'s
    dict for each of :data:`METHODS`; ``results["l2_sweep"][lambda]`` and
    ``results["dropout_sweep"][p]`` hold the ``final`` numbers of each strength (``p = 0``: no dropout).
    ``quick``: a 256-unit MLP, 25 epochs, two strengths per sweep (full: 512 units, 60 epochs).
    """
    data = mnist1d(val_size=1000)
    # quick: the same data, a narrower net and fewer epochs: the gaps show, the val gains are smaller
    size, width, epochs = (1000, 256, 25) if quick else (1000, WIDTH, 60)
    train = (data.x_train[:size], data.y_train[:size])

    def fit(**settings):
        return train_regularized(data, train, epochs, seed=seed, width=width, **settings)

    methods = {name: fit(**method_settings(name)) for name in METHODS}
    l2_values = (1e-2, 1e-1) if quick else L2_SWEEP
    dropout_values = (0.3, 0.7) if quick else DROPOUT_SWEEP
    # the strength the comparison uses is already trained: reuse it
    l2_sweep = {lam: (methods["L2"] if lam == L2_STRENGTH else fit(l2=lam))["final"] for lam in l2_values}
    dropout_sweep = {p: (methods["dropout"] if p == DROPOUT else fit(dropout=p))["final"] for p in dropout_values}
    dropout_sweep = {0.0: methods["none"]["final"], **dropout_sweep}  # p = 0 is the unregularized run
    setup = f"{width}-unit 2-hidden-layer MLP, {size} MNIST-1D training signals, Adam {LR:g}, batch {BATCH_SIZE}"
    results = {"methods": methods, "l2_sweep": l2_sweep, "dropout_sweep": dropout_sweep, "train_size": size,
               "width": width, "epochs": epochs, "setup": setup}
    plot_curves(methods, out_dir / "regularization_curves.png", setup)
    plot_strength(l2_sweep, dropout_sweep, methods["none"]["final"], out_dir / "regularization_strength.png", setup)
    return results, _summary(results)


def _summary(results: dict) -> str:
    methods = results["methods"]
    none = methods["none"]["final"]
    rows = "\n".join(
        f"| {name} | {run['final']['train_accuracy']:.1%} | {run['final']['val_accuracy']:.1%} | "
        f"{run['final']['gap']:.1%} | {run['final']['train_loss']:.3f} | {run['final']['val_loss']:.3f} | "
        f"{run['final']['test_accuracy']:.1%} | {run['epochs_run']} |" for name, run in methods.items())
    best_l2 = max(results["l2_sweep"], key=lambda lam: results["l2_sweep"][lam]["val_accuracy"])
    best_p = max(results["dropout_sweep"], key=lambda p: results["dropout_sweep"][p]["val_accuracy"])
    strongest = results["l2_sweep"][max(results["l2_sweep"])]

    def line(name):
        final = methods[name]["final"]
        change = final["val_accuracy"] - none["val_accuracy"]
        return f"validation accuracy {final['val_accuracy']:.1%} ({100 * change:+.1f} points), gap {final['gap']:.1%}"

    min_val_loss = min(methods["none"]["val_loss"])
    return f"""What to look for: regularization_curves.png draws, for each regularizer, the training
accuracy (evaluation mode, clean signals) and the validation accuracy per epoch, with the gap
between them shaded, and the same for the loss; regularization_strength.png sweeps the L2
strength and the dropout probability. {results['setup']}, {results['epochs']} epochs.

- **No regularization** learns the training set ({none['train_accuracy']:.1%}) but reaches only
  {none['val_accuracy']:.1%} on validation: a gap of {none['gap']:.1%}. Its validation accuracy levels off
  while its validation loss rises from its minimum {min_val_loss:.2f} to {none['val_loss']:.2f} (ever more
  confident mistakes) and the training loss falls to {none['train_loss']:.3f}.
- **L2** (lambda {L2_STRENGTH:g}): {line('L2')}.
- **Dropout** (p {DROPOUT:g}): {line('dropout')}.
- **Data augmentation** (shifts up to 6 samples, stretches +-10%): {line('augmentation')}.
{_early_stopping_lines(methods, line, results['epochs'])}
- **Too much regularization underfits**: L2 lambda {max(results['l2_sweep']):g} brings the gap down to
  {strongest['gap']:.1%} but training accuracy to {strongest['train_accuracy']:.1%} and validation to
  {strongest['val_accuracy']:.1%}; the best strengths in the sweeps are lambda {best_l2:g} and p {best_p:g}.

| regularizer | train accuracy | val accuracy | gap | train loss | val loss | test accuracy | epochs |
|---|---|---|---|---|---|---|---|
{rows}
"""


def _early_stopping_lines(methods: dict, line, epochs: int) -> str:
    lines = []
    for name, monitor in EARLY_STOPPING.items():
        run = methods[name]
        stopped = (f"stopped at epoch {run['stopped_epoch']}" if run["stopped_epoch"] is not None
                   else f"ran all {epochs} epochs")
        lines.append(f"- **Early stopping on {monitor}** (patience {PATIENCE}, best weights restored): {stopped}, "
                     f"the weights of epoch {run['best_epoch']}: {line(name)}.")
    return "\n".join(lines)
