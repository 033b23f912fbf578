"""Adadelta: RMSProp whose step is rescaled by a running RMS of past updates."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from babysit.optim.foreach import foreach, with_weight_decay
from babysit.optim.optimizer import Optimizer, Rule, learning_rate, nonnegative, unit_interval


def adadelta_update(param, grad, square_avg, acc_delta, s1, s2, s3, *, lr, rho, eps, weight_decay):
    """In place: ``square_avg = rho*square_avg + (1-rho)*g**2``; ``delta = sqrt(acc_delta + eps)
    / sqrt(square_avg + eps) * g``; ``acc_delta = rho*acc_delta + (1-rho)*delta**2``;
    ``param -= lr*delta``."""
    g = with_weight_decay(param, grad, weight_decay, s2)
    square_avg *= rho
    np.square(g, out=s1)
    s1 *= 1.0 - rho
    square_avg += s1
    np.add(square_avg, eps, out=s1)
    np.sqrt(s1, out=s1)
    np.add(acc_delta, eps, out=s3)
    np.sqrt(s3, out=s3)
    s3 /= s1
    s3 *= g
    acc_delta *= rho
    np.square(s3, out=s1)
    s1 *= 1.0 - rho
    acc_delta += s1
    s3 *= lr
    param -= s3


class Adadelta(Optimizer):
    """Adadelta: a step whose units match the parameters', with no hand-tuned global rate.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 1.0
        Scales the computed delta (the paper has none, i.e. 1).
    rho : float in [0, 1], default 0.9
        Decay of both running averages.
    eps : float, default 1e-6
    weight_decay : float, default 0
        L2 penalty added to the gradient.

    Notes
    -----
    ::

        E[g^2] = rho * E[g^2] + (1 - rho) * dx**2
        delta = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * dx
        E[dx^2] = rho * E[dx^2] + (1 - rho) * delta**2
        x -= lr * delta

    References
    ----------
    Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "rho": unit_interval, "eps": nonnegative, "weight_decay": nonnegative,
    }

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)

    def init_state(self, param, group):
        return {"step": 0, "square_avg": np.zeros_like(param.data), "acc_delta": np.zeros_like(param.data)}

    def update(self, param, state, group, lr):
        foreach(
            adadelta_update, [param.data, param.grad, state["square_avg"], state["acc_delta"]], scratch=3,
            lr=lr, rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
        )
