"""SWATS: start with Adam, switch to SGD once Adam's projected SGD rate has settled."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from babysit.optim.foreach import foreach, with_weight_decay
from babysit.optim.optimizer import Optimizer, Rule, betas, learning_rate, nonnegative


def swats_adam_update(param, grad, exp_avg, exp_avg_sq, s1, s2, *, beta1, beta2, step_size, eps, weight_decay, sums):
    """In place: Adam's moments; ``p = -step_size * m / (sqrt(v) + eps)``; ``param += p``;
    ``sums += (p.p, p.g)`` (``sums`` is a float64 pair accumulated over the group)."""
    g = with_weight_decay(param, grad, weight_decay, s2)
    exp_avg *= beta1
    np.multiply(g, 1.0 - beta1, out=s1)
    exp_avg += s1
    exp_avg_sq *= beta2
    np.square(g, out=s1)
    s1 *= 1.0 - beta2
    exp_avg_sq += s1
    np.sqrt(exp_avg_sq, out=s1)
    s1 += eps
    np.divide(exp_avg, s1, out=s1)
    s1 *= -step_size
    sums[0] += float(np.vdot(s1, s1))
    sums[1] += float(np.vdot(s1, g))
    param += s1


def swats_sgd_update(param, grad, momentum_buffer, s1, *, beta1, rate, weight_decay):
    """In place: ``v = beta1*v + g``; ``param -= (1 - beta1) * rate * v``."""
    g = with_weight_decay(param, grad, weight_decay, s1)
    momentum_buffer *= beta1
    momentum_buffer += g
    np.multiply(momentum_buffer, (1.0 - beta1) * rate, out=s1)
    param -= s1


class SWATS(Optimizer):
    """SWATS: Adam first, then SGD with momentum at the rate Adam's steps imply.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 1e-3
        Adam's rate. After the switch the SGD rate follows the same schedule,
        ``sgd_lr * lr_t / lr_at_switch``.
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
        Adam's decay rates; ``beta1`` is also the SGD momentum and ``beta2`` the decay
        of the rate estimate.
    eps : float, default 1e-9
        Adam's epsilon and the switch tolerance (one value in the paper).
    weight_decay : float, default 0
        L2 penalty added to the gradient in both phases.

    Attributes
    ----------
    switched, switch_step, sgd_lr
        For the first parameter group: whether it runs SGD now, the number of the
        optimizer step (1-based) that decided the switch (SGD from the next step on) and
        the SGD rate ``Lambda``. Every group switches on its own; its values are in
        ``param_groups[i]["switched" / "switch_step" / "sgd_lr"]``.

    Notes
    -----
    Algorithm 1 of the paper, per parameter group, at step ``k``::

        Adam phase:
          m = beta1 * m + (1 - beta1) * g;  a = beta2 * a + (1 - beta2) * g**2
          p = -lr * sqrt(1 - beta2**k) / (1 - beta1**k) * m / (sqrt(a) + eps);  x += p
          if p.g != 0:
            gamma = (p.p) / (-p.g)                        # the SGD rate along p
            lambda = beta2 * lambda + (1 - beta2) * gamma
            if k > 1 and |lambda / (1 - beta2**k) - gamma| < eps:
              switch; v = 0; Lambda = lambda / (1 - beta2**k)
        SGD phase:
          v = beta1 * v + g;  x -= (1 - beta1) * Lambda * v

    One safeguard the paper does not state: no switch to a rate ``Lambda <= 0``.

    References
    ----------
    Keskar and Socher, "Improving Generalization Performance by Switching from Adam to
    SGD", arXiv:1712.07628, 2017.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "betas": betas, "eps": nonnegative, "weight_decay": nonnegative,
    }

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-9, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def init_group(self, group):
        for key, value in {
            "switched": False, "switch_step": None, "sgd_lr": None, "lr_at_switch": None,
            "lambda_avg": 0.0, "group_step": 0,
        }.items():
            group.setdefault(key, value)

    def init_state(self, param, group):
        return {"step": 0, "exp_avg": np.zeros_like(param.data), "exp_avg_sq": np.zeros_like(param.data)}

    @property
    def switched(self) -> bool:
        return self.param_groups[0]["switched"]

    @property
    def switch_step(self) -> int | None:
        return self.param_groups[0]["switch_step"]

    @property
    def sgd_lr(self) -> float | None:
        return self.param_groups[0]["sgd_lr"]

    def update_group(self, group, params, lr):
        group["group_step"] += 1
        beta1, beta2 = group["betas"]
        sums = np.zeros(2)
        for p in params:
            state = self.next_state(p, group)
            if group["switched"]:
                buf = state.get("momentum_buffer")
                if buf is None:  # v = 0 at the switch
                    buf = state["momentum_buffer"] = np.zeros_like(p.data)
                foreach(
                    swats_sgd_update, [p.data, p.grad, buf], scratch=1, beta1=beta1,
                    rate=group["sgd_lr"] * lr / group["lr_at_switch"], weight_decay=group["weight_decay"],
                )
            else:
                t = state["step"]
                foreach(
                    swats_adam_update, [p.data, p.grad, state["exp_avg"], state["exp_avg_sq"]], scratch=2,
                    beta1=beta1, beta2=beta2, step_size=lr * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t),
                    eps=group["eps"], weight_decay=group["weight_decay"], sums=sums,
                )
        if not group["switched"]:
            self._estimate_rate(group, sums, lr)

    def _estimate_rate(self, group, sums, lr) -> None:
        """Update the running SGD-rate estimate and switch once it has settled."""
        projected_sq, projected_grad = float(sums[0]), float(sums[1])
        if projected_grad == 0:
            return
        beta2 = group["betas"][1]
        gamma = projected_sq / -projected_grad
        group["lambda_avg"] = beta2 * group["lambda_avg"] + (1.0 - beta2) * gamma
        k = group["group_step"]
        corrected = group["lambda_avg"] / (1.0 - beta2**k)
        if k > 1 and corrected > 0 and abs(corrected - gamma) < group["eps"]:
            group.update(switched=True, switch_step=self.step_count + 1, sgd_lr=corrected, lr_at_switch=lr)
