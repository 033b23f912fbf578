"""The Module API: walking the tree, modes, grads, freezing, dtype, state dicts, hooks, errors."""

import numpy as np
import pytest

from babysit import nn
from babysit.errors import InputError


def mlp(rng=0):
    rng = np.random.default_rng(rng)
    return nn.Sequential(nn.Linear(4, 5, rng=rng), nn.ReLU(), nn.Linear(5, 3, rng=rng))


def test_parameter_names_follow_pytorch():
    names = [name for name, _ in mlp().named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_nested_names_and_modules():
    model = nn.Sequential(nn.Residual(nn.Linear(3, 3, rng=0), shortcut=nn.Linear(3, 3, rng=1)), nn.Linear(3, 2, rng=2))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.block.weight", "0.block.bias", "0.shortcut.weight", "0.shortcut.bias", "1.weight", "1.bias"]
    assert [name for name, _ in model.named_modules()] == ["", "0", "0.block", "0.shortcut", "1"]
    assert model.num_parameters() == 2 * (9 + 3) + (6 + 2)


def test_train_eval_reaches_every_module():
    model = mlp()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_backward_accumulates_until_zero_grad():
    model = mlp()
    x = np.ones((2, 4), dtype=np.float32)
    out = model(x)
    model.backward(np.ones_like(out))
    first = model[0].weight.grad.copy()
    out = model(x)
    model.backward(np.ones_like(out))
    np.testing.assert_allclose(model[0].weight.grad, 2 * first, rtol=1e-6)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(x)
    model.backward(np.ones_like(out))
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())


def test_frozen_parameters_get_no_gradient():
    model = mlp()
    model[0].freeze()
    out = model(np.ones((2, 4), dtype=np.float32))
    model.backward(np.ones_like(out))
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[2].weight.grad is not None
    assert model.num_parameters(trainable_only=True) == 5 * 3 + 3


def test_first_layer_skips_input_gradient_when_not_needed():
    model = mlp()
    model.needs_input_grad = False
    out = model(np.ones((2, 4), dtype=np.float32))
    assert model.backward(np.ones_like(out)) is None
    assert model[0].weight.grad is not None
    model.needs_input_grad = True
    out = model(np.ones((2, 4), dtype=np.float32))
    assert model.backward(np.ones_like(out)).shape == (2, 4)


def test_to_double_casts_parameters_and_outputs():
    model = mlp().double()
    assert model.dtype == np.float64
    assert model(np.ones((1, 4))).dtype == np.float64


def test_state_dict_round_trip_and_errors():
    source, target = mlp(0), mlp(1)
    target.load_state_dict(source.state_dict())
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_array_equal(source(x), target(x))
    state = source.state_dict()
    state["0.weight"][...] = 7  # a copy: the model is unchanged
    assert not (source[0].weight.data == 7).any()
    with pytest.raises(KeyError, match="missing"):
        target.load_state_dict({"0.weight": state["0.weight"]})
    bad = source.state_dict()
    bad["2.weight"] = np.zeros((4, 4))
    with pytest.raises(ValueError, match=r"'2.weight' has shape \(4, 4\)"):
        target.load_state_dict(bad)


def test_forward_hook_sees_output_and_can_be_removed():
    model = mlp()
    seen = []
    handle = model[1].register_forward_hook(lambda module, x, out: seen.append(out.shape))
    model(np.ones((3, 4), dtype=np.float32))
    handle.remove()
    model(np.ones((3, 4), dtype=np.float32))
    assert seen == [(3, 5)]


def test_sequential_indexing_and_head_replacement():
    model = mlp()
    model[-1] = nn.Linear(5, 7, rng=0)
    assert model(np.ones((2, 4), dtype=np.float32)).shape == (2, 7)
    assert len(model) == 3 and isinstance(model[0:2], nn.Sequential)
    with pytest.raises(TypeError, match="Modules"):
        model[0] = "not a module"


def test_wrong_feature_count_names_the_layer_and_position():
    with pytest.raises(InputError) as error:
        mlp()(np.ones((2, 6), dtype=np.float32))
    message = str(error.value)
    assert "model[0] Linear(4 -> 5)" in message and "expected 4 features" in message and "(2, 6)" in message


def test_error_inside_nested_container_names_the_path():
    model = nn.Sequential(nn.Linear(4, 4, rng=0), nn.Sequential(nn.ReLU(), nn.Linear(3, 2, rng=0)))
    with pytest.raises(InputError, match=r"model\[1\]\[1\] Linear\(3 -> 2\).*got 4"):
        model(np.ones((2, 4), dtype=np.float32))


@pytest.mark.parametrize(
    ("x", "pattern"),
    [
        (np.ones((2, 4), dtype=np.int64), "floating-point"),
        (np.ones((2, 4)), "expected float32 input"),
        (np.ones(4, dtype=np.float32), r"shape \(N, 4\)"),
        ([[1.0, 2.0, 3.0, 4.0]], "expected an array"),
    ],
)
def test_bad_inputs_get_clear_errors(x, pattern):
    with pytest.raises(InputError, match=pattern):
        mlp()(x)


def test_residual_shape_mismatch_suggests_projection():
    block = nn.Residual(nn.Linear(4, 3, rng=0))
    with pytest.raises(InputError, match="projection shortcut"):
        block(np.ones((2, 4), dtype=np.float32))


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (lambda: nn.Linear(0, 3), "in_features must be a positive int, got 0"),
        (lambda: nn.Linear(3, 2.5), "out_features must be a positive int, got 2.5"),
        (lambda: nn.Linear(3, 2, init="nope"), "unknown initializer 'nope'"),
        (lambda: nn.ELU(alpha=-1), "alpha must be > 0"),
        (lambda: nn.Residual(nn.ReLU(), drop_prob=1.0), r"drop_prob must be in \[0, 1\)"),
        (lambda: nn.Sequential(nn.ReLU(), 3), "argument 1 is a int"),
    ],
)
def test_bad_constructor_arguments(build, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        build()


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Linear(2, 2, rng=0).backward(np.ones((1, 2), dtype=np.float32))


def test_same_seed_same_weights_bit_for_bit():
    a, b = mlp(5), mlp(5)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert p.data.tobytes() == q.data.tobytes(), name
    assert mlp(6)[0].weight.data.tobytes() != a[0].weight.data.tobytes()
    assert a[0].weight.dtype == np.float32
