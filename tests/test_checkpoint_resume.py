"""Crash-safe checkpoints: a resumed run ends bit-identical to one that was never interrupted.

The in-process tests crash a run by raising from a callback; the slow test SIGKILLs a real
training subprocess mid-epoch. Corrupt checkpoints fall back to the previous good one.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import babysit
from babysit import nn, optim, schedules
from babysit.errors import CheckpointError
from babysit.train import Callback, EarlyStopping, Trainer, read_checkpoint
from babysit.train.checkpoint import previous_path

HERE = Path(__file__).resolve().parent


class Crash(Exception):
    pass


class CrashAt(Callback):
    """Simulates a crash after the update of step ``step`` (0-based)."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, logs):
        if logs["step"] == self.step:
            raise Crash(f"crash at step {self.step}")


def blobs(seed=0, n=300):
    centers = np.random.default_rng(123).standard_normal((3, 5)) * 3
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.standard_normal((n, 5))).astype(np.float32), y


def make_trainer(out_dir, callbacks=(), checkpoint_every=4, **kwargs):
    """Dropout (two generators, one shared with the trainer), Adam and a per-batch schedule."""
    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.Linear(5, 24, rng=rng), nn.ReLU(), nn.Dropout(0.3, rng=rng),
                          nn.Linear(24, 24, rng=rng), nn.ReLU(), nn.Dropout(0.2, rng=np.random.default_rng(6)),
                          nn.Linear(24, 3, rng=rng))
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    schedule = schedules.linear_warmup(schedules.cosine(1e-2, 50), 5, start_factor=0.1)
    return Trainer(model, nn.SoftmaxCrossEntropy(), optimizer, schedule=schedule, callbacks=list(callbacks),
                   batch_size=32, rng=rng, out_dir=out_dir, checkpoint_every=checkpoint_every, verbose=False,
                   **kwargs)


def fit(trainer, epochs=5, **kwargs):
    return trainer.fit(blobs(0), val=blobs(1), epochs=epochs, **kwargs)


def assert_same_run(first, second):
    """Weights, optimizer state and history (but the timings) agree bit for bit."""
    for (name, p), (_, q) in zip(first.model.named_parameters(), second.model.named_parameters(), strict=True):
        assert p.data.tobytes() == q.data.tobytes(), name
    state_a, state_b = first.optimizer.state_dict(), second.optimizer.state_dict()
    for index, entries in state_a["state"].items():
        for key, value in entries.items():
            other = state_b["state"][index][key]
            assert np.asarray(value).tobytes() == np.asarray(other).tobytes(), (index, key)
    assert first.history.batch_loss == second.history.batch_loss
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in first.history.epochs]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in second.history.epochs]
    assert (first.step, first.epoch) == (second.step, second.epoch)
    assert first.rng.bit_generator.state == second.rng.bit_generator.state


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run."""
    trainer = make_trainer(tmp_path_factory.mktemp("reference"))
    fit(trainer)
    return trainer


@pytest.mark.parametrize("crash_step, checkpoint_every", [(9, 4), (21, 4), (19, 4), (13, None)],
                         ids=["mid-epoch", "mid-epoch-3", "end-of-epoch", "epoch-checkpoints-only"])
def test_resume_after_a_crash_is_bit_identical(tmp_path, reference, crash_step, checkpoint_every):
    crashed = make_trainer(tmp_path, [CrashAt(crash_step)], checkpoint_every=checkpoint_every)
    with pytest.raises(Crash):
        fit(crashed)
    resumed = make_trainer(tmp_path, [CrashAt(-1)], checkpoint_every=checkpoint_every)
    fit(resumed, resume=True)
    assert_same_run(resumed, reference)
    assert babysit.load(tmp_path / "model.npz").state_dict().keys() == reference.model.state_dict().keys()
    final = babysit.load(tmp_path / "model.npz")
    assert final[0].weight.data.tobytes() == reference.model[0].weight.data.tobytes()


def test_a_mid_epoch_checkpoint_holds_the_whole_training_state(tmp_path):
    trainer = make_trainer(tmp_path, [CrashAt(13)])
    with pytest.raises(Crash):
        fit(trainer)
    checkpoint = read_checkpoint(tmp_path / "checkpoints" / "last.npz")
    assert (checkpoint.epoch, checkpoint.step) == (2, 12)  # 10 batches per epoch, every 4 steps
    progress = checkpoint.metadata["epoch_progress"]
    assert progress["batch"] == 2 and progress["seen"] == 64
    assert sorted(checkpoint.arrays["epoch/order"]) == list(range(300))
    assert {"model/0.weight", "model/6.bias", "optim/state/0/exp_avg", "optim/state/5/exp_avg_sq",
            "history/batch_loss"} <= set(checkpoint.arrays)
    assert len(checkpoint.arrays["history/batch_loss"]) == 12
    assert checkpoint.metadata["optimizer"]["step_count"] == 12
    assert set(checkpoint.metadata["rng"]) == {"trainer.rng", "model.2.rng", "model.5.rng"}
    assert checkpoint.metadata["trainer"]["schedule"]["name"] == "linear_warmup"
    assert previous_path(checkpoint.path).is_file()
    assert read_checkpoint(previous_path(checkpoint.path)).step == 10  # the end of epoch 1


def test_corrupt_last_checkpoint_falls_back_to_the_previous_one(tmp_path, reference):
    crashed = make_trainer(tmp_path, [CrashAt(17)])
    with pytest.raises(Crash):
        fit(crashed)
    last = tmp_path / "checkpoints" / "last.npz"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # truncated
    resumed = make_trainer(tmp_path, [CrashAt(-1)])
    with pytest.warns(UserWarning, match=r"last\.npz.*truncated or corrupted.*last\.prev\.npz \(epoch 2, step 12\)"):
        fit(resumed, resume=True)
    assert_same_run(resumed, reference)


def test_both_checkpoints_corrupt_is_an_error_naming_both_files(tmp_path):
    crashed = make_trainer(tmp_path, [CrashAt(9)])
    with pytest.raises(Crash):
        fit(crashed)
    for name in ("last.npz", "last.prev.npz"):
        path = tmp_path / "checkpoints" / name
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"last\.npz.*last\.prev\.npz"):
        fit(make_trainer(tmp_path), resume=True)


def test_a_model_file_is_not_a_training_checkpoint(tmp_path):
    fit(make_trainer(tmp_path), epochs=1)
    with pytest.raises(CheckpointError, match=r"model\.npz: holds a 'model', not a training checkpoint"):
        fit(make_trainer(tmp_path / "other"), resume=tmp_path / "model.npz")


def test_an_interrupted_write_leaves_the_last_checkpoint_intact(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, checkpoint_every=None)
    fit(trainer, epochs=1)
    path = tmp_path / "checkpoints" / "last.npz"
    before = path.read_bytes()

    def killed_mid_write(stream, **arrays):
        stream.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt  # as a signal would, in the middle of the write

    monkeypatch.setattr(np, "savez", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        fit(trainer, epochs=2)
    monkeypatch.undo()
    assert path.read_bytes() == before and read_checkpoint(path).epoch == 1
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_resume_without_a_checkpoint_trains_from_the_start(tmp_path, reference):
    trainer = make_trainer(tmp_path)
    with pytest.warns(UserWarning, match="no checkpoint at .*training from the start"):
        fit(trainer, resume=True)
    assert_same_run(trainer, reference)


def test_resume_needs_a_place_to_resume_from():
    with pytest.raises(ValueError, match="out_dir"):
        fit(make_trainer(None), resume=True)


def test_resume_from_an_explicit_checkpoint_file(tmp_path, reference):
    crashed = make_trainer(tmp_path / "a", [CrashAt(22)])
    with pytest.raises(Crash):
        fit(crashed)
    resumed = make_trainer(tmp_path / "b", [CrashAt(-1)])
    fit(resumed, resume=tmp_path / "a" / "checkpoints" / "last.npz")
    assert_same_run(resumed, reference)
    assert (tmp_path / "b" / "checkpoints" / "last.npz").is_file()


def test_resume_from_another_run_directory_and_leftovers_are_cleared(tmp_path, reference):
    crashed = make_trainer(tmp_path / "a", [CrashAt(22)])
    with pytest.raises(Crash):
        fit(crashed)
    leftovers = [tmp_path / "b" / "checkpoints" / ".last.npz.x1y2.tmp", tmp_path / "b" / ".history.json.z.tmp",
                 tmp_path / "b" / "checkpoints" / ".last.prev.npz.link"]
    for leftover in leftovers:  # what a SIGKILL during a write leaves
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.write_bytes(b"PK half")
    resumed = make_trainer(tmp_path / "b", [CrashAt(-1)])
    fit(resumed, resume=tmp_path / "a")
    assert_same_run(resumed, reference)
    assert not any(leftover.exists() for leftover in leftovers)


@pytest.mark.parametrize(("change", "pattern"), [
    ({"batch_size": 16}, "batch_size 32, this trainer has 16"),
    ({"optimizer": "sgd"}, "written with optimizer Adam, this trainer has SGD"),
])
def test_resuming_a_different_setup_is_refused(tmp_path, change, pattern):
    fit(make_trainer(tmp_path), epochs=1)
    trainer = make_trainer(tmp_path)
    if "batch_size" in change:
        trainer.batch_size = change["batch_size"]
    else:
        trainer.optimizer = optim.SGD(trainer.model.parameters(), lr=0.1)
    with pytest.raises(CheckpointError, match=pattern):
        fit(trainer, resume=True)


def test_resuming_on_different_data_is_refused(tmp_path):
    fit(make_trainer(tmp_path), epochs=1)
    with pytest.raises(CheckpointError, match="training set of 300 examples, got 200"):
        make_trainer(tmp_path).fit(blobs(0, n=200), epochs=2, resume=True)


def test_a_fresh_run_in_a_used_directory_warns_and_drops_the_stale_fallback(tmp_path):
    fit(make_trainer(tmp_path), epochs=2)
    assert (tmp_path / "checkpoints" / "last.prev.npz").is_file()
    fresh = make_trainer(tmp_path, checkpoint_every=None)
    with pytest.warns(UserWarning, match="earlier run"):
        fit(fresh, epochs=1)
    assert read_checkpoint(tmp_path / "checkpoints" / "last.npz").step == 10
    assert not (tmp_path / "checkpoints" / "last.prev.npz").exists()


def test_the_run_directory_holds_model_history_and_checkpoints(tmp_path):
    trainer = make_trainer(tmp_path)
    history = fit(trainer, epochs=2)
    assert babysit.History.load_json(tmp_path / "history.json").to_dict() == history.to_dict()
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,loss,train_accuracy,val_loss,val_accuracy,lr") and len(lines) == 3
    model = babysit.load(tmp_path / "model.npz")
    x, _ = blobs(2)
    trainer.model.eval()
    model.eval()
    np.testing.assert_array_equal(model(x), trainer.model(x))


class DivergeAt(Callback):
    """Blows the weights up after step ``step``, so the next loss is not finite."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, logs):
        if logs["step"] == self.step:
            trainer.model[6].weight.data[...] = np.inf


def test_a_non_finite_loss_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path, [DivergeAt(14)])
    with pytest.warns(UserWarning) as caught:
        history = fit(trainer)
    messages = [str(warning.message) for warning in caught]
    assert re.search(r"non-finite training loss at step 15 \(epoch 2\).*last good checkpoint is .*last\.npz",
                     messages[0])
    assert re.search(r"model\.npz not written: the model's parameters are not finite", messages[1])
    assert trainer.stop_training and trainer.stop_details["name"] == "non_finite_loss"
    assert len(history.batch_loss) == 15 and history.stop_reason == trainer.stop_reason
    assert babysit.History.load_json(tmp_path / "history.json").stop_reason.startswith("non-finite")
    checkpoint = read_checkpoint(tmp_path / "checkpoints" / "last.npz")
    assert checkpoint.step == 12 and np.isfinite(checkpoint.arrays["model/6.weight"]).all()
    assert not (tmp_path / "model.npz").exists()  # not finite: the last good state is the checkpoint


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, logs):
        if logs["step"] == self.step:
            trainer.stop("asked to", {"name": "stop_at"})


def test_a_stopped_run_stays_stopped_when_resumed(tmp_path):
    trainer = make_trainer(tmp_path, [StopAt(12)])
    fit(trainer)
    assert (trainer.step, trainer.epoch, trainer.stop_reason) == (13, 2, "asked to")
    resumed = make_trainer(tmp_path, [StopAt(12)])
    fit(resumed, resume=True)
    assert (resumed.step, resumed.epoch, resumed.stop_reason) == (13, 2, "asked to")
    assert resumed.stop_details == {"name": "stop_at"} and resumed.history.stop_reason == "asked to"


def test_callback_state_survives_a_crash(tmp_path):
    stopper = EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0)  # nothing improves by 10
    crashed = make_trainer(tmp_path, [stopper, CrashAt(12)])
    with pytest.raises(Crash):
        fit(crashed)
    assert stopper.wait == 0 and stopper.best_epoch == 1
    again = EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0)
    resumed = make_trainer(tmp_path, [again])
    with pytest.warns(UserWarning, match=r"different callbacks.*no longer present \['CrashAt'\]"):
        fit(resumed, resume=True)
    assert again.best_epoch == 1 and resumed.epoch == 2  # epoch 2 was the one without improvement
    assert resumed.stop_reason.startswith("early stopping")


# -------------------------------------------------------- a real kill, SIGKILL
def _worker(out_dir, *extra):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), str(HERE.parent)]),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(HERE / "resume_worker.py"), str(out_dir), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(predicate, process, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"worker ended (rc {process.returncode}) or timed out: {process.communicate()}")
        time.sleep(0.002)


def _kill(process):
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def _final_state(out_dir):
    """Every array of the final checkpoint, and the generators' states and counters."""
    checkpoint = read_checkpoint(Path(out_dir) / "checkpoints" / "last.npz")
    state = {name: value.tobytes() for name, value in checkpoint.arrays.items()}
    state["rng"] = checkpoint.metadata["rng"]
    state["counters"] = (checkpoint.epoch, checkpoint.step, checkpoint.metadata["optimizer"]["step_count"])
    return state


def test_sigkilled_training_resumes_to_bit_identical_weights(tmp_path):
    reference = _worker(tmp_path / "reference")
    killed = tmp_path / "killed"
    last = killed / "checkpoints" / "last.npz"

    run = _worker(killed, "--sleep", "0.01")
    _wait_for(last.exists, run)
    _kill(run)  # right after the first checkpoint (step 3 of 20 in epoch 1)
    first = read_checkpoint(last) if last.exists() else read_checkpoint(previous_path(last))
    assert first.metadata["epoch_progress"] is not None, "the kill should land mid-epoch"

    seen = last.stat().st_ino  # each checkpoint is a new file renamed into place
    run = _worker(killed, "--resume", "--sleep", "0.01")
    _wait_for(lambda: last.exists() and last.stat().st_ino != seen, run)
    time.sleep(0.05)
    _kill(run)  # again, at whatever instant the run is in

    run = _worker(killed, "--resume")
    assert run.wait(timeout=60) == 0, run.communicate()
    assert reference.wait(timeout=60) == 0, reference.communicate()
    assert not [p.name for p in last.parent.iterdir() if p.name.startswith(".")]  # no half-written leftovers
    resumed, uninterrupted = _final_state(killed), _final_state(tmp_path / "reference")
    assert resumed.keys() == uninterrupted.keys()
    assert [name for name in resumed if resumed[name] != uninterrupted[name]] == []
    for path in (killed, tmp_path / "reference"):
        assert babysit.load(path / "model.npz").num_parameters() == 12 * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4
    model_a, model_b = babysit.load(killed / "model.npz"), babysit.load(tmp_path / "reference" / "model.npz")
    for (name, p), (_, q) in zip(model_a.named_parameters(), model_b.named_parameters(), strict=True):
        assert p.data.tobytes() == q.data.tobytes(), name
