"""Trainer(transform=): augmentation of the training batches only, exact on resume, and the config's `augment:`."""

import numpy as np
import pytest

from babysit import nn, optim
from babysit.config import ConfigError, load_config
from babysit.config.build import build
from babysit.config.run import make_trainer as config_trainer
from babysit.data.augment import AddGaussianNoise, Compose, RandomTranslate
from babysit.train import Trainer
from tests.test_checkpoint_resume import Crash, CrashAt, assert_same_run, blobs, fit, make_trainer


class Recorder:
    """A transform that shifts every batch by +100 and remembers what it saw."""

    def __init__(self):
        self.seen = []

    def __call__(self, x, y, rng):
        self.seen.append((x.copy(), y.copy()))
        return x + 100.0, y


def test_the_transform_sees_every_training_batch_and_nothing_else():
    x, y = blobs(0, n=100)
    val = blobs(1, n=40)
    recorder = Recorder()
    model = nn.Sequential(nn.Linear(5, 3, rng=0))
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.0), transform=recorder,
                      batch_size=32, rng=0, verbose=False)
    history = trainer.fit((x, y), val=val, epochs=2)
    assert len(recorder.seen) == 2 * 4  # 4 batches of (32, 32, 32, 4) per epoch
    assert sorted(np.concatenate([batch for batch, _ in recorder.seen[:4]])[:, 0]) == sorted(x[:, 0])
    # lr 0: the weights never move, so the row's validation numbers are those of the clean data
    clean = trainer.evaluate(*val)
    assert history.epochs[-1]["val_loss"] == pytest.approx(clean["loss"])
    # the training loss was measured on the shifted batches: far from the clean one
    assert abs(history.epochs[-1]["loss"] - trainer.evaluate(x, y)["loss"]) > 1.0


def test_the_training_accuracy_counts_the_labels_the_transform_returned():
    x, y = blobs(0, n=64)

    def relabel(x_batch, y_batch, rng):
        return x_batch, np.zeros_like(y_batch)

    model = nn.Sequential(nn.Linear(5, 3, rng=0))
    model[0].weight.data[:] = 0
    model[0].bias.data[:] = np.array([1.0, 0.0, 0.0], dtype=np.float32)  # always predicts class 0
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.0), transform=relabel,
                      batch_size=16, rng=0, verbose=False)
    assert trainer.fit((x, y), epochs=1).epochs[0]["train_accuracy"] == 1.0


def test_a_resumed_run_augments_exactly_like_an_uninterrupted_one(tmp_path):
    augment = Compose(AddGaussianNoise(0.3))
    reference = make_trainer(tmp_path / "reference", transform=augment)
    fit(reference)
    crashed = make_trainer(tmp_path / "run", [CrashAt(13)], transform=augment)
    with pytest.raises(Crash):
        fit(crashed)
    resumed = make_trainer(tmp_path / "run", [CrashAt(-1)], transform=augment)
    fit(resumed, resume=True)
    assert_same_run(resumed, reference)
    plain = make_trainer(tmp_path / "plain")
    fit(plain)
    assert plain.history.batch_loss != reference.history.batch_loss  # the noise did change training


def test_a_transform_must_be_callable():
    model = nn.Sequential(nn.Linear(5, 3, rng=0))
    with pytest.raises(TypeError, match="transform must be a callable"):
        Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), transform="flip")


CONFIG = """
seed: 0
data: {name: mnist1d, val_size: 0.2}
model:
  - {type: Linear, out_features: 32}
  - ReLU
  - {type: Linear, out_features: 10}
optimizer: {type: adam, lr: 0.01}
epochs: 1
batch_size: 100
checks: none
babysitter: false
augment:
  - {type: RandomTranslate, max_shift: 4, mode: wrap}
  - {type: AddGaussianNoise, std: 0.1}
"""


def test_the_config_augments_the_training_batches(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(CONFIG)
    setup = build(load_config(path))
    assert isinstance(setup.transform, Compose)
    assert [type(step) for step in setup.transform.transforms] == [RandomTranslate, AddGaussianNoise]
    trainer = config_trainer(setup, verbose=False)
    assert trainer.transform is setup.transform
    history = trainer.fit(setup.data.train, setup.data.val, epochs=1)
    assert history.epochs[0]["val_accuracy"] > 0.15  # it trains (chance is 0.10)


@pytest.mark.parametrize("entry, message", [
    ("{type: RandomFlip}", "augmentation 'RandomFlip'"),
    ("{type: RandomTranslate, shift: 4}", "shift"),
])
def test_a_bad_augmentation_is_named(tmp_path, entry, message):
    path = tmp_path / "run.yaml"
    path.write_text(CONFIG.split("augment:")[0] + f"augment:\n  - {entry}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
