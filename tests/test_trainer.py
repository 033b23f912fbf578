"""The Trainer: it learns, it is reproducible bit for bit, and it rejects bad data clearly."""

import re

import numpy as np
import pytest

from babysit import nn, optim, schedules
from babysit.data import mnist1d
from babysit.demo import mnist1d_mlp, run_demo
from babysit.errors import InputError
from babysit.train import History, Trainer


def blobs(seed=0, n=300):
    centers = np.random.default_rng(123).standard_normal((3, 5)) * 3  # the same classes in every split
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.standard_normal((n, 5))).astype(np.float32), y


def small_trainer(seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(5, 16, rng=rng), nn.ReLU(), nn.Linear(16, 3, rng=rng))
    return Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                   batch_size=32, rng=rng, verbose=False, **kwargs)


def test_fit_learns_and_records_history():
    trainer = small_trainer()
    history = trainer.fit(blobs(0), val=blobs(1), epochs=5)
    assert len(history.epochs) == 5 and len(history.batch_loss) == 5 * 10
    assert history.epochs[-1]["loss"] < history.epochs[0]["loss"]
    assert history.metric("val_accuracy")[-1] > 0.9
    assert trainer.evaluate(*blobs(2))["accuracy"] > 0.9


def test_same_seed_gives_bit_identical_weights():
    first, second = small_trainer(7), small_trainer(7)
    first.fit(blobs(0), epochs=2)
    second.fit(blobs(0), epochs=2)
    for (name, p), (_, q) in zip(first.model.named_parameters(), second.model.named_parameters(), strict=True):
        assert p.data.tobytes() == q.data.tobytes(), name
    third = small_trainer(8)
    third.fit(blobs(0), epochs=2)
    assert third.model[0].weight.data.tobytes() != first.model[0].weight.data.tobytes()


def test_schedule_sets_the_learning_rate_per_batch():
    trainer = small_trainer(schedule=schedules.step_decay(0.1, step_size=10, gamma=0.5))
    trainer.fit(blobs(0), epochs=2)  # 20 steps: the last used step 19 -> 0.05
    assert trainer.history.epochs[-1]["lr"] == pytest.approx(0.05)


def test_penalty_is_part_of_the_loss():
    plain, regularized = small_trainer(0), small_trainer(0, penalties=[nn.L2Penalty(1.0)])
    x, y = blobs(0)
    assert regularized.train_step(x[:32], y[:32])[0] > plain.train_step(x[:32], y[:32])[0]


@pytest.mark.parametrize(
    ("train", "pattern"),
    [
        ((np.zeros((10, 5), np.float32), np.zeros(9, int)), "x has 10 examples but y has 9"),
        ((np.full((10, 5), np.nan, np.float32), np.zeros(10, int)), "NaN or infinite"),
        (np.zeros((10, 5)), "pair"),
        ((np.array([["a"] * 5] * 10), np.zeros(10, int)), "numeric"),
    ],
)
def test_bad_training_data_is_named(train, pattern):
    with pytest.raises(InputError, match=pattern):
        small_trainer().fit(train, epochs=1)


def test_predict_batches_and_restores_mode():
    trainer = small_trainer()
    x, _ = blobs(0)
    scores = trainer.predict(x, batch_size=7)
    assert scores.shape == (300, 3) and trainer.model.training
    np.testing.assert_allclose(scores, trainer.model(x), rtol=1e-6)


def test_history_round_trips_json_and_csv(tmp_path):
    history = small_trainer().fit(blobs(0), epochs=2)
    history.save_json(tmp_path / "h.json")
    assert History.load_json(tmp_path / "h.json").to_dict() == history.to_dict()
    history.save_csv(tmp_path / "h.csv")
    assert (tmp_path / "h.csv").read_text().splitlines()[0].startswith("epoch,loss,train_accuracy")
    assert history.best("loss", mode="min")["loss"] == min(history.metric("loss"))


def test_data_float64_is_cast_to_the_model_dtype():
    trainer = small_trainer()
    x, y = blobs(0)
    trainer.fit((x.astype(np.float64), y), epochs=1)
    assert trainer.model[0].weight.dtype == np.float32


@pytest.mark.slow
def test_demo_reaches_the_published_mlp_baseline():
    """The README's `babysit demo`: the MNIST-1D MLP must reach >= 65% test accuracy (paper: 68%)."""
    result = run_demo(verbose=False)
    assert result["test_accuracy"] >= 0.65


def test_demo_model_is_the_published_architecture():
    model = mnist1d_mlp(0)
    assert [layer.short_repr() for layer in model] == [
        "Linear(40 -> 100)", "ReLU()", "Linear(100 -> 100)", "ReLU()", "Linear(100 -> 10)"]
    assert mnist1d().x_train.shape == (4000, 40)


def test_callbacks_see_every_hook_and_can_stop_training():
    from babysit.train.callbacks import Callback

    class Recorder(Callback):
        def __init__(self):
            self.calls = []

        def on_train_begin(self, trainer, logs):
            self.calls.append(("train_begin", logs["epochs"]))

        def on_batch_end(self, trainer, logs):
            self.calls.append(("batch_end", logs["step"]))
            if logs["step"] == 12:
                trainer.stop_training = True

        def on_epoch_end(self, trainer, logs):
            self.calls.append(("epoch_end", logs["epoch"]))

        def on_train_end(self, trainer, logs):
            self.calls.append(("train_end", logs["stopped_early"]))

    recorder = Recorder()
    trainer = small_trainer(callbacks=[recorder])
    trainer.fit(blobs(0), epochs=5)
    assert recorder.calls[0] == ("train_begin", 5)
    assert ("epoch_end", 1) in recorder.calls and ("epoch_end", 3) not in recorder.calls
    assert recorder.calls[-1] == ("train_end", True)
    assert trainer.step == 13 and len(trainer.history.epochs) == 2


def test_epoch_line_is_the_lectures():
    from babysit.train.trainer import format_epoch_line

    row = {"epoch": 3, "loss": 1.942, "train_accuracy": 0.376, "val_loss": 2.0, "val_accuracy": 0.352, "lr": 3e-3}
    assert format_epoch_line(row, 10) == "epoch 3/10  loss 1.942  train 0.376  val 0.352  lr 3.0e-03"
    regression = {"epoch": 1, "loss": 0.5, "train_accuracy": None, "val_loss": 0.25, "val_accuracy": None, "lr": 0.1}
    assert format_epoch_line(regression, 2) == "epoch 1/2  loss 0.500  val_loss 0.250  lr 1.0e-01"


def test_verbose_fit_prints_one_line_per_epoch(capsys):
    trainer = small_trainer()
    trainer.verbose = True
    trainer.fit(blobs(0), val=blobs(1), epochs=2)
    lines = capsys.readouterr().err.splitlines()  # not a terminal here: no progress bar, only the lines
    pattern = r"epoch {}/2  loss \d\.\d{{3}}  train \d\.\d{{3}}  val \d\.\d{{3}}  lr 5\.0e-02"
    assert len(lines) == 2 and all(re.fullmatch(pattern.format(i + 1), line) for i, line in enumerate(lines))


def test_schedule_per_epoch_uses_the_epoch_index():
    trainer = small_trainer(schedule=schedules.step_decay(0.1, step_size=1, gamma=0.5), schedule_per="epoch")
    history = trainer.fit(blobs(0), epochs=3)
    assert history.metric("lr") == pytest.approx([0.1, 0.05, 0.025])


def test_a_non_finite_loss_stops_training_cleanly():
    trainer = small_trainer()
    trainer.optimizer.param_groups[0]["lr"] = 100.0  # diverges within a few steps
    with pytest.warns(UserWarning, match="training stopped: non-finite training loss at step"):
        history = trainer.fit(blobs(0), val=blobs(1), epochs=5)
    assert trainer.stop_training and trainer.stop_reason.startswith("non-finite training loss")
    assert trainer.stop_details["status"] == "fail" and history.stop_reason == trainer.stop_reason
    assert len(history.batch_loss) == trainer.step and all(np.isfinite(history.batch_loss))
    assert history.epochs[-1]["val_loss"] is None  # no validation of a diverged model


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"checkpoint_every": 0}, "checkpoint_every must be a positive int or None"),
    ({"schedule_per": "step"}, "schedule_per must be 'batch' or 'epoch'"),
    ({"batch_size": 0}, "batch_size must be a positive int"),
])
def test_bad_trainer_arguments_are_named(kwargs, pattern):
    model = nn.Linear(5, 3, rng=0)
    arguments = {"batch_size": 32, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), **arguments)


def test_epochs_must_be_a_count():
    with pytest.raises(ValueError, match=r"epochs must be an int >= 0, got 2\.5"):
        small_trainer().fit(blobs(0), epochs=2.5)


def test_schedule_keeps_the_ratio_between_parameter_groups():
    """Fine-tuning: the pretrained body at a tenth of the head's rate, under a decaying schedule."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(5, 16, rng=rng), nn.ReLU(), nn.Linear(16, 3, rng=rng))
    optimizer = optim.SGD([{"params": model[2].parameters(), "lr": 0.1},
                           {"params": model[0].parameters(), "lr": 0.01}], lr=0.1)
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optimizer, schedule=schedules.step_decay(0.1, 5, 0.5),
                      batch_size=32, rng=rng, verbose=False)
    trainer.fit(blobs(0), epochs=1)  # 10 steps: the last used step 9 -> 0.05
    head, body = (group["lr"] for group in optimizer.param_groups)
    assert head == pytest.approx(0.05) and body == pytest.approx(0.005)
