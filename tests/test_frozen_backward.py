"""Backward stops at the lowest trainable layer when nobody needs the input gradient.

A frozen feature extractor (transfer learning) gets no backward pass at all: computing its
input gradients would cost as much as training it, and nothing reads them.
"""

import copy

import numpy as np
import pytest

from babysit import nn, optim
from babysit.evaluation import freeze_all_but
from babysit.train import Trainer


def _spy(model):
    """Replace every module's ``backward`` by a counting wrapper; returns {name: calls}."""
    calls = {}
    for name, module in model.named_modules():
        calls[name] = 0

        def counted(dout, _name=name, _inner=module.backward):
            calls[_name] += 1
            return _inner(dout)

        module.backward = counted
    return calls


def _frozen_conv_net():
    """conv (frozen) -> relu -> conv (frozen) -> relu -> pool -> flatten -> linear -> relu -> linear."""
    f64 = np.float64
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, rng=0, dtype=f64), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, padding=1, rng=1, dtype=f64), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 3 * 3, 8, rng=2, dtype=f64), nn.ReLU(),
                          nn.Linear(8, 5, rng=3, dtype=f64))
    model[:5].freeze()
    return model


def _step(model, x, y):
    loss = nn.SoftmaxCrossEntropy()
    model.zero_grad()
    loss(model(x), y)
    return model.backward(loss.backward())


def _grads(model):
    return {name: None if p.grad is None else p.grad.copy() for name, p in model.named_parameters()}


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.standard_normal((6, 2, 6, 6)), rng.integers(0, 5, 6)


def test_frozen_layers_get_no_backward_and_trainable_gradients_are_unchanged(batch):
    model = _frozen_conv_net()
    reference = copy.deepcopy(model)  # the full backward, dx included
    reference.needs_input_grad = True
    dx = _step(reference, *batch)
    assert dx.shape == batch[0].shape

    model.needs_input_grad = False
    calls = _spy(model)
    assert _step(model, *batch) is None
    assert [calls[str(i)] for i in range(len(model))] == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert model[6].needs_input_grad is False  # the lowest trainable layer skips its dx too
    expected, got = _grads(reference), _grads(model)
    assert expected.keys() == got.keys()
    for name in expected:
        if expected[name] is None:
            assert got[name] is None, name
        else:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert got["6.weight"] is not None and got["0.weight"] is None


def test_input_gradient_is_still_returned_when_asked_for(batch):
    frozen = _frozen_conv_net()
    trainable = copy.deepcopy(frozen).unfreeze()
    frozen.needs_input_grad = trainable.needs_input_grad = True
    calls = _spy(frozen)
    dx = _step(frozen, *batch)
    np.testing.assert_array_equal(dx, _step(trainable, *batch))  # freezing does not change dL/dx
    assert all(calls[str(i)] == 1 for i in range(len(frozen)))


def test_unfreezing_after_a_truncated_backward_passes_gradients_down_again(batch):
    model = _frozen_conv_net()
    model.needs_input_grad = False
    _step(model, *batch)
    assert model[0].weight.grad is None
    model.unfreeze()
    _step(model, *batch)
    assert model[6].needs_input_grad is True
    assert model[0].weight.grad is not None and model[2].weight.grad is not None
    assert model[0].needs_input_grad is False  # the data still needs none


def test_nested_containers_stop_inside(batch):
    f64 = np.float64
    block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, rng=1, dtype=f64), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, padding=1, rng=2, dtype=f64))
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, rng=0, dtype=f64), nn.ReLU(),
                          nn.Residual(block), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 5, rng=3, dtype=f64))
    model[0].freeze()
    block[0].freeze()
    reference = copy.deepcopy(model)
    reference.needs_input_grad = True
    _step(reference, *batch)

    model.needs_input_grad = False
    calls = _spy(model)
    _step(model, *batch)
    # The residual holds the lowest trainable parameter: it is called, but inside its block
    # the chain stops at the trainable conv, and nothing below the residual runs.
    assert calls["0"] == calls["1"] == 0
    assert calls["2"] == calls["2.block"] == 1
    assert calls["2.block.2"] == 1 and calls["2.block.1"] == calls["2.block.0"] == 0
    assert block[2].needs_input_grad is False
    np.testing.assert_array_equal(block[2].weight.grad, reference[2].block[2].weight.grad)
    np.testing.assert_array_equal(model[5].weight.grad, reference[5].weight.grad)


def test_residual_skips_a_frozen_branch(batch):
    f64 = np.float64
    shortcut = nn.Conv2d(2, 4, 1, rng=0, dtype=f64)
    body = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, rng=1, dtype=f64))
    residual = nn.Residual(body, shortcut=shortcut)
    model = nn.Sequential(residual, nn.Flatten(), nn.Linear(4 * 36, 5, rng=2, dtype=f64))
    body.freeze()
    reference = copy.deepcopy(model)
    reference.needs_input_grad = True
    _step(reference, *batch)
    model.needs_input_grad = False
    calls = _spy(model)
    _step(model, *batch)
    assert calls["0.shortcut"] == 1 and calls["0.block"] == 0
    np.testing.assert_array_equal(shortcut.weight.grad, reference[0].shortcut.weight.grad)


def test_fully_frozen_model_runs_no_backward(batch):
    model = _frozen_conv_net().freeze()
    model.needs_input_grad = False
    calls = _spy(model)
    assert _step(model, *batch) is None
    assert sum(count for name, count in calls.items() if name) == 0


def test_trainer_with_freeze_all_but_never_runs_the_frozen_layers_backward(batch):
    model = _frozen_conv_net()
    freeze_all_but(model, 1)  # only the head trains: layers 0..7 need no backward
    calls = _spy(model)
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), batch_size=3,
                      verbose=False)
    trainer.fit(batch, epochs=1)
    assert calls["8"] == 2
    assert all(calls[str(i)] == 0 for i in range(8))
