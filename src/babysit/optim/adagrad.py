"""AdaGrad: per-coordinate rates that shrink with the sum of squared gradients."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from babysit.optim.foreach import foreach, with_weight_decay
from babysit.optim.optimizer import Optimizer, Rule, learning_rate, nonnegative


def adagrad_update(param, grad, state_sum, s1, s2, *, lr, weight_decay, eps):
    """In place: ``g = grad + wd*param``; ``state_sum += g**2``; ``param -= lr*g/(sqrt(state_sum)+eps)``."""
    g = with_weight_decay(param, grad, weight_decay, s2)
    np.square(g, out=s1)
    state_sum += s1
    np.sqrt(state_sum, out=s1)
    s1 += eps
    np.divide(g, s1, out=s1)
    s1 *= lr
    param -= s1


class Adagrad(Optimizer):
    """AdaGrad: each coordinate's step is divided by the root of its summed squared gradients.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 1e-2
    lr_decay : float, default 0
        The rate at a parameter's step ``t`` is ``lr / (1 + (t - 1) * lr_decay)``.
    weight_decay : float, default 0
        L2 penalty added to the gradient.
    initial_accumulator_value : float, default 0
    eps : float, default 1e-10

    Notes
    -----
    The lecture's rule::

        cache += dx**2
        x -= lr * dx / (sqrt(cache) + eps)

    The effective rate only decays, which suits convex problems and often stops deep
    networks too early (RMSProp fixes that with a leaky cache).

    References
    ----------
    Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization", JMLR 2011.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "lr_decay": nonnegative, "weight_decay": nonnegative,
        "initial_accumulator_value": nonnegative, "eps": nonnegative,
    }

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(
            params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, eps=eps,
        )

    def init_state(self, param, group):
        return {"step": 0, "sum": np.full_like(param.data, group["initial_accumulator_value"])}

    def update(self, param, state, group, lr):
        rate = lr / (1.0 + (state["step"] - 1) * group["lr_decay"])
        foreach(
            adagrad_update, [param.data, param.grad, state["sum"]], scratch=2,
            lr=rate, weight_decay=group["weight_decay"], eps=group["eps"],
        )
