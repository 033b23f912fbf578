"""Transfer learning: head replacement, freezing, fine-tuning groups, progressive unfreezing."""

import numpy as np
import pytest

from babysit import nn, optim
from babysit.evaluation import (
    ProgressiveUnfreezing,
    fine_tune_param_groups,
    freeze_all_but,
    replace_head,
    trainable_layers,
)
from babysit.train import Trainer
from babysit.train.callbacks.base import Callback


def _net(seed=0):
    return nn.Sequential(nn.Linear(6, 8, rng=seed, dtype=np.float64), nn.ReLU(),
                         nn.Linear(8, 8, rng=seed + 1, dtype=np.float64), nn.ReLU(),
                         nn.Linear(8, 10, rng=seed + 2, dtype=np.float64))


def _data(rng, n=30, classes=5):
    return rng.standard_normal((n, 6)), rng.integers(0, classes, n)


def test_replace_head_changes_the_output_and_keeps_the_body(rng):
    model = _net()
    body = model[0].weight.data.copy()
    head = replace_head(model, 5, rng=3)
    assert model[4] is head and head.out_features == 5 and head.in_features == 8
    assert head.weight.dtype == np.float64
    assert model(rng.standard_normal((2, 6))).shape == (2, 5)
    np.testing.assert_array_equal(model[0].weight.data, body)
    assert trainable_layers(model) == [0, 2, 4]
    with pytest.raises(ValueError, match="num_classes"):
        replace_head(model, 0)
    with pytest.raises(TypeError, match="Linear"):
        replace_head(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)), 3)


def test_frozen_parameters_are_not_updated_and_get_no_gradient(rng):
    model = _net()
    replace_head(model, 5, rng=1)
    trainable = freeze_all_but(model, 1)
    assert trainable == model[4].parameters()
    frozen = [p.data.copy() for p in model[0].parameters() + model[2].parameters()]
    head_before = model[4].weight.data.copy()
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                      batch_size=10, verbose=False)
    trainer.train_step(*_data(rng, 10))
    for p in model[0].parameters() + model[2].parameters():
        assert p.grad is None  # never computed
    for before, p in zip(frozen, model[0].parameters() + model[2].parameters(), strict=True):
        np.testing.assert_array_equal(p.data, before)
    assert not np.array_equal(model[4].weight.data, head_before)
    assert model.num_parameters(trainable_only=True) == 8 * 5 + 5


def test_freeze_all_but_counts_parameterized_layers():
    model = _net()
    freeze_all_but(model, 2)
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True, True, True]
    freeze_all_but(model, 3)
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 3\]"):
        freeze_all_but(model, 4)


def test_fine_tune_groups_give_pretrained_layers_a_lower_rate(rng):
    model = _net()
    model.freeze()
    groups = fine_tune_param_groups(model, 1, base_lr=0.1, pretrained_lr_factor=0.1)
    assert all(p.requires_grad for p in model.parameters())
    opt = optim.SGD(groups, lr=0.5)
    assert opt.learning_rates() == pytest.approx([0.1, 0.01])
    assert opt.param_groups[0]["params"] == model[4].parameters()
    # One SGD step moves each layer by its own rate times its gradient.
    before = [p.data.copy() for p in model.parameters()]
    loss = nn.SoftmaxCrossEntropy()
    x, y = _data(rng)
    loss(model(x), y)
    model.zero_grad()
    model.backward(loss.backward())
    grads = [p.grad.copy() for p in model.parameters()]
    opt.step()
    rates = [0.01] * 4 + [0.1] * 2
    for b, g, r, p in zip(before, grads, rates, model.parameters(), strict=True):
        np.testing.assert_allclose(p.data, b - r * g, rtol=1e-12)
    with pytest.raises(ValueError, match="base_lr"):
        fine_tune_param_groups(model, 1, base_lr=-1.0)


def test_progressive_unfreezing_opens_one_layer_per_period(rng):
    model = _net()
    seen = []

    unfreezing = ProgressiveUnfreezing(model, k=1, every=2)

    class Spy(Callback):
        def on_epoch_begin(self, trainer, logs):
            seen.append(sum(p.requires_grad for p in model.parameters()) // 2)

    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.01),
                      callbacks=[unfreezing, Spy()], batch_size=10, verbose=False)
    trainer.fit(_data(rng, classes=10), epochs=6)
    assert seen == [1, 1, 2, 2, 3, 3]
    assert unfreezing.state_dict() == {"trainable": 3}
