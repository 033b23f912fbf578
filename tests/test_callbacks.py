"""Callbacks: each does what its name says, inside a real Trainer, and keeps its state across a resume."""

import numpy as np
import pytest

import babysit
from babysit import nn, optim, schedules
from babysit.evaluation.averaging import average_checkpoints
from babysit.serialization import load_arrays
from babysit.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    ExplosionGuard,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
    Trainer,
)


def blobs(seed=0, n=300):
    centers = np.random.default_rng(123).standard_normal((3, 5)) * 3
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.standard_normal((n, 5))).astype(np.float32), y


def small_trainer(seed=0, lr=0.05, callbacks=(), loss=None, **kwargs):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(5, 16, rng=rng), nn.ReLU(), nn.Linear(16, 3, rng=rng))
    return Trainer(model, loss or nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                   batch_size=32, rng=rng, verbose=False, callbacks=list(callbacks), **kwargs)


def feed(callback, trainer, values, monitor="val_loss"):
    """Run the epoch-end hook over a sequence of metric values; returns the epoch it stopped at."""
    callback.on_train_begin(trainer, {"epochs": len(values), "resumed": False})
    for epoch, value in enumerate(values, start=1):
        trainer.epoch = epoch
        callback.on_epoch_end(trainer, {"epoch": epoch, monitor: value})
        if trainer.stop_training:
            return epoch
    return None


# ------------------------------------------------------------------ EarlyStopping
def test_early_stopping_waits_patience_epochs_after_the_best():
    trainer = small_trainer()
    stopper = EarlyStopping(patience=2, min_delta=0.01)
    assert feed(stopper, trainer, [1.0, 0.8, 0.795, 0.9, 0.7]) == 4  # 0.795 is not better by > 0.01
    assert (stopper.best, stopper.best_epoch, stopper.wait) == (0.8, 2, 2)
    assert trainer.stop_reason.startswith("early stopping: val_loss did not improve by more than 0.01 for 2 epochs")
    assert trainer.stop_details["name"] == "early_stopping" and trainer.stop_details["data"]["best_epoch"] == 2


def test_early_stopping_maximizes_accuracies_and_ignores_nan():
    trainer = small_trainer()
    stopper = EarlyStopping(monitor="val_accuracy", patience=1)
    assert stopper.metric.mode == "max"
    assert feed(stopper, trainer, [0.5, float("nan"), 0.6, 0.55], monitor="val_accuracy") == 2
    assert stopper.best == 0.5


def test_early_stopping_restores_the_best_weights_bit_for_bit():
    stopper = EarlyStopping(monitor="val_loss", patience=1, min_delta=100.0)  # only epoch 1 counts as better
    trainer = small_trainer(callbacks=[stopper])
    trainer.fit(blobs(0), val=blobs(1), epochs=10)
    assert trainer.epoch == 2 and stopper.stopped_epoch == 2
    one_epoch = small_trainer()
    one_epoch.fit(blobs(0), val=blobs(1), epochs=1)
    for (name, p), (_, q) in zip(trainer.model.named_parameters(), one_epoch.model.named_parameters(), strict=True):
        assert p.data.tobytes() == q.data.tobytes(), name


def test_early_stopping_names_a_missing_metric():
    with pytest.raises(ValueError, match=r"monitors 'val_loss' but the epoch's metrics are .*pass val="):
        small_trainer(callbacks=[EarlyStopping()]).fit(blobs(0), epochs=2)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"patience": -1}, "patience must be an int >= 0"),
    ({"mode": "lower"}, "mode must be one of"),
    ({"min_delta": -0.1}, "min_delta must be a finite number >= 0"),
])
def test_early_stopping_checks_its_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        EarlyStopping(**kwargs)


# ---------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_keeps_best_last_and_every_kth(tmp_path):
    saver = ModelCheckpoint(monitor="val_accuracy", every=2)
    trainer = small_trainer(callbacks=[saver], out_dir=tmp_path)
    history = trainer.fit(blobs(0), val=blobs(1), epochs=4)
    folder = tmp_path / "checkpoints"
    accuracies = history.metric("val_accuracy")
    best_epoch = accuracies.index(max(accuracies)) + 1
    _, metadata = load_arrays(folder / "best.npz")
    assert metadata["checkpoint"] == {"epoch": best_epoch, "monitor": "val_accuracy", "value": max(accuracies)}
    assert saver.best_epoch == best_epoch and saver.best_path == folder / "best.npz"
    best = babysit.load(folder / "best.npz")
    assert [m.short_repr() for m in best] == [m.short_repr() for m in trainer.model]
    last = babysit.load(folder / "last_model.npz")
    assert last[2].weight.data.tobytes() == trainer.model[2].weight.data.tobytes()
    assert sorted(p.name for p in folder.glob("epoch_*.npz")) == ["epoch_0002.npz", "epoch_0004.npz"]
    averaged = average_checkpoints([folder / "epoch_0002.npz", folder / "epoch_0004.npz"])
    assert averaged.keys() == trainer.model.state_dict().keys()


def test_model_checkpoint_only_writes_best_on_improvement(tmp_path):
    trainer = small_trainer()
    saver = ModelCheckpoint(tmp_path, save_last=False)
    saver.on_train_begin(trainer, {})
    written = []
    for epoch, value in enumerate([1.0, 0.5, 0.7, 0.4], start=1):
        before = saver.best_path.stat().st_ino if saver.best_path.exists() else None
        saver.on_epoch_end(trainer, {"epoch": epoch, "val_loss": value})
        written.append(saver.best_path.stat().st_ino != before)  # each save renames a new file into place
    assert written == [True, True, False, True] and load_arrays(saver.best_path)[1]["checkpoint"]["epoch"] == 4
    assert not (tmp_path / "last_model.npz").exists()


def test_model_checkpoint_needs_a_directory():
    with pytest.raises(ValueError, match="give it a directory, or give the Trainer an out_dir"):
        small_trainer(callbacks=[ModelCheckpoint()]).fit(blobs(0), val=blobs(1), epochs=1)


# -------------------------------------------------------------- ReduceLROnPlateau
def test_reduce_lr_on_plateau_cuts_waits_cools_down_and_stops_at_the_floor():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(5, 4, rng=rng), nn.ReLU(), nn.Linear(4, 3, rng=rng))
    optimizer = optim.SGD([{"params": model[0].parameters(), "lr": 0.1}, {"params": model[2].parameters()}], lr=0.01)
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optimizer, verbose=False)
    reducer = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    reducer.on_train_begin(trainer, {})
    rates = []
    for epoch in range(1, 10):
        reducer.on_epoch_end(trainer, {"epoch": epoch, "val_loss": 1.0})  # a plateau from the start
        rates.append([group["lr"] for group in optimizer.param_groups])
    assert [r[0] for r in rates] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02]
    assert [r[1] for r in rates] == [0.01] * 9  # a group already below the floor is left alone
    assert [entry["epoch"] for entry in reducer.reductions] == [3, 5, 7]


def test_reduce_lr_on_plateau_resets_on_improvement():
    trainer = small_trainer(lr=0.1)
    reducer = ReduceLROnPlateau(factor=0.1, patience=2, min_delta=0.0)
    reducer.on_train_begin(trainer, {})
    for epoch, value in enumerate([1.0, 1.0, 0.9, 0.9, 0.8], start=1):
        reducer.on_epoch_end(trainer, {"epoch": epoch, "val_loss": value})
    assert trainer.optimizer.param_groups[0]["lr"] == 0.1 and reducer.reductions == []


def test_reduce_lr_on_plateau_refuses_a_schedule():
    trainer = small_trainer(callbacks=[ReduceLROnPlateau()], schedule=schedules.cosine(0.1, 100))
    with pytest.raises(ValueError, match="cannot be combined with a learning-rate schedule"):
        trainer.fit(blobs(0), val=blobs(1), epochs=1)


# ------------------------------------------------------ TerminateOnNaN, ExplosionGuard
class NaNAfter(nn.SoftmaxCrossEntropy):
    """A loss that goes NaN without raising (what a hand-written loss may do)."""

    def __init__(self, calls):
        super().__init__()
        self.calls, self.limit = 0, calls

    def forward(self, scores, y):
        value = super().forward(scores, y)
        self.calls += 1
        return float("nan") if self.calls > self.limit else value


def test_terminate_on_nan_stops_at_the_first_nan_loss():
    trainer = small_trainer(callbacks=[TerminateOnNaN()], loss=NaNAfter(5))
    trainer.fit(blobs(0), epochs=3)
    assert trainer.step == 6 and trainer.stop_reason == "terminate on NaN: the loss is nan at step 5"
    assert trainer.stop_details["name"] == "non_finite_loss"
    unguarded = small_trainer(loss=NaNAfter(5))
    unguarded.fit(blobs(0), epochs=3)
    assert unguarded.step == 30 and unguarded.stop_reason is None


def test_explosion_guard_stops_as_soon_as_the_loss_triples():
    trainer = small_trainer(lr=1.0, callbacks=[ExplosionGuard()])
    trainer.fit(blobs(0), epochs=5)
    losses = trainer.history.batch_loss
    assert losses[-1] > 3 * losses[0] and all(loss <= 3 * losses[0] for loss in losses[1:-1])
    assert trainer.stop_reason.startswith(f"explosion guard: loss {losses[-1]:.4g} at step {len(losses) - 1}")
    assert trainer.stop_details["name"] == "explosion_guard" and trainer.stop_details["status"] == "fail"
    calm = small_trainer(lr=0.05, callbacks=[ExplosionGuard()])
    calm.fit(blobs(0), epochs=5)
    assert calm.stop_reason is None and calm.step == 50


def test_explosion_guard_factor_is_configurable():
    trainer = small_trainer()
    guard = ExplosionGuard(factor=2)
    guard.on_train_begin(trainer, {})
    for step, loss in enumerate([2.0, 3.9, 4.0]):
        guard.on_batch_end(trainer, {"step": step, "loss": loss})
    assert not trainer.stop_training
    guard.on_batch_end(trainer, {"step": 3, "loss": 4.01})
    assert trainer.stop_reason == "explosion guard: loss 4.01 at step 3 exceeds 2 x the initial loss 2"
    with pytest.raises(ValueError, match="factor must be a finite number > 1"):
        ExplosionGuard(factor=1)


# ---------------------------------------------------------------------- CSVLogger
def test_csv_logger_writes_every_epoch_once(tmp_path):
    path = tmp_path / "log.csv"
    trainer = small_trainer(callbacks=[CSVLogger(path, separator=";")])
    trainer.fit(blobs(0), val=blobs(1), epochs=2)
    assert path.read_text() == trainer.history.to_csv(";")
    trainer.fit(blobs(0), val=blobs(1), epochs=3)  # continues: epoch 3 added
    lines = path.read_text().splitlines()
    assert lines[0].split(";")[:3] == ["epoch", "loss", "train_accuracy"]
    assert [line.split(";")[0] for line in lines[1:]] == ["1", "2", "3"]


def test_csv_logger_after_a_resume_has_each_epoch_once(tmp_path):
    class CrashAt(Callback):
        def on_batch_end(self, trainer, logs):
            if logs["step"] == 25:
                raise KeyboardInterrupt

    path = tmp_path / "log.csv"
    with pytest.raises(KeyboardInterrupt):
        small_trainer(callbacks=[CSVLogger(path), CrashAt()], out_dir=tmp_path / "run").fit(blobs(0), epochs=4)
    assert len(path.read_text().splitlines()) == 3  # header + epochs 1, 2
    resumed = small_trainer(callbacks=[CSVLogger(path)], out_dir=tmp_path / "run")
    with pytest.warns(UserWarning, match="different callbacks"):
        resumed.fit(blobs(0), epochs=4, resume=True)
    assert [line.split(",")[0] for line in path.read_text().splitlines()[1:]] == ["1", "2", "3", "4"]


# ----------------------------------------------------------------- state round trip
@pytest.mark.parametrize("make", [
    lambda: EarlyStopping(patience=3), lambda: ModelCheckpoint(), lambda: ReduceLROnPlateau(patience=1),
    lambda: ExplosionGuard(),
], ids=["EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "ExplosionGuard"])
def test_callback_state_round_trips(make, tmp_path):
    trainer = small_trainer(out_dir=tmp_path)
    callback = make()
    callback.on_train_begin(trainer, {})
    for epoch, value in enumerate([1.0, 0.5, 0.6, 0.7], start=1):
        callback.on_batch_end(trainer, {"step": epoch, "loss": value, "batch": 0, "lr": 0.1})
        callback.on_epoch_end(trainer, {"epoch": epoch, "val_loss": value})
    state = callback.state_dict()
    assert state
    copy = make()
    copy.on_train_begin(trainer, {})
    copy.load_state_dict(state)
    assert _plain(copy.state_dict()) == _plain(state)


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tobytes()
    return value
