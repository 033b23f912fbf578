"""The optimizer interface: registry, argument checks, parameter groups, frozen parameters,
schedules, state_dict round trips and the chunked kernels."""

import inspect
import json

import numpy as np
import pytest

from babysit import nn, optim
from babysit.nn.module import Parameter
from babysit.optim.adam import adam_update
from babysit.optim.foreach import CHUNK, foreach
from babysit.serialization import load_arrays, save_arrays
from tests.optim_problems import SoftmaxProblem

FIRST_ORDER = sorted(name for name in optim.OPTIMIZERS if name != "lbfgs")


def _param(values=(1.0, -2.0, 3.0)):
    p = Parameter(np.array(values, dtype=np.float64))
    p.grad = np.array([0.5, 0.5, -1.0])
    return p


# ------------------------------------------------------------------ registry
def test_registry_lists_every_optimizer():
    classes = {
        cls for cls in vars(optim).values()
        if inspect.isclass(cls) and issubclass(cls, optim.Optimizer) and cls is not optim.Optimizer
    }
    assert classes == set(optim.OPTIMIZERS.values())
    assert set(optim.__all__) >= {cls.__name__ for cls in classes} | {"Optimizer", "OPTIMIZERS", "get"}


def test_get_builds_by_name_in_any_case():
    optimizer = optim.get("Adam", [_param()], lr=0.1, betas=[0.5, 0.9])
    assert isinstance(optimizer, optim.Adam)
    assert optimizer.defaults["lr"] == 0.1 and optimizer.defaults["betas"] == (0.5, 0.9)


def test_get_names_unknown_optimizers_and_arguments():
    with pytest.raises(ValueError, match="'adamm'"):
        optim.get("adamm", [_param()])
    with pytest.raises(ValueError, match=r"\['beta'\]"):
        optim.get("adam", [_param()], beta=0.9)


# ----------------------------------------------------------- argument checks
BAD_ARGUMENTS = [
    (optim.SGD, {"lr": -0.1}, r"lr must be .* got -0\.1"),
    (optim.SGD, {"lr": float("nan")}, r"lr must be .* got nan"),
    (optim.SGD, {"lr": True}, r"lr must be .* got True"),
    (optim.SGD, {"momentum": -0.9}, r"momentum must be .* got -0\.9"),
    (optim.SGD, {"nesterov": True}, r"nesterov=True needs momentum > 0"),
    (optim.SGD, {"momentum": 0.9, "nesterov": "yes"}, r"nesterov must be True or False, got 'yes'"),
    (optim.SGD, {"lr": lambda step: -1.0}, r"lr \(the schedule's value at step 0\) must be .* got -1\.0"),
    (optim.Adam, {"betas": (1.0, 0.999)}, r"betas\[0\] must be .*\[0, 1\), got 1\.0"),
    (optim.Adam, {"betas": (0.9, -0.1)}, r"betas\[1\] must be .* got -0\.1"),
    (optim.Adam, {"betas": 0.9}, r"betas must be a pair .* got 0\.9"),
    (optim.Adam, {"eps": -1e-8}, r"eps must be .* got -1e-08"),
    (optim.AdamW, {"weight_decay": -0.01}, r"weight_decay must be .* got -0\.01"),
    (optim.RMSprop, {"alpha": 1.5}, r"alpha must be .* got 1\.5"),
    (optim.Adagrad, {"lr_decay": -1}, r"lr_decay must be .* got -1"),
    (optim.Adadelta, {"rho": 1.1}, r"rho must be .* got 1\.1"),
    (optim.NAdam, {"momentum_decay": -1.0}, r"momentum_decay must be .* got -1\.0"),
    (optim.AdaBound, {"gamma": 0.0}, r"gamma must be .*\(0, 1\), got 0\.0"),
    (optim.AdaBound, {"final_lr": -0.1}, r"final_lr must be .* got -0\.1"),
    (optim.SWATS, {"betas": (0.9, 1.0)}, r"betas\[1\] must be .* got 1\.0"),
    (optim.LBFGS, {"max_iter": 0}, r"max_iter must be a positive int, got 0"),
    (optim.LBFGS, {"history_size": 2.5}, r"history_size must be a positive int, got 2\.5"),
    (optim.LBFGS, {"line_search_fn": "wolfe"}, r"line_search_fn must be None or 'strong_wolfe', got 'wolfe'"),
]


@pytest.mark.parametrize("cls, kwargs, message", BAD_ARGUMENTS)
def test_bad_arguments_raise_at_construction_naming_the_value(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([_param()], **kwargs)


def test_bad_group_values_and_unknown_group_keys_raise():
    with pytest.raises(ValueError, match=r"param_groups\[1\]: lr must be .* got -1"):
        optim.SGD([{"params": [_param()]}, {"params": [_param()], "lr": -1}], lr=0.1)
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['lrr'\]"):
        optim.Adam([{"params": [_param()], "lrr": 0.1}])


def test_bad_parameter_lists_raise():
    p = _param()
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match=r"params\[0\] is a ndarray"):
        optim.SGD([np.zeros(3)])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}])
    with pytest.raises(ValueError, match="single parameter group"):
        optim.LBFGS([{"params": [p]}, {"params": [_param()]}])


def test_a_schedule_that_turns_negative_raises_at_that_step():
    p = _param()
    optimizer = optim.SGD([p], lr=lambda step: 0.1 - 0.1 * step)
    optimizer.step()
    with pytest.raises(ValueError, match=r"schedule gave -0\.1 at step 2"):
        optimizer.step()
        optimizer.step()


# ------------------------------------------------------------ groups, frozen
def test_param_groups_use_their_own_settings():
    """Fine-tuning: a lower rate (and no momentum) for the pretrained layer."""
    pretrained, head = _param(), _param()
    optimizer = optim.SGD([{"params": [pretrained], "lr": 0.01, "momentum": 0.0}, {"params": [head]}],
                          lr=0.1, momentum=0.9)
    grad = pretrained.grad.copy()
    for _ in range(2):
        optimizer.step()
    np.testing.assert_allclose(pretrained.data, np.array([1.0, -2.0, 3.0]) - 2 * 0.01 * grad)
    np.testing.assert_allclose(head.data, np.array([1.0, -2.0, 3.0]) - 0.1 * grad - 0.1 * (1.9 * grad))
    assert optimizer.learning_rates() == [0.01, 0.1]


def test_add_param_group_takes_the_defaults():
    optimizer = optim.Adam([_param()], lr=0.1)
    optimizer.add_param_group({"params": [_param()], "betas": (0.5, 0.5)})
    assert optimizer.param_groups[1]["lr"] == 0.1 and optimizer.param_groups[1]["betas"] == (0.5, 0.5)


@pytest.mark.parametrize("name", [*FIRST_ORDER, "lbfgs"])
def test_frozen_parameters_and_missing_gradients_are_skipped(name):
    frozen, no_grad, trained = _param(), _param(), _param()
    frozen.requires_grad = False
    no_grad.grad = None
    optimizer = optim.get(name, [frozen, no_grad, trained], lr=0.1)
    before = [p.data.copy() for p in (frozen, no_grad, trained)]
    if name == "lbfgs":
        optimizer.step(lambda: float(trained.grad @ trained.data))
    else:
        optimizer.step()
    np.testing.assert_array_equal(frozen.data, before[0])
    np.testing.assert_array_equal(no_grad.data, before[1])
    assert not np.array_equal(trained.data, before[2])
    assert frozen not in optimizer.state
    assert no_grad not in optimizer.state or name == "lbfgs"  # L-BFGS keeps its state with the first parameter


def test_accepts_a_module_and_zero_grad_clears_its_gradients():
    model = nn.Sequential(nn.Linear(3, 2, rng=0), nn.ReLU(), nn.Linear(2, 1, rng=1))
    optimizer = optim.SGD(model, lr=0.1)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    optimizer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ---------------------------------------------------------------- schedules
def test_schedule_is_evaluated_at_the_optimizer_step_count():
    p = _param()
    optimizer = optim.SGD([p], lr=lambda step: 0.1 / (1 + step))
    x, grad = p.data.copy(), p.grad.copy()
    for step in range(3):
        assert optimizer.learning_rates() == [pytest.approx(0.1 / (1 + step))]
        optimizer.step()
        x = x - 0.1 / (1 + step) * grad
        np.testing.assert_allclose(p.data, x, rtol=1e-15)
    assert optimizer.step_count == 3


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_float32_parameters_keep_their_dtype(name):
    p = Parameter(np.ones((4, 3), dtype=np.float32))
    p.grad = np.full((4, 3), 0.5, dtype=np.float32)
    optimizer = optim.get(name, [p])
    for _ in range(3):
        optimizer.step()
    assert p.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in optimizer.state[p].values() if isinstance(v, np.ndarray))


# ---------------------------------------------------------- state_dict I/O
def _resume_matches(tmp_path, build, steps=50, step=None):
    """Run 2*steps uninterrupted, and steps + save/load into a new optimizer + steps: bit-identical."""
    step = step or (lambda problem, optimizer: (problem.set_grads(), optimizer.step()))
    straight = SoftmaxProblem()
    optimizer = build(straight.params)
    for _ in range(2 * steps):
        step(straight, optimizer)

    first = SoftmaxProblem()
    optimizer = build(first.params)
    for _ in range(steps):
        step(first, optimizer)
    arrays, metadata = optim.state_to_arrays(optimizer.state_dict())
    json.dumps(metadata)  # plain JSON besides the arrays
    save_arrays(tmp_path / "optimizer.npz", arrays, {"kind": "optimizer", "optimizer": metadata})
    arrays, document = load_arrays(tmp_path / "optimizer.npz")

    resumed = SoftmaxProblem()
    for p, q in zip(resumed.params, first.params, strict=True):
        p.data[...] = q.data
    optimizer = build(resumed.params)
    optimizer.load_state_dict(optim.state_from_arrays(arrays, document["optimizer"]))
    for _ in range(steps):
        step(resumed, optimizer)
    for p, q in zip(resumed.params, straight.params, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    return optimizer


RESUME_KWARGS = {
    "sgd": {"lr": 0.1, "momentum": 0.9, "nesterov": True}, "rmsprop": {"momentum": 0.5, "centered": True},
    "adam": {"amsgrad": True}, "adabound": {"amsbound": True}, "adagrad": {"lr_decay": 0.01},
}


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_state_dict_round_trip_continues_the_same_trajectory(tmp_path, name):
    optimizer = _resume_matches(tmp_path, lambda params: optim.get(name, params, **RESUME_KWARGS.get(name, {})))
    assert optimizer.step_count == 100


def test_lbfgs_state_dict_round_trip(tmp_path):
    def step(problem, optimizer):
        optimizer.step(problem.closure(optimizer))

    build = lambda params: optim.LBFGS(params, lr=0.5, max_iter=3, history_size=4)  # noqa: E731
    _resume_matches(tmp_path, build, steps=3, step=step)


def test_swats_round_trip_after_the_switch(tmp_path):
    def step(problem, optimizer):
        problem.weight.grad = np.ones_like(problem.weight.data)
        problem.bias.grad = np.full_like(problem.bias.data, -0.5)
        optimizer.step()

    optimizer = _resume_matches(tmp_path, optim.SWATS, steps=5, step=step)
    assert optimizer.switched and optimizer.switch_step == 2


def test_a_saved_schedule_keeps_the_current_one():
    schedule = lambda step: 0.1 * 0.5**step  # noqa: E731
    p = _param()
    optimizer = optim.SGD([p], lr=schedule, momentum=0.9)
    optimizer.step()
    state = optimizer.state_dict()
    assert state["param_groups"][0]["lr"] == "schedule"
    other = optim.SGD([_param()], lr=schedule, momentum=0.9)
    other.load_state_dict(state)
    assert other.param_groups[0]["lr"] is schedule and other.learning_rates() == [0.05]
    with pytest.raises(ValueError, match="saved with an lr schedule"):
        optim.SGD([_param()], lr=0.1, momentum=0.9).load_state_dict(state)


def test_load_state_dict_rejects_a_different_layout():
    optimizer = optim.Adam([_param(), _param()])
    optimizer.step()
    state = optimizer.state_dict()
    with pytest.raises(ValueError, match="2 parameters in the state, 1 here"):
        optim.Adam([_param()]).load_state_dict(state)
    with pytest.raises(ValueError, match=r"'exp_avg' has shape \(3,\), its parameter \(2,\)"):
        optim.Adam([Parameter(np.zeros(2)), Parameter(np.zeros(2))]).load_state_dict(state)


def test_state_dict_copies_the_arrays():
    p = _param()
    optimizer = optim.Adam([p])
    optimizer.step()
    state = optimizer.state_dict()
    saved = state["state"][0]["exp_avg"].copy()
    optimizer.step()
    np.testing.assert_array_equal(state["state"][0]["exp_avg"], saved)


# ------------------------------------------------------------ chunked kernels
def _adam_arrays(shape, order="C"):
    rng = np.random.default_rng(0)
    return [np.asarray(rng.standard_normal(shape), order=order) for _ in range(3)] + [
        np.asarray(rng.random(shape), order=order)
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunked_update_is_bit_identical_to_the_whole_array_one(dtype):
    coefficients = {"beta1": 0.9, "beta2": 0.999, "step_size": 1e-3, "eps_hat": 1e-8, "weight_decay": 0.01,
                    "decay": 1.0}
    size = 3 * CHUNK + 17
    whole = [a.astype(dtype) for a in _adam_arrays(size)]
    chunked = [a.copy() for a in whole]
    adam_update(*whole, None, np.empty(size, dtype), np.empty(size, dtype), **coefficients)
    foreach(adam_update, [*chunked, None], scratch=2, **coefficients)
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a, b)


def test_non_contiguous_parameters_are_updated_whole():
    p = Parameter(np.arange(12.0).reshape(3, 4).T)  # a transposed view
    p.grad = np.ones((4, 3))
    optim.Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, np.arange(12.0).reshape(3, 4).T - 0.1, rtol=1e-7)
