"""The babysitter's pre-flight checks pass on good models and fail on each kind of broken one."""

import numpy as np
import pytest

import babysit
from babysit import init, nn
from babysit.diagnostics.preflight import check
from babysit.nn.module import MODULE_REGISTRY


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((4, 10)) * 2
    y = rng.integers(0, 4, 400)
    x = centers[y] + rng.standard_normal((400, 10))
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32), y


def mlp(middle=None, rng=0):
    rng = np.random.default_rng(rng)
    layers = [nn.Linear(10, 32, rng=rng), nn.ReLU()]
    if middle is not None:
        layers.append(middle)
    layers.append(nn.Linear(32, 4, rng=rng, init=init.normal(0.01)))  # small last layer: loss ~ ln C
    return nn.Sequential(*layers)


class WrongBackward(nn.Module):
    """Tanh whose backward forgets the derivative (returns dout as if it were the identity)."""

    def forward(self, x):
        return np.tanh(x)

    def backward(self, dout):
        return dout


class IgnoresInput(nn.Module):
    def forward(self, x):
        return np.zeros_like(x)

    def backward(self, dout):
        return np.zeros_like(dout)


class MixesBatch(nn.Module):
    """Centres over the batch axis (by mistake) in every mode."""

    def forward(self, x):
        return x - x.mean(axis=0, keepdims=True)

    def backward(self, dout):
        return dout - dout.mean(axis=0, keepdims=True)


@pytest.fixture(autouse=True, scope="module")
def _forget_test_classes():
    yield
    for name in ("WrongBackward", "IgnoresInput", "MixesBatch"):
        MODULE_REGISTRY.pop(name, None)


def test_good_model_passes_every_check(data):
    x, y = data
    model = mlp()
    before = model.state_dict()
    report = check(model, nn.SoftmaxCrossEntropy(), x, y, lr=1e-3, verbose=False)
    assert report.passed, str(report)
    assert report["initial_loss"].status == "ok"
    assert report["overfit_tiny"].data["accuracy"] == 1.0
    low, high = report["learning_rate"].data["learns_from"], report["learning_rate"].data["best_lr"]
    assert low < 1e-2 and high > 1e-3  # the planned 1e-3 sits within a decade of the range
    for name, value in model.state_dict().items():  # no side effect on the model
        np.testing.assert_array_equal(value, before[name])


def test_wrong_backward_fails_gradient_check(data):
    report = check(mlp(WrongBackward()), nn.SoftmaxCrossEntropy(), *data, checks=["gradient_check"], verbose=False)
    assert report["gradient_check"].status == "fail"
    assert "backward" in report["gradient_check"].advice


def test_output_that_ignores_input_fails(data):
    report = check(mlp(IgnoresInput()), nn.SoftmaxCrossEntropy(), *data,
                   checks=["batch_independence", "overfit_tiny"], verbose=False)
    assert report["input_dependence"].status == "fail"
    assert report["overfit_tiny"].status == "fail"


def test_layer_mixing_examples_fails_batch_independence(data):
    report = check(mlp(MixesBatch()), nn.SoftmaxCrossEntropy(), *data, checks=["batch_independence"], verbose=False)
    assert report["batch_independence"].status == "fail"
    assert "mixes examples" in report["batch_independence"].advice


def test_exploding_learning_rate_fails(data):
    report = check(mlp(), nn.SoftmaxCrossEntropy(), *data, lr=50.0, checks=["learning_rate"], verbose=False)
    finding = report["learning_rate"]
    assert finding.status == "fail" and "too high" in finding.advice


def test_tiny_learning_rate_warns(data):
    report = check(mlp(), nn.SoftmaxCrossEntropy(), *data, lr=1e-8, checks=["learning_rate"], verbose=False)
    assert report["learning_rate"].status == "warn" and "too low" in report["learning_rate"].advice


def test_huge_init_fails_initial_loss(data):
    model = mlp()
    model[-1].weight.data *= 100
    report = check(model, nn.SoftmaxCrossEntropy(), *data, checks=["initial_loss"], verbose=False)
    assert report["initial_loss"].status == "fail"
    assert "init" in report["initial_loss"].advice


def test_zero_strength_penalty_fails(data):
    report = check(mlp(), nn.SoftmaxCrossEntropy(), *data, penalties=[nn.L2Penalty(0.0)],
                   checks=["regularization_raises_loss"], verbose=False)
    assert report["regularization_raises_loss"].status == "fail"


def test_report_prints_plain_words(data, capsys):
    check(mlp(WrongBackward()), nn.SoftmaxCrossEntropy(), *data, checks=["gradient_check"])
    printed = capsys.readouterr().err
    assert "[FAIL] gradient_check" in printed and "->" in printed


def test_unknown_check_name():
    with pytest.raises(ValueError, match="unknown checks"):
        check(mlp(), nn.SoftmaxCrossEntropy(), np.zeros((2, 10)), np.zeros(2, int), checks=["nope"])
    assert babysit  # imported for its side effects in other tests


def test_gradient_check_accepts_true_zero_gradients_and_pooling_ties():
    """A bias before BatchNorm has gradient exactly 0, and flat images make max-pool ties:
    neither is a wrong backward, so neither may fail the check."""
    rng = np.random.default_rng(0)
    before_bn = nn.Sequential(nn.Linear(10, 16, rng=rng), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4, rng=rng))
    x, y = rng.standard_normal((40, 10)).astype(np.float32), rng.integers(0, 4, 40)
    report = check(before_bn.train(), nn.SoftmaxCrossEntropy(), x, y, checks=["gradient_check"], verbose=False)
    assert report["gradient_check"].status == "ok", str(report)

    images = np.zeros((40, 1, 8, 8), np.float32)
    images[:, :, 2:6, 2:6] = 1.0  # flat squares: every pooling window is a tie
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(64, 4, rng=rng))
    report = check(cnn, nn.SoftmaxCrossEntropy(), images, y, checks=["gradient_check"], verbose=False)
    assert report["gradient_check"].status == "ok", str(report)


def test_planned_rate_beyond_the_default_range_is_still_judged(data):
    report = check(mlp(), nn.SoftmaxCrossEntropy(), *data, lr=100.0, checks=["learning_rate"], verbose=False)
    assert report["learning_rate"].status == "fail"
