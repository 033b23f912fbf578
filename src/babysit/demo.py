"""The README's main job: the published MNIST-1D MLP baseline, trained with babysit."""

from __future__ import annotations

import numpy as np

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.train import Trainer


def mnist1d_mlp(rng=None, hidden: int = 100) -> nn.Sequential:
    """The MNIST-1D paper's MLP: 40 -> 100 -> 100 -> 10 with ReLU."""
    rng = np.random.default_rng(rng)
    return nn.Sequential(
        nn.Linear(40, hidden, rng=rng), nn.ReLU(),
        nn.Linear(hidden, hidden, rng=rng), nn.ReLU(),
        nn.Linear(hidden, 10, rng=rng),
    )


def run_demo(epochs: int = 60, seed: int = 0, verbose: bool = True) -> dict:
    """Train on MNIST-1D's 4000 training examples; return test accuracy and the history.

    The test set is looked at once, at the end: no choice is made on it.
    """
    data = mnist1d()
    rng = np.random.default_rng(seed)
    model = mnist1d_mlp(rng)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optimizer, batch_size=100, rng=rng, verbose=verbose)
    history = trainer.fit(data.train, epochs=epochs)
    test = trainer.evaluate(data.x_test, data.y_test)
    return {"test_accuracy": test["accuracy"], "test_loss": test["loss"], "history": history, "model": model}
