"""Every optimizer trains the MNIST-1D MLP (40-100-100-10) to >= 60% test accuracy.

    python benchmarks/optimizers_mnist1d.py [--epochs 60]

One run per optimizer at a sensible rate (~1e-2 for the Adam family, as the MNIST-1D
baselines use, ~1e-1 for SGD), same seed and batches; L-BFGS runs full batch.
Prints a table of test accuracy and wall time.
"""

from __future__ import annotations

import argparse
import time

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.demo import mnist1d_mlp
from babysit.train import Trainer

SETTINGS = {
    "SGD": (optim.SGD, {"lr": 0.2}),
    "SGD momentum": (optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "SGD Nesterov": (optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "Adagrad": (optim.Adagrad, {"lr": 0.05}),
    "RMSprop": (optim.RMSprop, {"lr": 3e-3}),
    "Adam": (optim.Adam, {"lr": 1e-2}),
    "AMSGrad": (optim.Adam, {"lr": 1e-2, "amsgrad": True}),
    "AdamW": (optim.AdamW, {"lr": 1e-2, "weight_decay": 1e-2}),
    "Adamax": (optim.Adamax, {"lr": 2e-2}),
    "NAdam": (optim.NAdam, {"lr": 1e-2}),
    "Adadelta": (optim.Adadelta, {"lr": 1.0}),
    "AdaBound": (optim.AdaBound, {"lr": 1e-2, "final_lr": 0.1}),
    "SWATS": (optim.SWATS, {"lr": 1e-2}),
}


def train_minibatch(name, data, epochs, seed):
    cls, kwargs = SETTINGS[name]
    model = mnist1d_mlp(seed)
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), cls(model.parameters(), **kwargs), batch_size=100,
                      rng=seed, verbose=False)
    trainer.fit(data.train, epochs=epochs)
    return trainer.evaluate(*data.test)["accuracy"]


def train_lbfgs(data, iterations, seed):
    model = mnist1d_mlp(seed)
    model.needs_input_grad = False
    loss = nn.SoftmaxCrossEntropy()
    optimizer = optim.LBFGS(model.parameters(), lr=1.0, max_iter=20, history_size=20, line_search_fn="strong_wolfe")
    x, y = data.train

    def closure():
        model.zero_grad()
        value = loss(model(x), y)
        model.backward(loss.backward())
        return value

    for _ in range(iterations):
        optimizer.step(closure)
    model.eval()
    x_test, y_test = data.test
    return float((model(x_test).argmax(1) == y_test).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = mnist1d()
    print("| optimizer | settings | test accuracy | seconds |\n|---|---|---:|---:|")
    for name in SETTINGS:
        started = time.perf_counter()
        accuracy = train_minibatch(name, data, args.epochs, args.seed)
        print(f"| {name} | {SETTINGS[name][1]} | {accuracy:.3f} | {time.perf_counter() - started:.1f} |", flush=True)
    started = time.perf_counter()
    accuracy = train_lbfgs(data, 15, args.seed)
    print(f"| L-BFGS | full batch, strong Wolfe, 15 x 20 iterations | {accuracy:.3f} | "
          f"{time.perf_counter() - started:.1f} |")


if __name__ == "__main__":
    main()
