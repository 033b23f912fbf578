"""AdaBound and AMSBound: Adam whose per-coordinate rates are clipped into bounds that close
in on a final SGD rate."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from babysit.optim.foreach import foreach, update_moments, with_weight_decay
from babysit.optim.optimizer import Optimizer, Rule, betas, flag, learning_rate, nonnegative, number


def adabound_update(
    param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s1, s2, *, beta1, beta2, eps, weight_decay, step_size, lower,
    upper,
):
    """In place: Adam's moments (AMSBound: ``v = max(v_max, v)``); ``eta = clip(step_size /
    (sqrt(v) + eps), lower, upper)``; ``param -= eta * m``."""
    g = with_weight_decay(param, grad, weight_decay, s2)
    second = update_moments(g, exp_avg, exp_avg_sq, s1, beta1, beta2, max_exp_avg_sq)
    np.sqrt(second, out=s1)
    s1 += eps
    np.divide(step_size, s1, out=s1)
    np.clip(s1, lower, upper, out=s1)
    s1 *= exp_avg
    param -= s1


def adabound_bounds(final_lr: float, gamma: float, t: int) -> tuple[float, float]:
    """``(final_lr * (1 - 1/(gamma*t + 1)), final_lr * (1 + 1/(gamma*t)))`` at step ``t >= 1``:
    ``[0, inf)``-like at first (Adam), both tending to ``final_lr`` (SGD)."""
    return final_lr * (1.0 - 1.0 / (gamma * t + 1.0)), final_lr * (1.0 + 1.0 / (gamma * t))


class AdaBound(Optimizer):
    """AdaBound: starts like Adam and turns smoothly into SGD with rate ``final_lr``.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 1e-3
        Adam's rate.
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
    final_lr : float, default 0.1
        The SGD rate both bounds converge to. It follows the rate's schedule: the
        bounds use ``final_lr * lr_t / base_lr``, ``base_lr`` being the group's first
        positive rate (as the authors' implementation does for rate decay).
    gamma : float in (0, 1), default 1e-3
        Convergence speed of the bounds.
    eps : float, default 1e-8
    weight_decay : float, default 0
        L2 penalty added to the gradient.
    amsbound : bool, default False
        AMSBound: use the running maximum of the second moment, as AMSGrad.

    Notes
    -----
    At step ``t``, with Adam's moments ``m``, ``v`` (bias-corrected through the step size)::

        eta = clip(lr * sqrt(1 - beta2**t) / (1 - beta1**t) / (sqrt(v) + eps),
                   final_lr * (1 - 1 / (gamma * t + 1)), final_lr * (1 + 1 / (gamma * t)))
        x -= eta * m

    The paper's analysis also divides ``eta`` by ``sqrt(t)``; its experiments, and this
    class, do not.

    References
    ----------
    Luo, Xiong, Liu and Sun, "Adaptive Gradient Methods with Dynamic Bound of Learning
    Rate", ICLR 2019.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "betas": betas, "final_lr": nonnegative,
        "gamma": number(0.0, 1.0, low_open=True, high_open=True),
        "eps": nonnegative, "weight_decay": nonnegative, "amsbound": flag,
    }

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3, eps=1e-8, weight_decay=0.0,
        amsbound=False,
    ):
        super().__init__(
            params, lr=lr, betas=betas, final_lr=final_lr, gamma=gamma, eps=eps, weight_decay=weight_decay,
            amsbound=amsbound,
        )

    def init_group(self, group):
        group.setdefault("base_lr", None)

    def init_state(self, param, group):
        state = {"step": 0, "exp_avg": np.zeros_like(param.data), "exp_avg_sq": np.zeros_like(param.data)}
        if group["amsbound"]:
            state["max_exp_avg_sq"] = np.zeros_like(param.data)
        return state

    def update_group(self, group, params, lr):
        if not group["base_lr"] and lr > 0:
            group["base_lr"] = lr
        super().update_group(group, params, lr)

    def update(self, param, state, group, lr):
        beta1, beta2 = group["betas"]
        t = state["step"]
        final_lr = group["final_lr"] * lr / group["base_lr"] if group["base_lr"] else 0.0
        lower, upper = adabound_bounds(final_lr, group["gamma"], t)
        foreach(
            adabound_update,
            [param.data, param.grad, state["exp_avg"], state["exp_avg_sq"],
             state.get("max_exp_avg_sq") if group["amsbound"] else None],
            scratch=2, beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
            step_size=lr * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t), lower=lower, upper=upper,
        )
