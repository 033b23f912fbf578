"""Live monitors: each statistic against a hand computation, and each diagnosis on a real run
that has the problem (with a healthy control that must not be flagged). The Babysitter's files
and state are in test_babysitter.py."""

import itertools
import json
from types import SimpleNamespace

import numpy as np
import pytest

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.demo import mnist1d_mlp
from babysit.diagnostics.findings import Finding
from babysit.diagnostics.monitors import ActivationMonitor, Babysitter, LossMonitor
from babysit.train import Trainer
from babysit.train.callbacks.base import Callback
from babysit.train.callbacks.explosion_guard import ExplosionGuard
from babysit.train.history import History


def blobs(n=600, dim=20, classes=4, seed=0):
    """Gaussian clusters, standardized features: an easy problem with loss ln(C) at init."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, dim)) * 1.5
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.standard_normal((n, dim))
    x = (x - x.mean(0)) / x.std(0)
    return x.astype(np.float32), y


def mlp(sizes, activation=nn.ReLU, seed=0, init="he"):
    rng = np.random.default_rng(seed)
    layers = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out, init=init, rng=rng))
        if index < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def train(model, optimizer, data, *, epochs=3, batch_size=50, callbacks=(), every=5, val=None, **kwargs):
    sitter = Babysitter(every, **kwargs)
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optimizer, batch_size=batch_size, rng=0, verbose=False,
                      callbacks=[sitter, *callbacks])
    trainer.fit(data, val=val, epochs=epochs)
    return sitter, trainer


def one_forward(monitor, model, x, step=0):
    """Drive a monitor through one sampled forward pass, as the Trainer would."""
    trainer = SimpleNamespace(model=model)
    monitor.on_train_begin(trainer, {})
    monitor.on_batch_begin(trainer, {"step": step, "batch": 0})
    model(x)
    monitor.on_batch_end(trainer, {"step": step, "batch": 0, "loss": 0.0, "lr": 0.0})


class Snapshot(Callback):
    """Copies of the weights before each step and of the gradients after it."""

    def __init__(self):
        self.before, self.grads = [], []

    def on_batch_begin(self, trainer, logs):
        self.before.append({name: p.data.copy() for name, p in trainer.model.named_parameters()})

    def on_batch_end(self, trainer, logs):
        self.grads.append({name: p.grad.copy() for name, p in trainer.model.named_parameters()})


# ---------------------------------------------------------------- statistics by hand
def test_update_ratio_is_norm_of_the_update_over_norm_of_the_weights():
    x, y = blobs(40)
    model = mlp([20, 8, 4])
    snapshot = Snapshot()
    sitter, _ = train(model, optim.SGD(model.parameters(), lr=0.1), (x, y), epochs=1, batch_size=40, every=1,
                      callbacks=[snapshot])
    records = sitter.monitors["update_ratio"].records
    for name in ("0.weight", "2.weight"):
        before, grad = snapshot.before[0][name], snapshot.grads[0][name]
        expected = 0.1 * np.linalg.norm(grad) / np.linalg.norm(before)  # plain SGD: update = -lr * grad
        (step, ratio), = records[name]
        assert step == 0
        assert ratio == pytest.approx(expected, rel=1e-5)
    assert "0.bias" not in records  # biases start at 0: the ratio is undefined at step 0


def test_gradient_statistics_match_numpy():
    x, y = blobs(100)
    model = mlp([20, 16, 4])
    snapshot = Snapshot()
    sitter, _ = train(model, optim.Adam(model.parameters(), lr=1e-3), (x, y), epochs=1, every=1,
                      callbacks=[snapshot])
    records = sitter.monitors["gradients"].records
    for step, grads in enumerate(snapshot.grads):
        for name, grad in grads.items():
            assert records[name]["steps"][step] == step
            assert records[name]["norm"][step] == pytest.approx(np.linalg.norm(grad), rel=1e-4)
            assert records[name]["mean"][step] == pytest.approx(grad.mean(), rel=1e-3, abs=1e-9)
            assert records[name]["std"][step] == pytest.approx(grad.std(), rel=1e-3)


def test_monitors_sample_every_k_steps():
    x, y = blobs(500)
    model = mlp([20, 16, 4])
    sitter, trainer = train(model, optim.Adam(model.parameters(), lr=1e-3), (x, y), epochs=1, every=3)
    assert trainer.step == 10
    assert [step for step, _ in sitter.monitors["update_ratio"].records["0.weight"]] == [0, 3, 6, 9]
    assert sitter.monitors["gradients"].records["0.weight"]["steps"] == [0, 3, 6, 9]
    assert sitter.monitors["activations"].records["1"]["steps"] == [0, 3, 6, 9]
    assert not model[1].__dict__["_forward_hooks"]  # hooks are attached on sampled steps only, then removed


def test_dead_fraction_counts_units_never_positive_on_the_batch():
    monitor = ActivationMonitor(every=1)
    x = -np.ones((5, 4), dtype=np.float32)
    x[2, 1] = 0.5  # unit 1 is active on one example: alive
    x[:, 3] = 1.0
    one_forward(monitor, nn.Sequential(nn.ReLU()), x)
    assert monitor.records["0"]["dead_fraction"] == [0.5]  # units 0 and 2 never positive


def test_a_conv_channel_is_dead_only_if_never_positive_anywhere():
    monitor = ActivationMonitor(every=1)
    x = -np.ones((3, 2, 7), dtype=np.float32)
    x[1, 1, 6] = 2.0  # channel 1 is positive at one position of one example
    one_forward(monitor, nn.Sequential(nn.LeakyReLU()), x)
    assert monitor.records["0"]["dead_fraction"] == [0.5]


def test_the_dead_verdict_spares_units_active_on_some_recent_batch():
    monitor = ActivationMonitor(every=1, recent=3)
    model = nn.Sequential(nn.ReLU())
    batches = -np.ones((3, 4, 2), dtype=np.float32)
    batches[1, 0, 0] = 1.0  # unit 0 fires once, on the second batch; unit 1 never does
    trainer = SimpleNamespace(model=model)
    monitor.on_train_begin(trainer, {})
    for step, x in enumerate(batches):
        monitor.on_batch_begin(trainer, {"step": step})
        model(x)
        monitor.on_batch_end(trainer, {"step": step})
    assert monitor.records["0"]["dead_fraction"] == [1.0, 0.5, 1.0]  # per batch, for the plots
    (finding,) = monitor.findings()
    assert finding.data["final"] == {"0": 0.5}  # only unit 1 is dead


def test_histogram_samples_of_large_outputs_visit_every_unit():
    monitor = ActivationMonitor(every=1)
    out = np.zeros((100, 100), dtype=np.float32)
    out[:, 99] = 10.0  # only the last unit is active; a stride of 4 (10000 // 2048) would never see it
    one_forward(monitor, nn.Sequential(nn.ReLU()), out)
    (counts,) = monitor.records["0"]["histogram"]["counts"]
    assert 1000 < sum(counts) < out.size  # a sample, not every value
    assert counts[-7] == pytest.approx(sum(counts) / 100, rel=0.05)  # 10 / 15 of the range: one value in 100


def test_saturation_counts_outputs_within_eps_of_the_asymptotes():
    x = np.array([[-10.0, 0.0, 10.0, 4.0]], dtype=np.float32)  # sigmoid(4) = 0.982, tanh(4) = 0.99933
    for eps, sigmoid_expected, tanh_expected in ((0.01, 0.5, 0.75), (0.02, 0.75, 0.75), (1e-4, 0.5, 0.5)):
        sigmoid, tanh = ActivationMonitor(saturation_eps=eps), ActivationMonitor(saturation_eps=eps)
        one_forward(sigmoid, nn.Sequential(nn.Sigmoid()), x)
        one_forward(tanh, nn.Sequential(nn.Tanh()), x)
        assert sigmoid.records["0"]["saturated_fraction"] == [sigmoid_expected]
        assert tanh.records["0"]["saturated_fraction"] == [tanh_expected]


def test_histograms_keep_their_first_edges_and_count_every_value():
    monitor = ActivationMonitor(every=1, bins=4)
    model = nn.Sequential(nn.ReLU(), nn.Tanh())
    one_forward(monitor, model, np.array([[0.0, 1.0, 2.0, 4.0]], dtype=np.float32), step=0)
    monitor.on_batch_begin(None, {"step": 1})
    out = model(np.array([[100.0, -3.0, 0.5, 0.5, 0.5]], dtype=np.float32))
    monitor.on_batch_end(None, {"step": 1})
    relu, tanh = monitor.records["0"], monitor.records["1"]
    assert relu["histogram"]["edges"] == pytest.approx([0, 1.5, 3, 4.5, 6])  # [0, 1.5 * max] of the first batch
    assert relu["histogram"]["counts"] == [[2, 1, 1, 0], [4, 0, 0, 1]]  # 100 lands in the last bin
    assert tanh["histogram"]["edges"] == pytest.approx([-1, -0.5, 0, 0.5, 1])
    # tanh of the ReLU's outputs: [0, .76, .96, .999], then [1, 0, .46, .46, .46]
    assert tanh["histogram"]["counts"] == [[0, 0, 1, 3], [0, 0, 4, 1]]
    assert relu["mean"][1] == pytest.approx(np.maximum([100.0, -3.0, 0.5, 0.5, 0.5], 0).mean())
    assert relu["std"][1] == pytest.approx(np.maximum([100.0, -3.0, 0.5, 0.5, 0.5], 0).std(), rel=1e-5)
    assert np.isfinite(out).all()


def test_monitors_survive_non_finite_values():
    monitor = ActivationMonitor(every=1)
    one_forward(monitor, nn.Sequential(nn.ReLU()), np.array([[np.inf, np.nan, 1.0]], dtype=np.float32))
    record = monitor.records["0"]
    assert not np.isfinite(record["mean"][0])
    assert record["histogram"]["counts"] == [[0] * 20]
    json.dumps(monitor.to_dict(), allow_nan=False)  # NaN is written as null


# ---------------------------------------------------------------- diagnoses on real runs
def by_name(sitter, name) -> Finding:
    return sitter.report[name]


def test_deep_sigmoid_net_has_vanishing_gradients_and_a_relu_net_does_not():
    x, y = blobs()
    sigmoid = mlp([20] + [32] * 8 + [4], activation=nn.Sigmoid, init="xavier")
    sitter, _ = train(sigmoid, optim.SGD(sigmoid.parameters(), lr=0.1), (x, y))
    finding = by_name(sitter, "gradient_flow")
    std = finding.data["std"]
    assert finding.status in ("warn", "fail")
    assert std["0.weight"] < 1e-2 * std["16.weight"]
    assert finding.data["first_to_last"] < 1e-2
    assert "vanishing" in finding.advice and "0.weight" in finding.advice

    relu = mlp([20] + [32] * 8 + [4])
    sitter, _ = train(relu, optim.SGD(relu.parameters(), lr=0.01, momentum=0.9), (x, y))
    assert by_name(sitter, "gradient_flow").status == "ok"


def test_a_tiny_learning_rate_is_too_low():
    data = mnist1d()
    model = mnist1d_mlp(0)
    sitter, _ = train(model, optim.Adam(model.parameters(), lr=1e-6), (data.x_train, data.y_train), batch_size=100,
                      every=10)
    ratio, progress = by_name(sitter, "update_ratio"), by_name(sitter, "loss_progress")
    assert ratio.status == "fail"
    assert ratio.data["too_low"] == ["0.weight", "2.weight", "4.weight"]
    assert max(ratio.data["median"].values()) < 1e-4
    assert "too low" in ratio.advice
    assert progress.status == "warn" and progress.data["verdict"] == "too_low"
    assert "barely moving" in progress.measured
    assert "too low" in progress.advice and "is below the 1e-03 target" in progress.advice

    model = mnist1d_mlp(0)
    sitter, _ = train(model, optim.Adam(model.parameters(), lr=1e-3), (data.x_train, data.y_train), batch_size=100,
                      every=10)
    assert by_name(sitter, "update_ratio").status == "ok"
    assert by_name(sitter, "loss_progress").status == "ok"


def test_the_shrinking_updates_of_a_converged_run_are_not_a_low_learning_rate():
    x, y = blobs()
    model = scaled_deep_relu(1.0)
    sitter, _ = train(model, optim.SGD(model.parameters(), lr=0.01, momentum=0.9), (x, y), epochs=20)
    ratios = [ratio for _, ratio in sitter.monitors["update_ratio"].records["0.weight"]]
    assert ratios[-1] < ratios[0] / 50  # the loss is near 0, so are the gradients
    assert by_name(sitter, "update_ratio").status == "ok"  # judged on the learning phase


def test_a_huge_learning_rate_is_too_high():
    x, y = blobs()
    model = mlp([20, 64, 4])
    with pytest.warns(UserWarning, match="non-finite training loss"):  # the Trainer stops the run cleanly
        sitter, _ = train(model, optim.SGD(model.parameters(), lr=50.0), (x, y))
    progress = by_name(sitter, "loss_progress")
    assert progress.status == "fail" and progress.data["verdict"] == "too_high"
    assert "too high" in progress.advice


def test_the_explosion_guards_stop_reason_reads_as_too_high():
    x, y = blobs()
    model = mlp([20, 64, 4])
    sitter, trainer = train(model, optim.SGD(model.parameters(), lr=5.0), (x, y), callbacks=[ExplosionGuard()])
    assert trainer.stop_reason.startswith("explosion guard")
    progress = by_name(sitter, "loss_progress")
    assert progress.status == "fail" and progress.data["verdict"] == "too_high"
    assert "explosion guard" in progress.measured


def test_relus_killed_by_a_large_negative_bias_are_dead_and_named():
    x, y = blobs()
    model = mlp([20, 64, 64, 4])
    model[2].bias.data[:] = -100.0
    sitter, _ = train(model, optim.Adam(model.parameters(), lr=1e-3), (x, y))
    dead = by_name(sitter, "dead_relu")
    assert dead.status == "fail"
    assert dead.data["bad_layers"] == ["3"] and dead.data["final"]["3"] == 1.0
    assert "layer '3' (ReLU)" in dead.advice and "bias" in dead.advice
    assert by_name(sitter, "update_ratio").data["unchanged"] == ["0.weight", "2.weight", "4.weight"]
    assert by_name(sitter, "gradient_flow").status == "fail"
    assert "no gradient reaches them" in by_name(sitter, "loss_progress").advice

    healthy = mlp([20, 64, 64, 4])
    sitter, _ = train(healthy, optim.Adam(healthy.parameters(), lr=1e-3), (x, y))
    assert by_name(sitter, "dead_relu").status == "ok"


def test_tanh_units_driven_by_huge_weights_are_saturated_and_named():
    x, y = blobs()
    model = mlp([20, 64, 64, 4], activation=nn.Tanh, init="xavier")
    model[2].weight.data *= 10
    sitter, _ = train(model, optim.SGD(model.parameters(), lr=1e-2), (x, y))
    saturation = by_name(sitter, "saturation")
    assert saturation.status == "fail"
    assert saturation.data["bad_layers"] == ["3"]
    assert "layer '3' (Tanh)" in saturation.advice

    healthy = mlp([20, 64, 64, 4], activation=nn.Tanh, init="xavier")
    sitter, _ = train(healthy, optim.SGD(healthy.parameters(), lr=1e-2), (x, y))
    assert by_name(sitter, "saturation").status == "ok"


def scaled_deep_relu(scale):
    model = mlp([20] + [64] * 5 + [4])
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.weight.data *= scale
    return model


def test_a_plateau_at_the_start_is_a_bad_init():
    x, y = blobs()
    model = scaled_deep_relu(0.25)  # weights 4x too small: the signal vanishes at first
    sitter, _ = train(model, optim.SGD(model.parameters(), lr=0.05, momentum=0.9), (x, y), epochs=20)
    plateau = by_name(sitter, "loss_plateau_start")
    assert plateau.status == "warn"
    assert "initialization" in plateau.advice
    assert by_name(sitter, "loss_progress").status == "ok"  # it did learn in the end

    model = scaled_deep_relu(1.0)
    sitter, _ = train(model, optim.SGD(model.parameters(), lr=0.002, momentum=0.9), (x, y), epochs=20)
    assert by_name(sitter, "loss_plateau_start").status == "ok"


def test_a_loss_that_never_leaves_chance_is_stuck_not_a_plateau():
    x, y = blobs()
    model = scaled_deep_relu(0.1)
    sitter, _ = train(model, optim.SGD(model.parameters(), lr=0.01, momentum=0.9), (x, y), epochs=5)
    assert by_name(sitter, "loss_progress").data["verdict"] == "too_low"
    assert by_name(sitter, "loss_plateau_start").status == "ok"


# ---------------------------------------------------------------- the loss verdicts on given curves
def loss_findings(batch_loss, stop_reason=None, update_ratio=None):
    monitor = LossMonitor()
    monitor.num_classes = 10  # as read off the scores of the first batch: chance is ln(10)
    history = History(batch_loss=list(batch_loss), epochs=[{"epoch": 1}])
    trainer = SimpleNamespace(history=history, stop_reason=stop_reason, loss=nn.SoftmaxCrossEntropy())
    progress, plateau = monitor.findings(trainer, update_ratio=update_ratio)
    return progress, plateau


def test_loss_verdicts_on_given_curves():
    falling = np.linspace(2.3, 0.5, 100)
    assert loss_findings(falling)[0].status == "ok"
    progress = loss_findings(np.linspace(1.0, 1.5, 100))[0]
    assert progress.status == "fail" and "rising" in progress.measured
    progress = loss_findings([*falling[:50], np.nan])[0]
    assert progress.status == "fail" and "nan at step 50" in progress.measured
    spike = falling.copy()
    spike[10] = 40.0
    progress = loss_findings(spike)[0]
    assert progress.status == "warn" and "recovered" in progress.measured and "edge" in progress.advice
    progress = loss_findings(falling, stop_reason="non-finite training loss at step 7")[0]
    assert progress.status == "fail"
    assert loss_findings(falling, stop_reason="early stopping: val_loss did not improve")[0].status == "ok"
    progress = loss_findings(np.full(100, 2.3))[0]
    assert progress.status == "warn" and "too low" in progress.advice
    # the update/weight ratio tells a too-low learning rate from a loss stuck for another reason
    assert "too low" in loss_findings(np.full(100, 2.3), update_ratio=1e-6)[0].advice
    assert "not the learning rate" in loss_findings(np.full(100, 2.3), update_ratio=2e-3)[0].advice
    assert "no gradient reaches them" in loss_findings(np.full(100, 2.3), update_ratio=0.0)[0].advice


def test_a_plateau_needs_a_flat_start_near_chance_and_a_later_drop():
    plateau = np.concatenate([np.full(30, np.log(10)), np.linspace(np.log(10), 0.2, 70)])
    assert loss_findings(plateau)[1].status == "warn"
    assert loss_findings(np.linspace(np.log(10), 0.2, 100))[1].status == "ok"  # falls from the start
    assert loss_findings(np.concatenate([np.full(30, 0.5), np.linspace(0.5, 0.1, 70)]))[1].status == "ok"  # low
