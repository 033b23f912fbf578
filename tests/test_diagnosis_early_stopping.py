"""The early_stopping finding knows when the run already keeps its best model.

A rising validation loss asks for early stopping, unless an EarlyStopping that restores the
best weights or a ModelCheckpoint saving the best model is already there: then the finding
says which epoch they keep instead of giving advice the user already followed.
"""

import numpy as np
import pytest

from babysit import nn, optim
from babysit.diagnostics.diagnosis import diagnose
from babysit.diagnostics.monitors import Babysitter
from babysit.train import Trainer
from babysit.train.callbacks import EarlyStopping, ModelCheckpoint
from tests.test_monitors import blobs, mlp


@pytest.fixture(scope="module")
def noisy():
    """Clusters with 30% random labels: 60 training examples are memorized within a few
    epochs and the validation loss rises from epoch 2 on."""
    x, y = blobs(n=400, seed=0)
    rng = np.random.default_rng(1)
    y = np.where(rng.random(len(y)) < 0.3, rng.integers(0, 4, len(y)), y)
    return (x[:60], y[:60]), (x[200:], y[200:])


def run(noisy, *callbacks, epochs=5, out_dir=None):
    """Train with a Babysitter (first, so its diagnosis runs before the others' on_train_end)."""
    train, val = noisy
    model = mlp([20, 64, 4])
    sitter = Babysitter(every=5)
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=1e-2), batch_size=20, rng=0,
                      verbose=False, callbacks=[sitter, *callbacks], out_dir=out_dir)
    history = trainer.fit(train, val=val, epochs=epochs)
    losses = [row["val_loss"] for row in history.epochs]
    assert losses[-1] > 1.05 * min(losses), losses  # the run does overfit
    return sitter.report["early_stopping"], history


def test_without_callbacks_the_rise_asks_for_early_stopping(noisy):
    finding, _ = run(noisy)
    assert finding.status == "warn"
    assert "EarlyStopping(monitor='val_loss', restore_best=True)" in finding.advice
    assert "kept_by" not in finding.data


def test_early_stopping_that_restores_the_best_epoch_is_reported_not_advised(noisy):
    stopper = EarlyStopping(patience=3)
    finding, history = run(noisy, stopper, epochs=30)
    best = stopper.best_epoch
    assert stopper.stopped_epoch == len(history.epochs) < 30
    assert finding.status == "ok"
    assert (f"EarlyStopping stopped at epoch {stopper.stopped_epoch} and restores the weights of epoch {best} "
            "(best val_loss)") in finding.measured
    assert finding.data["kept_by"] == ["EarlyStopping"] and finding.data["kept_epoch"] == best


def test_model_checkpoint_keeping_the_best_model_is_reported(noisy, tmp_path):
    checkpoint = ModelCheckpoint(tmp_path / "ckpt")
    finding, _ = run(noisy, checkpoint)
    assert finding.status == "ok"
    assert (f"the best model (epoch {checkpoint.best_epoch}, by val_loss) is kept by ModelCheckpoint in "
            f"{tmp_path / 'ckpt' / 'best.npz'}") in finding.measured
    assert (tmp_path / "ckpt" / "best.npz").is_file()
    assert finding.data["kept_by"] == ["ModelCheckpoint"]


def test_early_stopping_without_restore_best_still_warns_with_the_missing_piece(noisy):
    stopper = EarlyStopping(patience=3, restore_best=False)
    finding, _ = run(noisy, stopper, epochs=30)
    assert finding.status == "warn"
    assert f"EarlyStopping stopped at epoch {stopper.stopped_epoch}" in finding.advice
    assert "restore_best=True" in finding.advice and f"({stopper.best_epoch})" in finding.advice


def test_callbacks_watching_the_training_loss_do_not_count(noisy):
    finding, _ = run(noisy, EarlyStopping(monitor="loss", patience=50))
    assert finding.status == "warn" and "kept_by" not in finding.data


def _rows(val_losses):
    return {"epochs": [{"epoch": index + 1, "loss": 1.0 / (index + 1), "val_loss": value}
                       for index, value in enumerate(val_losses)]}


def test_diagnose_takes_the_callbacks_directly():
    history = _rows([1.0, 0.8, 0.9, 1.2])
    stopper = EarlyStopping(patience=10)
    stopper.load_state_dict({"best": 0.8, "best_epoch": 2, "wait": 2, "stopped_epoch": None, "best_weights": {}})
    [finding] = [f for f in diagnose(history, callbacks=[stopper]) if f.name == "early_stopping"]
    assert finding.status == "ok"
    assert "EarlyStopping restores the weights of epoch 2 (best val_loss)" in finding.measured
    [plain] = [f for f in diagnose(history) if f.name == "early_stopping"]
    assert plain.status == "warn"
    flat = _rows([1.0, 0.8, 0.81])  # no rise: nothing to report about the callbacks
    [calm] = [f for f in diagnose(flat, callbacks=[stopper]) if f.name == "early_stopping"]
    assert calm.status == "ok" and "EarlyStopping" not in calm.measured
