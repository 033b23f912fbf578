"""Deterministic problems the optimizer tests share: gradients computed in NumPy, float64."""

from __future__ import annotations

import numpy as np

from babysit.nn.module import Parameter

L2 = 0.1  # makes the softmax regression strongly convex, so trajectories stay comparable


def softmax_data(seed: int = 0, n: int = 32, d: int = 6, c: int = 4):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
    return x, y, rng.standard_normal((c, d)) * 0.5, rng.standard_normal(c) * 0.1


def softmax_loss_and_grads(weight, bias, x, y):
    """Mean softmax cross-entropy of ``x @ weight.T + bias`` plus ``0.5 * L2 * ||weight||^2``."""
    scores = x @ weight.T + bias
    scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    n = x.shape[0]
    loss = -np.log(probs[np.arange(n), y]).mean() + 0.5 * L2 * float(np.sum(weight * weight))
    dscores = probs
    dscores[np.arange(n), y] -= 1
    dscores /= n
    return loss, dscores.T @ x + L2 * weight, dscores.sum(axis=0)


class SoftmaxProblem:
    """Two Parameters (weight, bias) of a softmax regression; ``set_grads()`` writes their gradients."""

    def __init__(self, seed: int = 0, dtype=np.float64):
        self.x, self.y, weight, bias = softmax_data(seed)
        self.weight = Parameter(weight.astype(dtype), regularize=True)
        self.bias = Parameter(bias.astype(dtype))
        self.params = [self.weight, self.bias]

    def set_grads(self) -> float:
        loss, dweight, dbias = softmax_loss_and_grads(self.weight.data, self.bias.data, self.x, self.y)
        self.weight.grad, self.bias.grad = dweight.astype(self.weight.dtype), dbias.astype(self.bias.dtype)
        return loss

    def closure(self, optimizer):
        def closure():
            optimizer.zero_grad()
            return self.set_grads()

        return closure

    def snapshot(self):
        return [p.data.copy() for p in self.params]


def run(make_optimizer, steps: int, seed: int = 0):
    """Parameters after each of ``steps`` steps (a list of [weight, bias] copies)."""
    problem = SoftmaxProblem(seed)
    optimizer = make_optimizer(problem.params)
    trajectory = []
    for _ in range(steps):
        problem.set_grads()
        optimizer.step()
        trajectory.append(problem.snapshot())
    return trajectory
