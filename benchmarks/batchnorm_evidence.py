"""Evidence for the lecture's BatchNorm claims, measured with babysit's own layers.

A 10-layer ReLU MLP on scikit-learn's 8x8 digits, trained with plain mini-batch SGD
(``p -= lr * grad``), with and without BatchNorm after every hidden Linear layer:

1. learning rate: BatchNorm trains at rates where the plain net diverges;
2. init scale: BatchNorm trains from He weights scaled by 0.1 ... 10, the plain net only near 1.

Run: ``python benchmarks/batchnorm_evidence.py`` (about 20 s); the slow test
``tests/test_normalization_evidence.py`` checks the same claims on a subset.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from babysit import nn

DEPTH, WIDTH, BATCH, EPOCHS = 10, 64, 64, 6
LEARNING_RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
INIT_SCALES = (0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass
class Run:
    first_loss: float
    final_loss: float  # mean training loss of the last epoch; inf when diverged
    val_accuracy: float
    diverged_at: int | None  # step at which the loss became non-finite or exceeded 3x the first

    def describe(self) -> str:
        if self.diverged_at is not None:
            return f"diverged (step {self.diverged_at})"
        return f"loss {self.first_loss:5.2f} -> {self.final_loss:5.3f}, val acc {self.val_accuracy:.2f}"


def digits(seed: int = 0):
    """scikit-learn's 1797 digit images as float32 features scaled to [0, 1], split 1400 / 397."""
    from sklearn.datasets import load_digits  # optional: only the benchmarks need scikit-learn

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    x -= x[:1400].mean(axis=0)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], data.target[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def mlp(batchnorm: bool, init_scale: float = 1.0, seed: int = 0) -> nn.Sequential:
    """DEPTH Linear layers of WIDTH units with ReLU (and BatchNorm before each ReLU); He init times init_scale."""
    rng = np.random.default_rng(seed)
    layers, width_in = [], 64
    for _ in range(DEPTH - 1):
        layers.append(nn.Linear(width_in, WIDTH, bias=not batchnorm, rng=rng))
        if batchnorm:
            layers.append(nn.BatchNorm1d(WIDTH))
        layers.append(nn.ReLU())
        width_in = WIDTH
    layers.append(nn.Linear(width_in, 10, rng=rng))
    model = nn.Sequential(*layers)
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.weight.data *= init_scale
    return model


def train(model, data, lr: float, epochs: int = EPOCHS, seed: int = 0) -> Run:
    """Plain mini-batch SGD; stops at the first non-finite loss or one above 3x the first."""
    (x, y), (x_val, y_val) = data
    loss_fn, rng = nn.SoftmaxCrossEntropy(), np.random.default_rng(seed)
    first, step, epoch_losses = None, 0, []
    with np.errstate(all="ignore"):  # overflow is the divergence being measured, not a bug
        for _ in range(epochs):
            epoch_losses = []
            for batch in np.array_split(rng.permutation(len(x)), len(x) // BATCH):
                model.train()
                scores = model(x[batch])
                loss = _loss(loss_fn, scores, y[batch])
                first = loss if first is None else first
                step += 1
                if not math.isfinite(loss) or loss > 3 * first:
                    return Run(first, math.inf, 0.0, step)
                model.zero_grad()
                model.backward(loss_fn.backward())
                for p in model.parameters():
                    if p.grad is not None:
                        p.data -= lr * p.grad
                epoch_losses.append(loss)
        accuracy = float((model.eval()(x_val).argmax(axis=1) == y_val).mean())
    return Run(first, float(np.mean(epoch_losses)), accuracy, None)


def _loss(loss_fn, scores, y) -> float:
    if not np.isfinite(scores).all():
        return math.inf
    try:
        return loss_fn(scores, y)
    except FloatingPointError:  # NonFiniteError
        return math.inf


def learning_rate_sweep(data, rates=LEARNING_RATES) -> dict:
    return {(bn, lr): train(mlp(bn), data, lr) for bn in (False, True) for lr in rates}


def init_scale_sweep(data, scales=INIT_SCALES, lr: float = 0.1) -> dict:
    return {(bn, scale): train(mlp(bn, scale), data, lr) for bn in (False, True) for scale in scales}


def main() -> None:
    data = digits()
    start = time.perf_counter()
    print(f"{DEPTH}-layer ReLU MLP, width {WIDTH}, digits (1400 train / 397 val), SGD batch {BATCH}, {EPOCHS} epochs")
    print("\n1) learning rate (He init)")
    runs = learning_rate_sweep(data)
    for lr in LEARNING_RATES:
        print(f"  lr {lr:<5}  plain: {runs[False, lr].describe():<42} BatchNorm: {runs[True, lr].describe()}")
    print("\n2) init scale (He init times scale, lr 0.1)")
    runs = init_scale_sweep(data)
    for scale in INIT_SCALES:
        print(f"  x{scale:<5}   plain: {runs[False, scale].describe():<42} BatchNorm: {runs[True, scale].describe()}")
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
