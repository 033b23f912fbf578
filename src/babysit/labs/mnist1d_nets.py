"""The MNIST-1D networks and the training call shared by the after-training labs.

The ensembles, transfer and distillation labs train the same small networks many times:
the published MNIST-1D CNN (three strided 1-D convolutions and a linear head; Greydanus &
Kobak 2024) and plain MLPs, with Adam and a cosine decay of the rate, batches of 100.
"""

from __future__ import annotations

import itertools

import numpy as np

from babysit import nn, optim
from babysit.evaluation import Ensemble
from babysit.schedules import cosine
from babysit.train import Trainer

BATCH_SIZE = 100
SIGNAL_LENGTH = 40


def cnn(seed: int, classes: int = 10, channels: int = 25) -> nn.Sequential:
    """The published MNIST-1D CNN (no dropout) on signals of shape ``(N, 1, 40)``.

    Three ``Conv1d`` + ReLU layers of ``channels`` filters, each halving the length
    (40 -> 20 -> 10 -> 5), then ``Linear(5 * channels, classes)``; seeded by ``seed``.
    """
    return nn.Sequential(
        nn.Conv1d(1, channels, 5, stride=2, padding=1, rng=seed), nn.ReLU(),
        nn.Conv1d(channels, channels, 3, stride=2, padding=1, rng=seed + 1), nn.ReLU(),
        nn.Conv1d(channels, channels, 3, stride=2, padding=1, rng=seed + 2), nn.ReLU(),
        nn.Flatten(), nn.Linear(5 * channels, classes, rng=seed + 3),
    )


def mlp(sizes, seed: int) -> nn.Sequential:
    """``Linear`` layers of the given widths (``sizes[0]`` inputs ... ``sizes[-1]`` scores), ReLU between."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp: expected at least an input and an output width, got {sizes}")
    layers = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out, rng=seed + index))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def as_signals(x) -> np.ndarray:
    """MNIST-1D rows ``(N, 40)`` as one-channel signals ``(N, 1, 40)`` for the CNN."""
    x = np.asarray(x)
    return x.reshape(len(x), 1, SIGNAL_LENGTH)


def as_rows(x) -> np.ndarray:
    """Signals ``(N, 1, 40)`` (or rows) as rows ``(N, 40)`` for an MLP."""
    x = np.asarray(x)
    return x.reshape(len(x), SIGNAL_LENGTH)


def steps_for(train_size: int, epochs: int) -> int:
    """Optimizer steps of ``epochs`` passes over ``train_size`` examples in batches of :data:`BATCH_SIZE`."""
    return epochs * -(-train_size // BATCH_SIZE)


def fit(model, train, epochs: int, lr: float = 1e-2, *, schedule="cosine", optimizer=None, callbacks=(),
        seed: int = 0) -> Trainer:
    """Train ``model`` in place on ``train = (x, labels)`` with softmax cross-entropy.

    Adam at ``lr`` over every parameter unless ``optimizer`` is given; ``schedule="cosine"``
    decays the rate to 0 over the run (a Trainer schedule keeps the ratio between parameter
    groups), ``None`` leaves the optimizer's rates alone. Returns the Trainer.
    """
    if schedule == "cosine":
        schedule = cosine(lr, steps_for(len(train[0]), epochs))
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optimizer or optim.Adam(model.parameters(), lr=lr),
                      schedule=schedule, callbacks=callbacks, batch_size=BATCH_SIZE, rng=seed, verbose=False)
    trainer.fit(train, epochs=epochs)
    return trainer


def accuracy(model, x, y) -> float:
    """Test accuracy of one model (evaluation mode, batched)."""
    return float((Ensemble([model]).predict(x) == np.asarray(y)).mean())
