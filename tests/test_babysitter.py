"""The Babysitter: its files (monitors.json, findings.json), its state across a resume, its live
messages, and its settings."""

import json

import numpy as np
import pytest

from babysit import nn, optim
from babysit.diagnostics.findings import Finding
from babysit.diagnostics.monitors import (
    LIVE_FINDINGS,
    ActivationMonitor,
    Babysitter,
    GradientMonitor,
    LossMonitor,
    UpdateRatioMonitor,
)
from babysit.train import Trainer
from tests.test_monitors import blobs, by_name, mlp, train


def test_babysitter_writes_strict_json_and_keeps_preflight_findings(tmp_path):
    preflight = {"findings": [Finding("initial_loss", "ok", "2.30", "about 2.303").to_dict()]}
    (tmp_path / "findings.json").write_text(json.dumps(preflight))
    x, y = blobs()
    for epochs, resume in ((2, False), (3, True)):  # the resumed run replaces the live findings, not repeats them
        model = mlp([20, 32, 4])
        sitter = Babysitter(every=5)
        trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=1e-3), batch_size=50,
                          rng=0, verbose=False, callbacks=[sitter], out_dir=tmp_path)
        trainer.fit((x[:500], y[:500]), val=(x[500:], y[500:]), epochs=epochs, resume=resume)

    def strict(text):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))

    names = [row["name"] for row in strict((tmp_path / "findings.json").read_text())["findings"]]
    assert names[0] == "initial_loss"
    assert sorted(names[1:]) == sorted(f.name for f in sitter.findings)
    assert set(names[1:]) <= set(LIVE_FINDINGS)
    monitors = strict((tmp_path / "monitors.json").read_text())
    assert monitors["every"] == 5
    assert set(monitors["update_ratio"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert monitors["update_ratio"]["0.weight"][0][0] == 0
    assert set(monitors["activations"]) == {"1"}
    layer = monitors["activations"]["1"]
    assert len(layer["steps"]) == len(layer["mean"]) == len(layer["dead_fraction"]) == len(
        layer["histogram"]["counts"])
    assert len(layer["histogram"]["edges"]) == 21
    assert set(monitors["gradients"]["2.weight"]) == {"steps", "norm", "mean", "std"}
    assert monitors["loss"] == {"num_classes": 4, "steps_first_epoch": 10}  # read off the run itself

    from babysit.report.rundata import load_run

    run = load_run(tmp_path)
    assert not run.notes
    assert set(run.update_ratio) == set(monitors["update_ratio"]) and "1" in run.activations


def test_babysitter_without_a_run_directory_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = blobs(100)
    model = mlp([20, 8, 4])
    sitter, _ = train(model, optim.Adam(model.parameters(), lr=1e-3), (x, y), epochs=1)
    assert sitter.findings and not list(tmp_path.iterdir())


def test_babysitter_state_survives_a_checkpoint_round_trip():
    x, y = blobs(200)
    model = mlp([20, 8, 4])
    sitter, _ = train(model, optim.Adam(model.parameters(), lr=1e-3), (x, y), epochs=2)
    state = sitter.state_dict()
    fresh = Babysitter(every=5)
    fresh.load_state_dict(state)
    assert fresh.to_dict() == sitter.to_dict()
    assert isinstance(state["update_ratio"]["records"]["0.weight"], np.ndarray)  # arrays go to the npz


def test_resumed_run_keeps_the_samples_from_before_the_interruption(tmp_path):
    x, y = blobs(200)

    def run(epochs, resume):
        model = mlp([20, 8, 4])
        sitter = Babysitter(every=2)
        trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=1e-3), batch_size=50,
                          rng=0, verbose=False, callbacks=[sitter], out_dir=tmp_path)
        trainer.fit((x, y), epochs=epochs, resume=resume)
        return sitter

    run(2, False)
    sitter = run(4, True)
    assert sitter.monitors["gradients"].records["0.weight"]["steps"] == list(range(0, 16, 2))
    saved = json.loads((tmp_path / "monitors.json").read_text())
    assert [step for step, _ in saved["update_ratio"]["0.weight"]] == list(range(0, 16, 2))


def test_verbose_babysitter_announces_a_problem_once(capsys):
    x, y = blobs()
    model = mlp([20, 64, 64, 4])
    model[2].bias.data[:] = -100.0
    train(model, optim.Adam(model.parameters(), lr=1e-3), (x, y), verbose=True)
    err = capsys.readouterr().err
    assert err.count("epoch 1: [FAIL] dead_relu") == 1
    assert "epoch 2: [FAIL] dead_relu" not in err
    assert "failed" in err.splitlines()[-1]  # the full report at the end


def test_monitors_can_be_replaced_or_turned_off():
    x, y = blobs(200)
    model = mlp([20, 8, 4])
    strict = UpdateRatioMonitor(every=5, target=1.0, warn_factor=2, fail_factor=2)
    sitter, _ = train(model, optim.Adam(model.parameters(), lr=1e-3), (x, y), update_ratio=strict,
                      activations=False, gradients=False)
    assert set(sitter.monitors) == {"update_ratio", "loss"}
    assert by_name(sitter, "update_ratio").status == "fail"
    assert "dead_relu" not in sitter.report and "gradient_flow" not in sitter.report
    model = mlp([20, 8, 4])
    sitter, _ = train(model, optim.Adam(model.parameters(), lr=1e-3), (x, y), epochs=1, every=3,
                      gradients=GradientMonitor(every=2))  # each monitor keeps its own period
    assert sitter.monitors["gradients"].records["0.weight"]["steps"] == [0, 2]
    assert [step for step, _ in sitter.monitors["update_ratio"].records["0.weight"]] == [0, 3]
    with pytest.raises(TypeError, match="activations must be a ActivationMonitor"):
        Babysitter(activations=GradientMonitor())


@pytest.mark.parametrize("make, message", [
    (lambda: Babysitter(every=0), "every must be a positive int"),
    (lambda: Babysitter(good_accuracy=1.5), "good_accuracy"),
    (lambda: UpdateRatioMonitor(warn_factor=0.5), "warn_factor"),
    (lambda: UpdateRatioMonitor(early=0), "early"),
    (lambda: ActivationMonitor(bins=1), "bins"),
    (lambda: ActivationMonitor(saturation_eps=0.7), "saturation_eps"),
    (lambda: ActivationMonitor(dead_warn=0.6, dead_fail=0.5), "dead_warn"),
    (lambda: GradientMonitor(vanish_warn=2.0), "vanish"),
    (lambda: LossMonitor(flat=0), "flat"),
])
def test_bad_settings_are_refused_with_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()
