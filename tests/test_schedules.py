"""Learning-rate schedules: closed forms, PyTorch's lr_scheduler step for step, JSON round trip."""

import json
import math
import warnings

import numpy as np
import pytest

from babysit import schedules as S

# ---------------------------------------------------------------------------- closed forms
CLOSED_FORMS = [
    (S.constant(0.3), lambda t: 0.3),
    (S.step_decay(0.1, 10, 0.5), lambda t: 0.1 * 0.5 ** (t // 10)),
    (S.multistep(0.1, [3, 8], 0.1), lambda t: 0.1 * 0.1 ** ((t >= 3) + (t >= 8))),
    (S.exponential(0.1, 0.9), lambda t: 0.1 * 0.9**t),
    (S.inverse_time(0.1, 0.5), lambda t: 0.1 / (1 + 0.5 * t)),
    (S.inverse_time(0.1, 0.5, decay_steps=4, staircase=True), lambda t: 0.1 / (1 + 0.5 * (t // 4))),
    (S.cosine(0.1, 20, min_lr=0.01), lambda t: 0.01 + 0.09 * (1 + math.cos(math.pi * min(t, 20) / 20)) / 2),
]


@pytest.mark.parametrize(("schedule", "formula"), CLOSED_FORMS, ids=lambda v: getattr(v, "name", ""))
def test_closed_forms(schedule, formula):
    for t in [0, 1, 2, 3, 7, 8, 9, 10, 11, 19, 20, 21, 50]:
        assert schedule(t) == pytest.approx(formula(t), rel=1e-14, abs=1e-18), t


def test_landmark_values():
    assert S.cosine(0.1, 100)(50) == pytest.approx(0.05)
    assert S.cosine(0.1, 100, min_lr=0.001)(100) == pytest.approx(0.001)
    assert S.cosine(0.1, 100, min_lr=0.001)(1000) == pytest.approx(0.001)  # holds after the end
    sgdr = S.warm_restarts(0.1, t0=10, t_mult=2)
    assert [sgdr(t) for t in (0, 10, 30, 70)] == pytest.approx([0.1] * 4)  # restarts at 10, 10+20, 30+40
    assert sgdr.cycle_position(35) == (5, 40)
    tri = S.cyclical(0.01, 0.1, step_size=5)
    assert [tri(t) for t in (0, 5, 10, 15)] == pytest.approx([0.01, 0.1, 0.01, 0.1])
    assert tri.momentum(5) == pytest.approx(0.8) and tri.momentum(10) == pytest.approx(0.9)
    tri2 = S.cyclical(0.0, 0.1, step_size=5, mode="triangular2")
    assert [tri2(t) for t in (5, 15, 25)] == pytest.approx([0.1, 0.05, 0.025])
    cycle = S.one_cycle(1.0, 100, pct_start=0.25)
    assert cycle(0) == pytest.approx(1.0 / 25)
    assert cycle(24) == pytest.approx(1.0)
    assert cycle(99) == pytest.approx(1.0 / 25 / 1e4)
    assert cycle(500) == cycle(99)
    assert cycle.momentum(0) == pytest.approx(0.95) and cycle.momentum(24) == pytest.approx(0.85)
    warm = S.linear_warmup(0.2, 4)
    assert [warm(t) for t in range(6)] == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2, 0.2])


def test_join_starts_each_schedule_at_its_own_step_zero():
    joined = S.join([0.5, S.exponential(0.1, 0.5), S.constant(0.01)], [2, 5])
    assert joined.values(7) == pytest.approx([0.5, 0.5, 0.1, 0.05, 0.025, 0.01, 0.01])


def test_values_are_plain_floats_and_steps_must_be_nonnegative():
    assert type(S.cosine(np.float32(0.1), np.int64(10))(np.int64(3))) is float
    with pytest.raises(ValueError, match="step must be >= 0"):
        S.constant(0.1)(-1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: S.step_decay(0.1, 0), "step_size must be a positive int"),
        (lambda: S.step_decay(-0.1, 3), "lr must be a number >= 0"),
        (lambda: S.multistep(0.1, [5, 3]), "milestones must be increasing"),
        (lambda: S.exponential(0.1, 0.0), "gamma must be a number > 0"),
        (lambda: S.cosine(0.1, 2.5), "total_steps must be a positive int"),
        (lambda: S.warm_restarts(0.1, 10, t_mult=0), "t_mult must be a positive int"),
        (lambda: S.cyclical(0.01, 0.1, 5, mode="sine"), "mode must be one of"),
        (lambda: S.one_cycle(0.1, 100, anneal_strategy="step"), "anneal_strategy must be one of"),
        (lambda: S.one_cycle(0.1, 3, pct_start=0.3), "leaves a phase without steps"),
        (lambda: S.one_cycle(0.1, 100, pct_start=0.6, three_phase=True), "leaves a phase without steps"),
        (lambda: S.linear_warmup(0.1, 5, start_factor=1.5), "start_factor must be in"),
        (lambda: S.join([0.1, 0.2], [3, 6]), "one boundary fewer"),
        (lambda: S.join([0.1, 0.2], [0]), "boundaries must be >= 1"),
    ],
)
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


ALL_KINDS = [
    S.constant(0.1),
    S.step_decay(0.1, 7, 0.5),
    S.multistep(0.1, [5, 12]),
    S.exponential(0.1, 0.95),
    S.inverse_time(0.1, 0.2, 3, staircase=True),
    S.cosine(0.1, 50, 1e-4),
    S.warm_restarts(0.1, 5, 2, 1e-4),
    S.cyclical(0.01, 0.1, 6, "exp_range", gamma=0.99, step_size_down=3),
    S.one_cycle(0.1, 60, anneal_strategy="linear", three_phase=True),
    S.join([S.linear_warmup(S.cosine(0.1, 30), 5, 0.1), S.multistep(0.05, [3])], [30]),
]


@pytest.mark.parametrize("schedule", ALL_KINDS, ids=lambda s: s.name)
def test_json_round_trip(schedule):
    assert set(S.SCHEDULES) >= {s.name for s in ALL_KINDS}
    config = json.loads(json.dumps(schedule.to_config()))
    rebuilt = S.from_config(config)
    assert rebuilt == schedule
    assert rebuilt.values(80) == schedule.values(80)


def test_unsaveable_and_unknown_schedules_fail_clearly():
    with pytest.raises(TypeError, match="cannot save"):
        S.linear_warmup(lambda t: 0.1, 3).to_config()
    with pytest.raises(ValueError, match="unknown schedule 'sawtooth'"):
        S.from_config({"name": "sawtooth"})
    assert S.linear_warmup(lambda t: 0.1, 4)(2) == pytest.approx(0.05)  # a plain callable still runs


# ------------------------------------------------------------------------ against PyTorch
def _torch_rates(make_scheduler, steps, lr=0.1, use_adam=False):
    """``get_last_lr()`` and the momentum (or beta1) seen before each of ``steps`` optimizer steps."""
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=lr) if use_adam else torch.optim.SGD([param], lr=lr, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = make_scheduler(optimizer)
        rates, momenta = [], []
        for _ in range(steps):
            group = optimizer.param_groups[0]
            rates.append(scheduler.get_last_lr()[0])
            momenta.append(group["betas"][0] if use_adam else group["momentum"])
            optimizer.step()
            scheduler.step()
    return rates, momenta


def _assert_same(ours, theirs, what="lr"):
    ours, theirs = np.array(ours), np.array(theirs)
    # Relative 1e-12; the tiny absolute floor only matters where both anneal to exactly 0.
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-16, err_msg=what)


def _L():
    return pytest.importorskip("torch.optim.lr_scheduler")


TORCH_CASES = {
    "step_lr": (S.step_decay(0.1, 7, 0.5), lambda L, o: L.StepLR(o, 7, 0.5), 60),
    "multistep_lr": (S.multistep(0.1, [5, 12, 30], 0.3), lambda L, o: L.MultiStepLR(o, [5, 12, 30], 0.3), 60),
    "exponential_lr": (S.exponential(0.1, 0.93), lambda L, o: L.ExponentialLR(o, 0.93), 120),
    "cosine_annealing": (S.cosine(0.1, 50, 0.001), lambda L, o: L.CosineAnnealingLR(o, 50, 0.001), 51),
    "cosine_annealing_to_zero": (S.cosine(0.1, 40), lambda L, o: L.CosineAnnealingLR(o, 40), 41),
    "warm_restarts": (S.warm_restarts(0.1, 7), lambda L, o: L.CosineAnnealingWarmRestarts(o, 7), 100),
    "warm_restarts_t_mult": (
        S.warm_restarts(0.1, 5, 2, 0.001), lambda L, o: L.CosineAnnealingWarmRestarts(o, 5, 2, 0.001), 200,
    ),
    "linear_lr_warmup": (S.linear_warmup(0.1, 10, 0.25), lambda L, o: L.LinearLR(o, 0.25, total_iters=10), 30),
    "sequential_lr": (
        S.join([S.linear_warmup(0.1, 10, 0.1), S.cosine(0.1, 40)], [10]),
        lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=10), L.CosineAnnealingLR(o, 40)], [10]),
        50,
    ),
    "sequential_lr_three": (
        S.join([S.constant(0.1), S.step_decay(0.1, 3, 0.5), S.exponential(0.1, 0.9)], [4, 20]),
        lambda L, o: L.SequentialLR(
            o, [L.ConstantLR(o, 1.0, 1), L.StepLR(o, 3, 0.5), L.ExponentialLR(o, 0.9)], [4, 20]
        ),
        40,
    ),
    "chained_warmup_cosine": (
        S.linear_warmup(S.cosine(0.1, 40), 10, 0.1),
        lambda L, o: L.ChainedScheduler([L.LinearLR(o, 0.1, total_iters=10), L.CosineAnnealingLR(o, 40)]),
        41,
    ),
}


@pytest.mark.torch
@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_matches_torch_lr_scheduler(case):
    ours, make, steps = TORCH_CASES[case]
    L = _L()
    rates, _ = _torch_rates(lambda o: make(L, o), steps)
    _assert_same(ours.values(steps), rates)


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclical_matches_torch_cyclic_lr_and_its_momentum(mode):
    L = _L()
    ours = S.cyclical(0.01, 0.1, 6, mode, gamma=0.99, step_size_down=4)
    rates, momenta = _torch_rates(lambda o: L.CyclicLR(o, 0.01, 0.1, 6, 4, mode=mode, gamma=0.99), 80)
    _assert_same(ours.values(80), rates)
    _assert_same([ours.momentum(t) for t in range(80)], momenta, "momentum")


@pytest.mark.torch
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True], ids=["two_phase", "three_phase"])
@pytest.mark.parametrize("use_adam", [False, True], ids=["sgd_momentum", "adam_beta1"])
def test_one_cycle_matches_torch_one_cycle_lr_and_its_momentum(anneal, three_phase, use_adam):
    L = _L()
    steps, pct = (100, 0.3) if not use_adam else (57, 0.25)
    ours = S.one_cycle(0.1, steps, pct_start=pct, anneal_strategy=anneal, three_phase=three_phase)
    rates, momenta = _torch_rates(
        lambda o: L.OneCycleLR(o, 0.1, steps, pct_start=pct, anneal_strategy=anneal, three_phase=three_phase),
        steps,
        use_adam=use_adam,
    )
    _assert_same(ours.values(steps), rates)
    _assert_same([ours.momentum(t) for t in range(steps)], momenta, "momentum")
