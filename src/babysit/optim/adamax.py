"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from babysit.optim.foreach import foreach, with_weight_decay
from babysit.optim.optimizer import Optimizer, Rule, betas, learning_rate, nonnegative


def adamax_update(param, grad, exp_avg, exp_inf, s1, s2, *, beta1, beta2, eps, weight_decay, step_size):
    """In place: ``g = grad + wd*param``; ``m = beta1*m + (1-beta1)*g``; ``u = max(beta2*u,
    |g| + eps)``; ``param -= step_size * m / u`` with ``step_size = lr / (1 - beta1**t)``."""
    g = with_weight_decay(param, grad, weight_decay, s2)
    exp_avg *= beta1
    np.multiply(g, 1.0 - beta1, out=s1)
    exp_avg += s1
    np.abs(g, out=s1)
    s1 += eps
    exp_inf *= beta2
    np.maximum(exp_inf, s1, out=exp_inf)
    np.divide(exp_avg, exp_inf, out=s1)
    s1 *= step_size
    param -= s1


class Adamax(Optimizer):
    """Adamax: Adam's update scaled by an exponentially weighted infinity norm of the gradients.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 2e-3
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
    eps : float, default 1e-8
        Added to ``|dx|`` inside the maximum (as PyTorch), so ``u`` is never 0.
    weight_decay : float, default 0
        L2 penalty added to the gradient.

    Notes
    -----
    ::

        m = beta1 * m + (1 - beta1) * dx
        u = max(beta2 * u, |dx| + eps)
        x -= lr / (1 - beta1**t) * m / u

    References
    ----------
    Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, section 7.1.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "betas": betas, "eps": nonnegative, "weight_decay": nonnegative,
    }

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def init_state(self, param, group):
        return {"step": 0, "exp_avg": np.zeros_like(param.data), "exp_inf": np.zeros_like(param.data)}

    def update(self, param, state, group, lr):
        beta1, beta2 = group["betas"]
        foreach(
            adamax_update, [param.data, param.grad, state["exp_avg"], state["exp_inf"]], scratch=2,
            beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
            step_size=lr / (1.0 - beta1 ** state["step"]),
        )
