"""RMSProp: AdaGrad with a leaky (exponentially averaged) cache of squared gradients."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from babysit.optim.foreach import foreach, with_weight_decay
from babysit.optim.optimizer import Optimizer, Rule, flag, learning_rate, nonnegative, unit_interval


def rmsprop_update(
    param, grad, square_avg, grad_avg, momentum_buffer, s1, s2, *, lr, alpha, eps, weight_decay, momentum
):
    """In place: ``square_avg = alpha*square_avg + (1-alpha)*g**2``; ``avg = sqrt(square_avg)
    + eps`` (centered: ``sqrt(square_avg - grad_avg**2) + eps``); ``param -= lr*g/avg``, or
    through ``momentum_buffer = momentum*buf + g/avg``. Optional arrays may be None."""
    g = with_weight_decay(param, grad, weight_decay, s2)
    square_avg *= alpha
    np.square(g, out=s1)
    s1 *= 1.0 - alpha
    square_avg += s1
    if grad_avg is not None:
        grad_avg *= alpha
        np.multiply(g, 1.0 - alpha, out=s1)
        grad_avg += s1
        np.square(grad_avg, out=s1)
        np.subtract(square_avg, s1, out=s1)
        np.maximum(s1, 0.0, out=s1)  # a variance: rounding must not take it below zero
        np.sqrt(s1, out=s1)
    else:
        np.sqrt(square_avg, out=s1)
    s1 += eps
    np.divide(g, s1, out=s1)
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += s1
        np.multiply(momentum_buffer, lr, out=s1)
    else:
        s1 *= lr
    param -= s1


class RMSprop(Optimizer):
    """RMSProp (Tieleman & Hinton): divide the step by a running RMS of recent gradients.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 1e-2
    alpha : float in [0, 1], default 0.99
        The cache's decay rate (the lecture's ``decay_rate``).
    eps : float, default 1e-8
    weight_decay : float, default 0
        L2 penalty added to the gradient.
    momentum : float, default 0
    centered : bool, default False
        Divide by an estimate of the gradient's variance instead of its second moment.

    Notes
    -----
    The lecture's rule::

        cache = decay_rate * cache + (1 - decay_rate) * dx**2
        x -= lr * dx / (sqrt(cache) + eps)

    References
    ----------
    Tieleman and Hinton, Lecture 6.5 "rmsprop", COURSERA: Neural Networks for Machine
    Learning, 2012. Graves, "Generating Sequences With Recurrent Neural Networks", 2013
    (the centered variant).
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "alpha": unit_interval, "eps": nonnegative, "weight_decay": nonnegative,
        "momentum": nonnegative, "centered": flag,
    }

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(
            params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered
        )

    def init_state(self, param, group):
        state = {"step": 0, "square_avg": np.zeros_like(param.data)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(param.data)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(param.data)
        return state

    def update(self, param, state, group, lr):
        grad_avg = state.get("grad_avg") if group["centered"] else None
        buf = state.get("momentum_buffer") if group["momentum"] > 0 else None
        foreach(
            rmsprop_update, [param.data, param.grad, state["square_avg"], grad_avg, buf], scratch=2,
            lr=lr, alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
            momentum=group["momentum"],
        )
