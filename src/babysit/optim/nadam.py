"""NAdam: Adam with Nesterov momentum (and Dozat's momentum warm-up schedule)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from babysit.optim.foreach import foreach, update_moments, with_weight_decay
from babysit.optim.optimizer import Optimizer, Rule, betas, flag, learning_rate, nonnegative


def nadam_update(
    param, grad, exp_avg, exp_avg_sq, s1, s2, s3, *, beta1, beta2, eps, weight_decay, decay, grad_coef, avg_coef,
    root,
):
    """In place: ``param *= decay``; ``g = grad + wd*param``; Adam's moment updates; then
    ``param += (grad_coef*g + avg_coef*m) / (sqrt(v)/root + eps)``, ``root = sqrt(1 - beta2**t)``."""
    if decay != 1.0:
        param *= decay
    g = with_weight_decay(param, grad, weight_decay, s3)
    update_moments(g, exp_avg, exp_avg_sq, s1, beta1, beta2)
    np.multiply(g, grad_coef, out=s2)
    np.multiply(exp_avg, avg_coef, out=s1)
    s2 += s1
    np.sqrt(exp_avg_sq, out=s1)
    s1 *= 1.0 / root
    s1 += eps
    s2 /= s1
    param += s2


class NAdam(Optimizer):
    """NAdam: Adam whose momentum step looks ahead, as Nesterov's does.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 2e-3
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum_decay : float, default 4e-3
        ``psi`` of the momentum schedule ``mu_t = beta1 * (1 - 0.5 * 0.96**(t*psi))``.
    decoupled_weight_decay : bool, default False
        Decay the weights directly (``x *= 1 - lr*weight_decay``, as AdamW) instead of
        adding the L2 gradient.

    Notes
    -----
    As in PyTorch, at step ``t``::

        mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi));  mu_{t+1} likewise
        m = beta1 * m + (1 - beta1) * dx;  v = beta2 * v + (1 - beta2) * dx**2
        v_hat = v / (1 - beta2**t)
        x -= lr * ((1 - mu_t) / (1 - prod_{i<=t} mu_i) * dx
                   + mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m) / (sqrt(v_hat) + eps)

    References
    ----------
    Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "betas": betas, "eps": nonnegative, "weight_decay": nonnegative,
        "momentum_decay": nonnegative, "decoupled_weight_decay": flag,
    }

    def __init__(
        self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
        decoupled_weight_decay=False,
    ):
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )

    def init_state(self, param, group):
        return {
            "step": 0, "mu_product": 1.0,
            "exp_avg": np.zeros_like(param.data), "exp_avg_sq": np.zeros_like(param.data),
        }

    def update(self, param, state, group, lr):
        beta1, beta2 = group["betas"]
        t, psi = state["step"], group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        product = state["mu_product"]
        decoupled = group["decoupled_weight_decay"]
        foreach(
            nadam_update, [param.data, param.grad, state["exp_avg"], state["exp_avg_sq"]], scratch=3,
            beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=0.0 if decoupled else group["weight_decay"],
            decay=1.0 - lr * group["weight_decay"] if decoupled else 1.0,
            grad_coef=-lr * (1.0 - mu) / (1.0 - product),
            avg_coef=-lr * mu_next / (1.0 - product * mu_next),
            root=math.sqrt(1.0 - beta2**t),
        )
