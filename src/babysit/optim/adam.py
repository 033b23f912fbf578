"""Adam (and AMSGrad): momentum plus RMSProp, with bias-corrected moment estimates."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from babysit.optim.foreach import foreach, update_moments, with_weight_decay
from babysit.optim.optimizer import Optimizer, Rule, betas, flag, learning_rate, nonnegative


def adam_update(
    param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s1, s2, *, beta1, beta2, step_size, eps_hat, weight_decay,
    decay,
):
    """In place: ``param *= decay`` (decoupled weight decay, 1 for none); ``g = grad +
    wd*param``; ``m = beta1*m + (1-beta1)*g``; ``v = beta2*v + (1-beta2)*g**2``; AMSGrad
    (``max_exp_avg_sq`` not None): ``v_max = max(v_max, v)`` is used for ``v``;
    ``param -= step_size * m / (sqrt(v) + eps_hat)``.

    With ``step_size = lr*sqrt(1-beta2**t)/(1-beta1**t)`` and ``eps_hat =
    eps*sqrt(1-beta2**t)`` this is ``lr * m_hat / (sqrt(v_hat) + eps)`` exactly, one
    pass cheaper.
    """
    if decay != 1.0:
        param *= decay
    g = with_weight_decay(param, grad, weight_decay, s2)
    second = update_moments(g, exp_avg, exp_avg_sq, s1, beta1, beta2, max_exp_avg_sq)
    np.sqrt(second, out=s1)
    s1 += eps_hat
    np.divide(exp_avg, s1, out=s1)
    s1 *= step_size
    param -= s1


class Adam(Optimizer):
    """Adam: a running mean of gradients divided by the root of a running mean of their squares.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 1e-3
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
        Decay rates of the first and second moment estimates.
    eps : float, default 1e-8
    weight_decay : float, default 0
        L2 penalty added to the gradient (``decoupled_weight_decay=False``), or the
        decoupled decay ``x *= 1 - lr*weight_decay`` of AdamW.
    amsgrad : bool, default False
        AMSGrad: divide by the running maximum of the second moment, so the effective
        rate never grows.
    decoupled_weight_decay : bool, default False
        True makes this :class:`AdamW`.

    Notes
    -----
    The lecture's rule, at step ``t = 1, 2, ...``::

        m = beta1 * m + (1 - beta1) * dx
        v = beta2 * v + (1 - beta2) * dx**2
        m_hat = m / (1 - beta1**t); v_hat = v / (1 - beta2**t)   # bias correction
        x -= lr * m_hat / (sqrt(v_hat) + eps)

    AMSGrad replaces ``v_hat`` by ``max(v_hat_max, v) / (1 - beta2**t)``, the running
    maximum of ``v`` (as PyTorch).

    References
    ----------
    Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    Reddi, Kale and Kumar, "On the Convergence of Adam and Beyond", ICLR 2018 (AMSGrad).
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "betas": betas, "eps": nonnegative, "weight_decay": nonnegative,
        "amsgrad": flag, "decoupled_weight_decay": flag,
    }

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
        decoupled_weight_decay=False,
    ):
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            decoupled_weight_decay=decoupled_weight_decay,
        )

    def init_state(self, param, group):
        state = {"step": 0, "exp_avg": np.zeros_like(param.data), "exp_avg_sq": np.zeros_like(param.data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(param.data)
        return state

    def update(self, param, state, group, lr):
        beta1, beta2 = group["betas"]
        t = state["step"]
        root = math.sqrt(1.0 - beta2**t)
        decoupled = group["decoupled_weight_decay"]
        foreach(
            adam_update,
            [param.data, param.grad, state["exp_avg"], state["exp_avg_sq"],
             state.get("max_exp_avg_sq") if group["amsgrad"] else None],
            scratch=2, beta1=beta1, beta2=beta2, step_size=lr * root / (1.0 - beta1**t),
            eps_hat=group["eps"] * root, weight_decay=0.0 if decoupled else group["weight_decay"],
            decay=1.0 - lr * group["weight_decay"] if decoupled else 1.0,
        )
