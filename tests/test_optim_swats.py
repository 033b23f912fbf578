"""SWATS (Keskar & Socher 2017) against Algorithm 1 of the paper, computed by hand."""

import numpy as np
import pytest

from babysit import optim
from babysit.nn.module import Parameter


def paper_swats(x0, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-9):
    """Algorithm 1 on a list of arrays; returns (trajectory, switch step or None, Lambda, lambda)."""
    xs = [x.copy() for x in x0]
    m = [np.zeros_like(x) for x in xs]
    a = [np.zeros_like(x) for x in xs]
    v = [np.zeros_like(x) for x in xs]
    lam, phase, switch_step, big_lambda, trajectory = 0.0, "adam", None, None, []
    for k, g in enumerate(grads, start=1):
        if phase == "sgd":
            for i in range(len(xs)):
                v[i] = b1 * v[i] + g[i]
                xs[i] = xs[i] - (1 - b1) * big_lambda * v[i]
        else:
            p = []
            for i in range(len(xs)):
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                a[i] = b2 * a[i] + (1 - b2) * g[i] ** 2
                p.append(-lr * np.sqrt(1 - b2**k) / (1 - b1**k) * m[i] / (np.sqrt(a[i]) + eps))
                xs[i] = xs[i] + p[i]
            ptg = sum(float(pi @ gi) for pi, gi in zip(p, g, strict=True))
            if ptg != 0:
                gamma = sum(float(pi @ pi) for pi in p) / -ptg
                lam = b2 * lam + (1 - b2) * gamma
                if k > 1 and abs(lam / (1 - b2**k) - gamma) < eps:
                    phase, switch_step, big_lambda = "sgd", k, lam / (1 - b2**k)
        trajectory.append([x.copy() for x in xs])
    return trajectory, switch_step, big_lambda, lam


def run_swats(x0, grads, **kwargs):
    params = [Parameter(x.copy()) for x in x0]
    optimizer = optim.SWATS(params, **kwargs)
    trajectory, switched = [], []
    for g in grads:
        for p, gi in zip(params, g, strict=True):
            p.grad = gi.copy()
        optimizer.step()
        trajectory.append([p.data.copy() for p in params])
        switched.append(optimizer.switched)
    return trajectory, switched, optimizer


def assert_close(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-16)


X0 = [np.array([1.0, -0.5, 2.0]), np.array([0.3, 0.7])]


def test_adam_phase_and_rate_estimate_follow_the_paper():
    rng = np.random.default_rng(3)
    grads = [[rng.standard_normal(3), rng.standard_normal(2)] for _ in range(6)]
    ours, switched, optimizer = run_swats(X0, grads)
    theirs, switch_step, _, lam = paper_swats(X0, grads)
    assert switch_step is None and not any(switched)
    assert_close(ours, theirs)
    assert optimizer.param_groups[0]["lambda_avg"] == pytest.approx(lam, rel=1e-12)


def test_switches_when_the_projected_rate_settles():
    """A constant gradient gives Adam steps of constant projected SGD rate: switch at step 2."""
    g = [np.array([1.0, -2.0, 0.5]), np.array([0.25, -1.0])]
    grads = [g] * 6
    ours, switched, optimizer = run_swats(X0, grads)
    theirs, switch_step, big_lambda, _ = paper_swats(X0, grads)
    assert switch_step == 2
    assert switched == [False, True, True, True, True, True]
    assert optimizer.switch_step == 2
    assert optimizer.sgd_lr == pytest.approx(big_lambda, rel=1e-12)
    # gamma = p.p / -p.g with p ~ -lr * sign(g): lr * n / sum|g|
    assert optimizer.sgd_lr == pytest.approx(1e-3 * 5 / 4.75, rel=1e-6)
    assert_close(ours, theirs)
    # SGD phase: v = beta1 v + g from v = 0, x -= (1 - beta1) * Lambda * v
    step3 = [x - 0.1 * big_lambda * gi for x, gi in zip(ours[1], g, strict=True)]
    assert_close([ours[2]], [step3])


def test_no_switch_on_the_first_step():
    g = [np.array([1.0, -2.0, 0.5]), np.array([0.25, -1.0])]
    _, switched, _ = run_swats(X0, [g])
    assert switched == [False]


def test_each_group_switches_on_its_own():
    settled = Parameter(np.ones(3))
    noisy = Parameter(np.ones(3))
    optimizer = optim.SWATS([{"params": [settled]}, {"params": [noisy]}])
    rng = np.random.default_rng(0)
    for _ in range(5):
        settled.grad = np.array([1.0, -2.0, 0.5])
        noisy.grad = rng.standard_normal(3)
        optimizer.step()
    assert optimizer.param_groups[0]["switched"] and not optimizer.param_groups[1]["switched"]
    assert optimizer.switched and optimizer.switch_step == 2


def test_sgd_rate_follows_the_lr_schedule_after_the_switch():
    g = [np.array([1.0, -2.0, 0.5]), np.array([0.25, -1.0])]
    constant, _, _ = run_swats(X0, [g] * 3)
    halved, _, optimizer = run_swats(X0, [g] * 3, lr=lambda step: 1e-3 if step < 2 else 5e-4)
    assert optimizer.switched
    for a, b, c, d in zip(halved[2], halved[1], constant[2], constant[1], strict=True):
        np.testing.assert_allclose(a - b, 0.5 * (c - d), rtol=1e-9)
