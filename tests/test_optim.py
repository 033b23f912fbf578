"""Optimizers against the lecture's update rules, computed by hand (no PyTorch needed)."""

import math

import numpy as np
import pytest

from babysit import optim
from babysit.nn.module import Parameter

LR = 0.1
GRADS = [np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 2.0]), np.array([-1.5, 0.25, 1.0])]
X0 = np.array([1.0, -0.5, 2.0])


def take_steps(optimizer_cls, grads=GRADS, x0=X0, **kwargs):
    """Feed the fixed gradients ``grads`` one per step; return x after each step."""
    p = Parameter(x0.copy())
    optimizer = optimizer_cls([p], **kwargs)
    trajectory = []
    for grad in grads:
        p.grad = grad.copy()
        optimizer.step()
        trajectory.append(p.data.copy())
    return trajectory


def lecture(rule, grads=GRADS, x0=X0):
    """Apply ``rule(x, dx, t, memory) -> x`` step by step, as the lecture writes it."""
    x, memory, trajectory = x0.copy(), {}, []
    for t, dx in enumerate(grads, start=1):
        x = rule(x, dx, t, memory)
        trajectory.append(x.copy())
    return trajectory


def assert_trajectories(ours, expected):
    for step, (a, b) in enumerate(zip(ours, expected, strict=True), start=1):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=f"step {step}")


def sgd_rule(x, dx, t, m):
    return x - LR * dx


def momentum_rule(x, dx, t, m, mu=0.9):
    m["v"] = mu * m.get("v", 0.0) - LR * dx
    return x + m["v"]


def nesterov_rule(x, dx, t, m, mu=0.9):
    v_prev = m.get("v", 0.0)
    m["v"] = mu * v_prev - LR * dx
    return x - mu * v_prev + (1 + mu) * m["v"]


def adagrad_rule(x, dx, t, m, eps=1e-10):
    m["cache"] = m.get("cache", 0.0) + dx**2
    return x - LR * dx / (np.sqrt(m["cache"]) + eps)


def rmsprop_rule(x, dx, t, m, decay=0.99, eps=1e-8):
    m["cache"] = decay * m.get("cache", 0.0) + (1 - decay) * dx**2
    return x - LR * dx / (np.sqrt(m["cache"]) + eps)


def adam_rule(x, dx, t, m, b1=0.9, b2=0.999, eps=1e-8, amsgrad=False, decay=0.0):
    x = x * (1 - LR * decay)
    m["m"] = b1 * m.get("m", 0.0) + (1 - b1) * dx
    m["v"] = b2 * m.get("v", 0.0) + (1 - b2) * dx**2
    v = np.maximum(m.get("vmax", 0.0), m["v"]) if amsgrad else m["v"]
    m["vmax"] = v
    m_hat, v_hat = m["m"] / (1 - b1**t), v / (1 - b2**t)
    return x - LR * m_hat / (np.sqrt(v_hat) + eps)


def adamax_rule(x, dx, t, m, b1=0.9, b2=0.999, eps=1e-8):
    m["m"] = b1 * m.get("m", 0.0) + (1 - b1) * dx
    m["u"] = np.maximum(b2 * m.get("u", 0.0), np.abs(dx) + eps)
    return x - LR / (1 - b1**t) * m["m"] / m["u"]


def nadam_rule(x, dx, t, m, b1=0.9, b2=0.999, eps=1e-8, psi=4e-3):
    mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    m["prod"] = m.get("prod", 1.0) * mu_t
    m["m"] = b1 * m.get("m", 0.0) + (1 - b1) * dx
    m["v"] = b2 * m.get("v", 0.0) + (1 - b2) * dx**2
    denom = np.sqrt(m["v"] / (1 - b2**t)) + eps
    step = (1 - mu_t) / (1 - m["prod"]) * dx + mu_next / (1 - m["prod"] * mu_next) * m["m"]
    return x - LR * step / denom


def adadelta_rule(x, dx, t, m, rho=0.9, eps=1e-6):
    m["eg2"] = rho * m.get("eg2", 0.0) + (1 - rho) * dx**2
    delta = np.sqrt(m.get("edx2", 0.0) + eps) / np.sqrt(m["eg2"] + eps) * dx
    m["edx2"] = rho * m.get("edx2", 0.0) + (1 - rho) * delta**2
    return x - LR * delta


LECTURE_CASES = [
    ("sgd", optim.SGD, {}, sgd_rule),
    ("momentum", optim.SGD, {"momentum": 0.9}, momentum_rule),
    ("nesterov", optim.SGD, {"momentum": 0.9, "nesterov": True}, nesterov_rule),
    ("adagrad", optim.Adagrad, {}, adagrad_rule),
    ("rmsprop", optim.RMSprop, {}, rmsprop_rule),
    ("adam", optim.Adam, {}, adam_rule),
    ("amsgrad", optim.Adam, {"amsgrad": True}, lambda *a: adam_rule(*a, amsgrad=True)),
    ("adamw", optim.AdamW, {"weight_decay": 0.1}, lambda *a: adam_rule(*a, decay=0.1)),
    ("adamax", optim.Adamax, {}, adamax_rule),
    ("nadam", optim.NAdam, {}, nadam_rule),
    ("adadelta", optim.Adadelta, {}, adadelta_rule),
]


@pytest.mark.parametrize("name, cls, kwargs, rule", LECTURE_CASES, ids=[case[0] for case in LECTURE_CASES])
def test_steps_follow_the_lecture_rule(name, cls, kwargs, rule):
    assert_trajectories(take_steps(cls, lr=LR, **kwargs), lecture(rule))


def test_sgd_weight_decay_is_l2_in_the_gradient():
    ours = take_steps(optim.SGD, lr=LR, weight_decay=0.01)
    assert_trajectories(ours, lecture(lambda x, dx, t, m: x - LR * (dx + 0.01 * x)))


def test_adagrad_lr_decay_and_initial_accumulator():
    def rule(x, dx, t, m):
        m["cache"] = m.get("cache", 0.5) + dx**2
        return x - LR / (1 + (t - 1) * 0.1) * dx / (np.sqrt(m["cache"]) + 1e-10)

    assert_trajectories(take_steps(optim.Adagrad, lr=LR, lr_decay=0.1, initial_accumulator_value=0.5), lecture(rule))


def test_rmsprop_centered_with_momentum():
    def rule(x, dx, t, m, a=0.99, mu=0.5, eps=1e-8):
        m["sq"] = a * m.get("sq", 0.0) + (1 - a) * dx**2
        m["g"] = a * m.get("g", 0.0) + (1 - a) * dx
        m["buf"] = mu * m.get("buf", 0.0) + dx / (np.sqrt(m["sq"] - m["g"] ** 2) + eps)
        return x - LR * m["buf"]

    assert_trajectories(take_steps(optim.RMSprop, lr=LR, centered=True, momentum=0.5), lecture(rule))


def test_adabound_clips_the_rate_into_its_bounds():
    final_lr, gamma, lr = 0.05, 0.5, 1.0

    def rule(x, dx, t, m, b1=0.9, b2=0.999, eps=1e-8):
        m["m"] = b1 * m.get("m", 0.0) + (1 - b1) * dx
        m["v"] = b2 * m.get("v", 0.0) + (1 - b2) * dx**2
        rate = lr * math.sqrt(1 - b2**t) / (1 - b1**t) / (np.sqrt(m["v"]) + eps)
        lower, upper = final_lr * (1 - 1 / (gamma * t + 1)), final_lr * (1 + 1 / (gamma * t))
        assert np.any(rate > upper), "the upper bound should bind in this test"
        return x - np.clip(rate, lower, upper) * m["m"]

    ours = take_steps(optim.AdaBound, lr=lr, final_lr=final_lr, gamma=gamma)
    assert_trajectories(ours, lecture(rule))


def test_adabound_bounds_close_in_on_final_lr():
    lower, upper = optim.adabound.adabound_bounds(0.1, 1e-3, 1)
    assert lower == pytest.approx(0.1 * (1 - 1 / 1.001)) and upper == pytest.approx(0.1 * 1001)
    lower, upper = optim.adabound.adabound_bounds(0.1, 1e-3, 10**7)
    assert lower == pytest.approx(0.1, rel=1e-3) and upper == pytest.approx(0.1, rel=1e-3)


def test_amsbound_uses_the_running_maximum():
    grads = [np.array([3.0, -3.0, 3.0]), np.array([0.01, 0.01, -0.01]), np.array([0.02, -0.01, 0.01])]

    def rule(x, dx, t, m, b1=0.9, b2=0.999, eps=1e-8):
        m["m"] = b1 * m.get("m", 0.0) + (1 - b1) * dx
        v = b2 * m.get("v", 0.0) + (1 - b2) * dx**2
        if t > 1:
            assert np.all(v < m["vmax"]), "the maximum should bind in this test"
        m["v"], m["vmax"] = v, np.maximum(m.get("vmax", 0.0), v)
        rate = 0.01 * math.sqrt(1 - b2**t) / (1 - b1**t) / (np.sqrt(m["vmax"]) + eps)
        return x - np.clip(rate, 0.1 * (1 - 1 / (1e-3 * t + 1)), 0.1 * (1 + 1 / (1e-3 * t))) * m["m"]

    ours = take_steps(optim.AdaBound, grads=grads, lr=0.01, amsbound=True)
    assert_trajectories(ours, lecture(rule, grads))


def test_adabound_final_lr_follows_the_schedule():
    """With the rate halved the bounds halve too (final_lr * lr / base_lr)."""
    constant = take_steps(optim.AdaBound, lr=1.0, final_lr=0.01, gamma=0.5)
    halved = take_steps(optim.AdaBound, lr=lambda step: 1.0 if step == 0 else 0.5, final_lr=0.01, gamma=0.5)
    np.testing.assert_array_equal(constant[0], halved[0])
    np.testing.assert_allclose(halved[1] - halved[0], 0.5 * (constant[1] - constant[0]), rtol=1e-9)
