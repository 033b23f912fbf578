"""The loss at init is measured as training sees it: BatchNorm normalizes with batch statistics.

At init a BatchNorm's running mean and variance are 0 and 1, so in eval mode it passes its
input through unnormalized. On data with a large offset and scale the eval-mode loss is then
far from ln(C), while the first training step (batch statistics) starts at ln(C).
"""

import math

import numpy as np
import pytest

from babysit import init, nn
from babysit.diagnostics.preflight import check


@pytest.fixture(scope="module")
def unscaled():
    """10 classes of 20 features around 1000, spread 50: nothing standardized."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 300)
    x = 1000.0 + 50.0 * (rng.standard_normal((10, 20))[y] + rng.standard_normal((300, 20)))
    return x.astype(np.float32), y


def bn_net(dropout=0.0):
    rng = np.random.default_rng(0)
    layers = [nn.Linear(20, 64, rng=rng), nn.BatchNorm1d(64), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout, rng=rng))
    layers.append(nn.Linear(64, 10, rng=rng, init=init.normal(0.01)))  # small scores: loss ln(10) at init
    return nn.Sequential(*layers)


def _buffers(model):
    return {name: np.array(value, copy=True) for name, value in model.named_buffers()}


def test_loss_at_init_of_a_batchnorm_net_on_unscaled_data_is_ln_c(unscaled):
    model = bn_net()
    loss = nn.SoftmaxCrossEntropy()
    eval_loss = loss(bn_net().eval()(unscaled[0]), unscaled[1])
    assert eval_loss > 10 * math.log(10)  # what an eval-mode check would have measured
    before = _buffers(model)
    report = check(model, loss, *unscaled, checks=("initial_loss", "regularization_raises_loss"), verbose=False)
    finding = report["initial_loss"]
    assert finding.status == "ok"
    assert finding.data["loss"] == pytest.approx(math.log(10), abs=0.1)
    assert report["regularization_raises_loss"].data["data_loss"] == pytest.approx(math.log(10), abs=0.1)
    after = _buffers(model)
    assert before.keys() == after.keys() and "1.running_mean" in after
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    assert model.training and all(module.training for module in model.modules())  # mode untouched too


def test_dropout_stays_off_for_the_loss_at_init(unscaled):
    """Dropout only adds noise around the same expected scores: the measurement keeps it off,
    so the value is the same as without the dropout layer (and the same on every call)."""
    loss = nn.SoftmaxCrossEntropy()
    without = check(bn_net(), loss, *unscaled, checks=("initial_loss",), verbose=False)
    with_dropout = check(bn_net(dropout=0.9), loss, *unscaled, checks=("initial_loss",), verbose=False)
    assert with_dropout["initial_loss"].data["loss"] == pytest.approx(without["initial_loss"].data["loss"], rel=1e-6)


def test_overfit_tiny_starts_from_the_training_loss(unscaled):
    model = bn_net()
    before = _buffers(model)
    report = check(model, nn.SoftmaxCrossEntropy(), *unscaled, checks=("overfit_tiny",), tiny_steps=25,
                   verbose=False)
    assert report["overfit_tiny"].data["initial_loss"] == pytest.approx(math.log(10), abs=0.1)
    for name, value in _buffers(model).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
