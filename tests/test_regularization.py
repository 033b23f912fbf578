"""Regularization: dropout family train/eval behaviour, penalties vs weight decay, max-norm,
stochastic depth."""

import numpy as np
import pytest

from babysit import nn
from babysit.functional.dropout import dropout_mask
from babysit.nn.penalties import L1Penalty, L2Penalty, decoupled_weight_decay
from babysit.nn.regularization import (
    DropConnect,
    Dropout,
    GaussianNoise,
    MaxNorm,
    max_norm,
    stochastic_depth_probs,
)


def _mean_of_train_outputs(module, x, repeats):
    module.train()
    return sum(module(x) for _ in range(repeats)) / repeats


# ------------------------------------------------------------------------------ dropout
def test_dropout_expected_train_activation_equals_eval_activation(rng):
    x = rng.standard_normal((20, 30))
    p, repeats = 0.3, 4000
    layer = Dropout(p, rng=0)
    mean = _mean_of_train_outputs(layer, x, repeats)
    expected = layer.eval()(x)
    np.testing.assert_array_equal(expected, x)  # inverted dropout: nothing to do at test time
    # Each mean has standard deviation |x| * sqrt(p / (1 - p) / repeats); allow 5 of them.
    tolerance = 5 * np.abs(x) * np.sqrt(p / (1 - p) / repeats)
    assert np.all(np.abs(mean - expected) <= tolerance)


def test_dropout_keeps_a_fraction_and_scales_the_survivors(rng):
    x = rng.standard_normal((200, 500)) + 3.0  # no exact zeros
    out = Dropout(0.25, rng=1)(x)
    kept = out != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.005)
    np.testing.assert_allclose(out[kept], x[kept] / 0.75, rtol=1e-15)
    assert dropout_mask((10**6,), 0.25, np.random.default_rng(0), np.dtype(np.float64)).mean() == pytest.approx(
        1.0, abs=3e-3
    )


def test_dropout_masks_are_seeded_reproducible_and_fresh_each_call(rng):
    x = rng.standard_normal((8, 16))
    a, b = Dropout(0.5, rng=7), Dropout(0.5, rng=7)
    first_a, first_b = a(x), b(x)
    np.testing.assert_array_equal(first_a, first_b)
    np.testing.assert_array_equal(a(x), b(x))
    assert not np.array_equal(first_a, a(x))
    assert not np.array_equal(first_a, Dropout(0.5, rng=8)(x))


def test_dropout_backward_uses_the_forward_mask(rng):
    x, dout = rng.standard_normal((6, 9)) + 3.0, rng.standard_normal((6, 9))
    layer = Dropout(0.4, rng=3)
    out = layer(x)
    np.testing.assert_allclose(layer.backward(dout), dout * out / x, rtol=1e-12)
    layer.eval()
    layer(x)
    np.testing.assert_array_equal(layer.backward(dout), dout)


def test_dropout_keeps_float32_and_p_zero_is_the_identity(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    assert Dropout(0.5, rng=0)(x).dtype == np.float32
    np.testing.assert_array_equal(Dropout(0.0)(x), x)


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, True, "0.5"])
def test_dropout_probability_is_checked(p):
    with pytest.raises(ValueError, match=r"p \(the probability of dropping\) must be in \[0, 1\)"):
        Dropout(p)
    with pytest.raises(ValueError, match="DropConnect"):
        DropConnect(3, 2, p=p)


# --------------------------------------------------------------------------- DropConnect
def test_dropconnect_drops_weights_with_one_mask_per_batch():
    layer = DropConnect(5, 4, p=0.5, rng=0, dtype=np.float64)
    eye = np.eye(5)
    out = layer(eye) - layer.bias.data  # row i = column i of the used weight matrix
    used = out.T
    weight = layer.weight.data
    dropped = used == 0
    assert 0 < dropped.sum() < weight.size
    np.testing.assert_allclose(used[~dropped], weight[~dropped] / 0.5, rtol=1e-15)
    grad_out = np.ones((5, 4))
    layer.backward(grad_out)
    np.testing.assert_array_equal(layer.weight.grad == 0, dropped)  # dropped weights get no gradient


def test_dropconnect_eval_is_the_linear_layer_and_the_train_mean_matches_it(rng):
    layer = DropConnect(6, 3, p=0.3, rng=2, dtype=np.float64)
    reference = nn.Linear(6, 3, rng=0, dtype=np.float64)
    reference.load_state_dict(layer.state_dict())
    x = rng.standard_normal((10, 6))
    np.testing.assert_allclose(layer.eval()(x), reference(x), rtol=1e-15)
    repeats = 6000
    mean = _mean_of_train_outputs(layer, x, repeats)
    # out_j = sum_i x_i w_ji m_ji / (1 - p): variance sum_i (x_i w_ji)^2 p / (1 - p)
    sigma = np.sqrt(((x[:, None, :] * layer.weight.data[None]) ** 2).sum(-1) * 0.3 / 0.7 / repeats)
    assert np.all(np.abs(mean - reference(x)) <= 5 * sigma)


def test_dropconnect_is_a_linear_and_saves_p():
    layer = DropConnect(4, 2, p=0.2, rng=0)
    assert isinstance(layer, nn.Linear)
    assert layer.get_config()["p"] == 0.2
    assert "p=0.2" in repr(layer)


# --------------------------------------------------------------------------- GaussianNoise
def test_gaussian_noise_is_zero_mean_with_the_given_std_and_identity_at_eval(rng):
    x = rng.standard_normal((400, 500))
    layer = GaussianNoise(0.2, rng=0)
    noise = layer(x) - x
    assert noise.mean() == pytest.approx(0.0, abs=3e-3)
    assert noise.std() == pytest.approx(0.2, rel=1e-2)
    np.testing.assert_array_equal(layer.eval()(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)
    np.testing.assert_array_equal(GaussianNoise(0.2, rng=5)(x), GaussianNoise(0.2, rng=5)(x))
    with pytest.raises(ValueError, match="std must be a number >= 0"):
        GaussianNoise(-1.0)


# ------------------------------------------------------------------------------ penalties
def _model_and_data_gradient(rng):
    f64 = np.float64
    model = nn.Sequential(nn.Linear(4, 5, rng=rng, dtype=f64), nn.Tanh(), nn.Linear(5, 3, rng=rng, dtype=f64))
    x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    loss = nn.SoftmaxCrossEntropy()
    model.zero_grad()
    loss(model(x), y)
    model.backward(loss.backward())
    return model, {name: p.grad.copy() for name, p in model.named_parameters()}


def test_l2_gradient_step_equals_weight_shrink_for_plain_sgd(rng):
    lr, strength = 0.1, 0.05
    model, data_grads = _model_and_data_gradient(rng)
    start = model.state_dict()

    L2Penalty(strength).backward(model)  # in the loss: grad += lambda * W
    for p in model.parameters():
        p.data -= lr * p.grad  # a hand SGD step
    with_penalty = model.state_dict()

    model.load_state_dict(start)
    decoupled_weight_decay(model, lr, strength)  # in the update: W *= 1 - lr * lambda
    for name, p in model.named_parameters():
        p.data -= lr * data_grads[name]
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, with_penalty[name], rtol=1e-14, atol=1e-16, err_msg=name)
    # Weights shrink, biases (not marked regularize) do not.
    shrunk = (1 - lr * strength) * start["0.weight"] - lr * data_grads["0.weight"]
    np.testing.assert_allclose(with_penalty["0.weight"], shrunk)
    np.testing.assert_allclose(with_penalty["0.bias"], start["0.bias"] - lr * data_grads["0.bias"])


def test_l2_penalty_equals_the_library_sgd_weight_decay(rng):
    optim = pytest.importorskip("babysit.optim")
    if not hasattr(optim, "SGD"):
        pytest.skip("babysit.optim.SGD is not available yet")
    lr, strength = 0.1, 0.05
    model, data_grads = _model_and_data_gradient(rng)
    weights = [p for p in model.parameters() if p.regularize]
    start = model.state_dict()
    L2Penalty(strength).backward(model)
    optim.SGD(weights, lr=lr).step()
    with_penalty = model.state_dict()
    model.load_state_dict(start)
    for name, p in model.named_parameters():
        p.grad = data_grads[name].copy()
    optim.SGD(weights, lr=lr, weight_decay=strength).step()
    for name in ("0.weight", "2.weight"):
        np.testing.assert_allclose(model.state_dict()[name], with_penalty[name], rtol=1e-13, err_msg=name)


def test_penalty_values_and_gradients(rng):
    model = nn.Linear(3, 2, rng=rng, dtype=np.float64)
    weight = model.weight.data
    assert L2Penalty(0.1)(model) == pytest.approx(0.05 * np.sum(weight**2))
    assert L1Penalty(0.1)(model) == pytest.approx(0.1 * np.abs(weight).sum())
    L1Penalty(0.1).backward(model)
    np.testing.assert_array_equal(model.weight.grad, 0.1 * np.sign(weight))
    assert model.bias.grad is None  # biases are left alone by default
    chosen = L2Penalty(2.0, parameters=[model.bias])
    model.bias.data[:] = [1.0, -2.0]
    assert chosen() == pytest.approx(5.0)
    with pytest.raises(TypeError, match="pass the model"):
        L2Penalty(1.0)()
    with pytest.raises(ValueError, match="strength must be a number >= 0"):
        L1Penalty(-1.0)
    assert L2Penalty(0.5).get_config() == {"strength": 0.5}


# -------------------------------------------------------------------------------- max-norm
def test_max_norm_rescales_only_the_units_over_the_limit():
    model = nn.Sequential(nn.Linear(3, 4, rng=0, dtype=np.float64), nn.ReLU(), nn.Linear(4, 2, rng=0, dtype=np.float64))
    weight = model[0].weight.data
    weight[:] = [[3.0, 4.0, 0.0], [0.1, 0.2, 0.2], [0.0, 0.0, 10.0], [1.0, 1.0, 1.0]]
    bias_before = model[0].bias.data.copy()
    before = weight.copy()
    rescaled = max_norm(model, max_value=2.0)
    assert rescaled == 2 + int(np.count_nonzero(np.linalg.norm(model[2].weight.data, axis=1) > 2.0 + 1e-12))
    norms = np.linalg.norm(weight, axis=1)
    np.testing.assert_allclose(norms, [2.0, 0.3, 2.0, np.sqrt(3.0)], rtol=1e-15)
    np.testing.assert_allclose(weight[0], before[0] * 2.0 / 5.0)  # direction kept
    np.testing.assert_array_equal(weight[1], before[1])
    np.testing.assert_array_equal(model[0].bias.data, bias_before)


def test_max_norm_on_conv_shaped_parameters_and_the_reusable_constraint(rng):
    kernel = nn.Parameter(rng.standard_normal((5, 3, 3, 3)) * 3)
    MaxNorm(1.5)(kernel)
    assert np.all(np.sqrt((kernel.data**2).sum(axis=(1, 2, 3))) <= 1.5 * (1 + 1e-12))
    columns = nn.Parameter(rng.standard_normal((4, 6)) * 3)
    max_norm([columns], 1.0, axis=0)
    assert np.all(np.linalg.norm(columns.data, axis=0) <= 1.0 + 1e-12)
    with pytest.raises(ValueError, match="max_value must be a number > 0"):
        MaxNorm(0.0)
    with pytest.raises(TypeError, match="expected a Module, a Parameter or Parameters"):
        max_norm([np.ones((2, 2))], 1.0)


# ------------------------------------------------------------------------ stochastic depth
def test_stochastic_depth_probs_decay_linearly():
    assert stochastic_depth_probs(4) == pytest.approx([0.125, 0.25, 0.375, 0.5])
    assert stochastic_depth_probs(1, 0.2) == pytest.approx([0.2])
    probs = stochastic_depth_probs(54, final_prob=0.5)  # the paper's 110-layer ResNet
    assert probs[0] == pytest.approx(0.5 / 54) and probs[-1] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="num_blocks must be a positive int"):
        stochastic_depth_probs(0)
    with pytest.raises(ValueError, match="final_prob must be in"):
        stochastic_depth_probs(3, 1.0)


def test_residual_expected_train_output_equals_eval_output(rng):
    p, repeats = 0.375, 4000
    block = nn.Linear(6, 6, rng=1, dtype=np.float64)
    residual = nn.Residual(block, drop_prob=p, rng=0)
    x = rng.standard_normal((5, 6))
    mean = _mean_of_train_outputs(residual, x, repeats)
    expected = residual.eval()(x)
    np.testing.assert_allclose(expected, x + (1 - p) * block(x), rtol=1e-14)
    tolerance = 5 * np.abs(block(x)) * np.sqrt(p * (1 - p) / repeats)
    assert np.all(np.abs(mean - expected) <= tolerance)


def test_deep_stack_built_with_the_decay_rule(rng):
    probs = stochastic_depth_probs(6)
    model = nn.Sequential(*[nn.Residual(nn.Linear(4, 4, rng=i), drop_prob=p, rng=i) for i, p in enumerate(probs)])
    assert [layer.drop_prob for layer in model] == pytest.approx(probs)
    assert model.eval()(rng.standard_normal((2, 4)).astype(np.float32)).shape == (2, 4)
