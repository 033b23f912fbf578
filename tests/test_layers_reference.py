"""Linear, activations and losses: hand-computed values always, PyTorch's values when installed."""

import math

import numpy as np
import pytest

from babysit import functional as F
from babysit import nn
from babysit.errors import InputError, NonFiniteError


def test_linear_known_values():
    layer = nn.Linear(2, 2, rng=0, dtype=np.float64)
    layer.weight.data[...] = [[1.0, 2.0], [3.0, 4.0]]
    layer.bias.data[...] = [0.5, -0.5]
    out = layer(np.array([[1.0, 1.0], [0.0, 2.0]]))
    np.testing.assert_array_equal(out, [[3.5, 6.5], [4.5, 7.5]])
    dx = layer.backward(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_array_equal(dx, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(layer.weight.grad, [[1.0, 1.0], [0.0, 2.0]])
    np.testing.assert_array_equal(layer.bias.grad, [1.0, 1.0])


def test_activation_known_values():
    x = np.array([-2.0, -0.5, 0.5, 3.0])
    np.testing.assert_allclose(F.relu_forward(x)[0], [0, 0, 0.5, 3])
    np.testing.assert_allclose(F.leaky_relu_forward(x, 0.01)[0], [-0.02, -0.005, 0.5, 3])
    np.testing.assert_allclose(F.elu_forward(x, 1.0)[0], [math.expm1(-2), math.expm1(-0.5), 0.5, 3])
    np.testing.assert_allclose(F.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(F.prelu_forward(x, np.array([0.25]))[0], [-0.5, -0.125, 0.5, 3])


def test_sigmoid_and_elu_do_not_overflow_on_extreme_inputs():
    x = np.array([-1000.0, 1000.0])
    np.testing.assert_array_equal(F.sigmoid_forward(x)[0], [0.0, 1.0])
    np.testing.assert_array_equal(F.elu_forward(x)[0], [-1.0, 1000.0])


def test_maxout_takes_the_max_piece_and_routes_ties_to_one():
    layer = nn.Maxout(1, 1, pieces=3, rng=0, dtype=np.float64)
    layer.weight.data[:, 0] = [1.0, -1.0, 1.0]  # pieces 0 and 2 tie
    layer.bias.data[...] = 0
    out = layer(np.array([[2.0], [-3.0]]))
    np.testing.assert_array_equal(out, [[2.0], [3.0]])
    layer.backward(np.ones((2, 1)))
    # x=2: pieces 0 and 2 tie -> only piece 0 gets it; x=-3: piece 1.
    np.testing.assert_array_equal(layer.weight.grad[:, 0], [2.0, -3.0, 0.0])


def test_softmax_cross_entropy_at_uniform_scores_is_ln_c():
    loss = nn.SoftmaxCrossEntropy()
    assert loss(np.zeros((4, 10)), np.array([0, 3, 9, 2])) == pytest.approx(math.log(10))
    assert loss.chance_loss(10) == pytest.approx(2.302585, abs=1e-6)


def test_softmax_cross_entropy_is_stable_for_huge_scores():
    loss = nn.SoftmaxCrossEntropy()
    value = loss(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
    assert value == pytest.approx(500.0)


def test_multiclass_hinge_known_value():
    # CS231n's worked example: scores (3.2, 5.1, -1.7) with correct class 0 -> 2.9.
    loss = nn.MulticlassHinge()
    assert loss(np.array([[3.2, 5.1, -1.7]]), np.array([0])) == pytest.approx(2.9)
    np.testing.assert_allclose(loss.backward(), [[-1.0, 1.0, 0.0]])


def test_distillation_with_alpha_zero_is_cross_entropy():
    rng = np.random.default_rng(0)
    scores, teacher, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    hard = nn.SoftmaxCrossEntropy()(scores, y)
    assert nn.DistillationLoss(alpha=0.0)(scores, (y, teacher)) == pytest.approx(hard)
    # The soft term vanishes when the student equals the teacher.
    assert nn.DistillationLoss(alpha=1.0)(teacher, (y, teacher)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("scores", "labels", "error", "pattern"),
    [
        (np.zeros((3, 4)), np.array([0, 1, 4]), InputError, r"labels must be in \[0, 4\).*\[4\]"),
        (np.zeros((3, 4)), np.array([0.0, 1.0, 2.0]), InputError, "labels must be integers"),
        (np.zeros((3, 4)), np.array([0, 1]), InputError, r"shape \(3,\)"),
        (np.zeros(4), np.array([0]), InputError, r"shape \(N, C\)"),
        (np.array([[np.nan, 0.0]]), np.array([0]), NonFiniteError, "NaN or infinite"),
    ],
)
def test_loss_bad_input(scores, labels, error, pattern):
    with pytest.raises(error, match=pattern):
        nn.SoftmaxCrossEntropy()(scores, labels)


def test_penalties_values_and_gradients_skip_biases():
    model = nn.Sequential(nn.Linear(2, 2, rng=0, dtype=np.float64))
    model[0].weight.data[...] = [[1.0, -2.0], [0.0, 3.0]]
    model[0].bias.data[...] = [10.0, 10.0]
    assert nn.L2Penalty(0.1)(model) == pytest.approx(0.5 * 0.1 * 14)
    assert nn.L1Penalty(0.1)(model) == pytest.approx(0.1 * 6)
    nn.L2Penalty(0.1).backward(model)
    np.testing.assert_allclose(model[0].weight.grad, 0.1 * model[0].weight.data)
    assert model[0].bias.grad is None


# ------------------------------------------------------------------- PyTorch
@pytest.mark.torch
def test_linear_and_activations_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5))
    model = nn.Sequential(
        nn.Linear(5, 8, rng=rng), nn.ELU(0.5), nn.Linear(8, 8, rng=rng), nn.LeakyReLU(0.2),
        nn.Linear(8, 8, rng=rng), nn.PReLU(8), nn.Linear(8, 8, rng=rng), nn.Sigmoid(),
        nn.Linear(8, 4, rng=rng), nn.Tanh(),
    ).double()
    reference = torch.nn.Sequential(
        torch.nn.Linear(5, 8), torch.nn.ELU(0.5), torch.nn.Linear(8, 8), torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(8, 8), torch.nn.PReLU(8), torch.nn.Linear(8, 8), torch.nn.Sigmoid(),
        torch.nn.Linear(8, 4), torch.nn.Tanh(),
    ).double()
    state = {name: torch.from_numpy(value) for name, value in model.state_dict().items()}
    reference.load_state_dict(state)
    dout = rng.standard_normal((6, 4))
    xt = torch.from_numpy(x).requires_grad_(True)
    out = reference(xt)
    out.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(model(x), out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.backward(dout), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.torch
def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(1)
    scores, y, teacher = rng.standard_normal((7, 5)) * 3, rng.integers(0, 5, 7), rng.standard_normal((7, 5))
    st = torch.from_numpy(scores).requires_grad_(True)
    cases = [
        (nn.SoftmaxCrossEntropy(), y, lambda s: functional.cross_entropy(s, torch.from_numpy(y))),
        # torch divides the hinge sum by the number of classes; CS231n's loss does not.
        (nn.MulticlassHinge(), y, lambda s: 5 * functional.multi_margin_loss(s, torch.from_numpy(y))),
        (nn.MSELoss(), teacher, lambda s: functional.mse_loss(s, torch.from_numpy(teacher))),
        (
            nn.DistillationLoss(temperature=2.0, alpha=0.6),
            (y, teacher),
            lambda s: 0.6 * 4.0 * functional.kl_div(
                functional.log_softmax(s / 2, 1), functional.log_softmax(torch.from_numpy(teacher) / 2, 1),
                reduction="batchmean", log_target=True)
            + 0.4 * functional.cross_entropy(s, torch.from_numpy(y)),
        ),
    ]
    for loss, target, reference in cases:
        st.grad = None
        expected = reference(st)
        expected.backward()
        assert loss(scores, target) == pytest.approx(expected.item(), rel=1e-12), repr(loss)
        np.testing.assert_allclose(loss.backward(), st.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=repr(loss))
