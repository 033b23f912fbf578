"""The end-of-training diagnosis follows the course note: training first, then validation.

Real runs for the three cases of the note (underfitting, overfitting, no gap), then given
curves for the edges."""

import numpy as np
import pytest

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.diagnostics.diagnosis import diagnose
from babysit.train import Trainer
from babysit.train.history import History
from tests.test_monitors import blobs, mlp


def fit(model, train, val, *, epochs, lr, batch_size=100):
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=lr), batch_size=batch_size,
                      rng=0, verbose=False)
    return trainer.fit(train, val=val, epochs=epochs)


def named(findings):
    return {finding.name: finding for finding in findings}


@pytest.fixture(scope="module")
def data():
    return mnist1d()


def test_a_too_small_model_underfits_and_is_not_called_overfitting(data):
    history = fit(mlp([40, 3, 10]), (data.x_train, data.y_train), (data.x_test[:300], data.y_test[:300]),
                  epochs=5, lr=1e-2)
    assert history.epochs[-1]["train_accuracy"] < 0.5
    findings = named(diagnose(history, chance_accuracy=0.1))
    train = findings["train_performance"]
    assert train.status == "warn"
    assert "not overfitting" in train.advice and "more capacity" in train.advice
    assert "do not add dropout" in train.advice
    gap = findings["overfitting"]
    assert gap.status == "ok" and gap.data["verdict"] == "underfitting"
    assert gap.advice.startswith("not overfitting")


def test_a_big_model_on_few_examples_overfits_and_should_be_regularized(data):
    history = fit(mlp([40, 128, 128, 10]), (data.x_train[:100], data.y_train[:100]),
                  (data.x_test[:300], data.y_test[:300]), epochs=40, lr=3e-3)
    assert history.epochs[-1]["train_accuracy"] == 1.0
    findings = named(diagnose(history, chance_accuracy=0.1))
    assert findings["train_performance"].status == "ok"
    gap = findings["overfitting"]
    assert gap.status == "warn" and gap.data["verdict"] == "overfitting"
    assert gap.data["gap"] > 0.5
    for remedy in ("regularize", "dropout", "L2", "augmentation", "early stopping"):
        assert remedy in gap.advice
    stopping = findings["early_stopping"]
    assert stopping.status == "warn" and stopping.data["best_epoch"] < 40
    assert "EarlyStopping(monitor='val_loss'" in stopping.advice


def test_a_good_fit_with_no_gap_asks_for_capacity_not_regularization():
    x, y = blobs(800)
    history = fit(mlp([20, 32, 4]), (x[:600], y[:600]), (x[600:], y[600:]), epochs=10, lr=1e-2, batch_size=50)
    findings = named(diagnose(history))
    assert findings["train_performance"].status == "ok"
    gap = findings["overfitting"]
    assert gap.status == "ok" and gap.data["verdict"] == "no_gap"
    assert "capacity" in gap.advice and "dropout" not in gap.advice


# ---------------------------------------------------------------- given curves
def rows(train_accuracy, val_accuracy=None, losses=None, val_losses=None):
    count = len(train_accuracy)
    losses = losses or list(np.linspace(2.0, 1.0, count))
    result = []
    for index in range(count):
        row = {"epoch": index + 1, "loss": losses[index], "train_accuracy": train_accuracy[index]}
        if val_accuracy is not None:
            row["val_accuracy"] = val_accuracy[index]
        if val_losses is not None:
            row["val_loss"] = val_losses[index]
        result.append(row)
    return History(epochs=result)


def test_training_barely_above_chance_fails():
    train = named(diagnose(rows([0.1, 0.11, 0.12]), chance_accuracy=0.1))["train_performance"]
    assert train.status == "fail" and "not learning" in train.advice
    assert named(diagnose(rows([0.1, 0.11, 0.12])))["train_performance"].status == "warn"  # chance unknown


def test_a_still_falling_training_loss_says_train_longer():
    falling = named(diagnose(rows([0.5] * 4, losses=[2.0, 1.5, 1.2, 1.0])))["train_performance"]
    assert "train longer" in falling.advice
    flat = named(diagnose(rows([0.5] * 4, losses=[1.0, 1.0, 1.0, 0.99])))["train_performance"]
    assert "train longer" not in flat.advice


def test_without_validation_only_training_is_judged():
    assert [f.name for f in diagnose(rows([0.5, 0.95]))] == ["train_performance"]


def test_without_accuracies_the_gap_is_judged_on_the_losses():
    history = History(epochs=[{"epoch": 1, "loss": 0.1, "val_loss": 0.5}])
    gap = named(diagnose(history))["overfitting"]
    assert gap.status == "warn" and gap.data["verdict"] == "overfitting"
    assert "train_performance" not in named(diagnose(history))
    history = History(epochs=[{"epoch": 1, "loss": 0.1, "val_loss": 0.15}])
    assert named(diagnose(history))["overfitting"].status == "ok"
    assert named(diagnose(history, loss_gap=1.2))["overfitting"].status == "warn"


def test_early_stopping_is_asked_for_only_when_the_validation_loss_rose():
    rising = rows([0.9, 0.95, 1.0], [0.8, 0.8, 0.8], val_losses=[0.6, 0.5, 0.7])
    stopping = named(diagnose(rising))["early_stopping"]
    assert stopping.status == "warn" and stopping.data["best_epoch"] == 2
    steady = rows([0.9, 0.95, 1.0], [0.8, 0.8, 0.8], val_losses=[0.6, 0.5, 0.51])
    assert named(diagnose(steady))["early_stopping"].status == "ok"


def test_thresholds_are_settings():
    history = rows([0.85], [0.80])
    assert named(diagnose(history))["train_performance"].status == "warn"
    relaxed = named(diagnose(history, good_accuracy=0.8))
    assert relaxed["train_performance"].status == "ok" and relaxed["overfitting"].data["verdict"] == "no_gap"
    assert named(diagnose(history, good_accuracy=0.8, gap=0.02))["overfitting"].data["verdict"] == "overfitting"


def test_history_as_a_dict_and_non_finite_epochs():
    history = rows([0.5, 0.95], [0.5, 0.6])
    as_dict = {"epochs": [*history.epochs, {"epoch": 3, "loss": float("nan"), "train_accuracy": None}]}
    assert [f.to_dict() for f in diagnose(as_dict)] == [f.to_dict() for f in diagnose(history)]
    assert diagnose(History()) == []
    assert diagnose({"epochs": [{"epoch": 1, "loss": None}]}) == []


@pytest.mark.parametrize("setting", [{"good_accuracy": 0}, {"gap": 1.5}, {"loss_gap": 1.0}, {"val_rise": 0}])
def test_bad_settings_are_refused(setting):
    with pytest.raises(ValueError, match=next(iter(setting))):
        diagnose(History(), **setting)
