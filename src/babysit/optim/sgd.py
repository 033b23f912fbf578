"""Stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from babysit.optim.foreach import foreach, with_weight_decay
from babysit.optim.optimizer import Optimizer, Rule, flag, learning_rate, nonnegative, unit_interval


def sgd_update(param, grad, buf, s1, s2, *, lr, weight_decay, momentum, dampening, nesterov, first):
    """In place: ``d = grad + wd*param``; ``buf = momentum*buf + (1-dampening)*d`` (``buf = d``
    on its first step); ``d = d + momentum*buf`` (Nesterov) or ``buf``; ``param -= lr*d``.
    ``buf`` is None without momentum; ``s1``, ``s2`` are scratch."""
    d = with_weight_decay(param, grad, weight_decay, s1)
    if buf is not None:
        if first:
            np.copyto(buf, d)
        elif dampening:
            buf *= momentum
            np.multiply(d, 1.0 - dampening, out=s2)
            buf += s2
        else:
            buf *= momentum
            buf += d
        if nesterov:
            np.multiply(buf, momentum, out=s2)
            s2 += d
            d = s2
        else:
            d = buf
    np.multiply(d, lr, out=s1)
    param -= s1


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 1e-3
    momentum : float, default 0
        ``mu``; 0.9 is the usual choice (0.5, 0.9, 0.95, 0.99 in annealing schemes).
    dampening : float in [0, 1], default 0
        Scales the gradient's contribution to the velocity by ``1 - dampening``.
    weight_decay : float, default 0
        L2 penalty: ``lambda * x`` is added to the gradient, so plain SGD shrinks the
        weights by ``(1 - lr*lambda)`` each step.
    nesterov : bool, default False
        Needs ``momentum > 0`` and ``dampening == 0``.

    Notes
    -----
    The lecture's rules (CS231n, "Training Neural Networks II")::

        x -= lr * dx                                   # vanilla
        v = mu * v - lr * dx; x += v                   # momentum
        v_prev = v; v = mu * v - lr * dx               # Nesterov, in the
        x += -mu * v_prev + (1 + mu) * v               # "look-ahead" variables

    Implemented in PyTorch's form, which gives the same iterates for a constant rate
    (``v = -lr * buf``) and applies a changing rate to the whole step::

        buf = mu * buf + (1 - dampening) * dx          # buf = dx on the first step
        x -= lr * buf                                  # momentum
        x -= lr * (dx + mu * buf)                      # Nesterov

    References
    ----------
    Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
    Nesterov, "A method of solving a convex programming problem with convergence rate
    O(1/k^2)", 1983. Sutskever et al., "On the importance of initialization and momentum
    in deep learning", ICML 2013.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "momentum": nonnegative, "dampening": unit_interval,
        "weight_decay": nonnegative, "nesterov": flag,
    }

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(
            params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov
        )

    def init_group(self, group):
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, "
                f"got momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def update(self, param, state, group, lr):
        buf, first = None, False
        if group["momentum"]:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(param.data)
                first = True
        foreach(
            sgd_update, [param.data, param.grad, buf], scratch=2, lr=lr, weight_decay=group["weight_decay"],
            momentum=group["momentum"], dampening=group["dampening"], nesterov=group["nesterov"], first=first,
        )
