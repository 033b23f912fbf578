"""The `babysit` command end to end (click's CliRunner): train, resume, check, lr-find, report, demo."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import babysit
from babysit.cli import main
from babysit.config import ConfigError, read_yaml
from babysit.config.run import train
from tests.test_data_formats import _cifar_batches, write_cifar_binary

ROOT = Path(__file__).resolve().parents[1]
SPIRALS = """\
seed: 0
data: {name: spirals, n_train: 90, n_test: 60, val_size: 0.2}
model:
  - {type: Linear, out_features: 32}
  - ReLU
  - {type: Linear, out_features: 3}
optimizer: {type: adam, lr: 1.0e-2}
epochs: 3
batch_size: 16
checks: [initial_loss, gradient_check, learning_rate]
callbacks:
  - {type: ModelCheckpoint, monitor: val_accuracy}
"""
#: MNIST-1D diverges well inside the range test's rates, so a rate of 100 fails the learning_rate check.
HOT = """\
seed: 0
data: {name: mnist1d}
model: [{type: Linear, out_features: 32}, ReLU, {type: Linear, out_features: 10}]
optimizer: {type: adam, lr: 100}
epochs: 1
batch_size: 100
checks: [learning_rate]
"""


def write(tmp_path, text=SPIRALS, name="spirals.yaml", **changes) -> Path:
    data = yaml.safe_load(text)
    data.update(changes)
    path = tmp_path / name
    path.write_text(text if not changes else yaml.safe_dump(data, sort_keys=False))
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def test_train_writes_a_complete_run_directory(tmp_path):
    config, out = write(tmp_path), tmp_path / "run"
    result = invoke("train", config, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    accuracy = float(result.stdout.split("test accuracy: ")[1].split()[0])
    assert 0 <= accuracy <= 1 and f"report: {out / 'report' / 'index.html'}" in result.stdout
    model = babysit.load(out / "model.npz")
    assert [layer.short_repr() for layer in model] == ["Linear(2 -> 32)", "ReLU()", "Linear(32 -> 3)"]
    assert (out / "config.yaml").read_text() == config.read_text()
    names = [row["name"] for row in json.loads((out / "findings.json").read_text())["findings"]]
    assert names[:3] == ["initial_loss", "gradient_check", "learning_rate"]  # pre-flight first
    assert "update_ratio" in names and "overfitting" in names  # then the Babysitter's
    assert len(json.loads((out / "history.json").read_text())["epochs"]) == 3
    assert json.loads((out / "results.json").read_text())["test_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert json.loads((out / "lr_find.json").read_text())["lrs"]
    assert (out / "checkpoints" / "best.npz").is_file() and (out / "report" / "index.html").is_file()


def test_train_refuses_to_overwrite_an_earlier_run_unless_asked(tmp_path):
    config, out = write(tmp_path, checks=False, babysitter=False), tmp_path / "run"
    assert invoke("train", config, "--out", out, "--quiet").exit_code == 0
    (out / "notes.txt").write_text("mine")
    refused = invoke("train", config, "--out", out, "--quiet")
    assert refused.exit_code == 2 and "holds an earlier run" in refused.output and "--resume" in refused.output
    replaced = invoke("train", config, "--out", out, "--quiet", "--overwrite", "--no-report")
    assert replaced.exit_code == 0 and "report:" not in replaced.stdout
    assert not (out / "report" / "index.html").exists()  # the earlier run's report went with it
    assert (out / "notes.txt").read_text() == "mine"  # only babysit's own files are replaced


def test_resume_continues_to_the_same_weights_as_one_uninterrupted_run(tmp_path):
    short = write(tmp_path, name="short.yaml", epochs=2, checks=False)
    long = write(tmp_path, name="long.yaml", epochs=4, checks=False)
    assert invoke("train", short, "--out", tmp_path / "a", "--quiet", "--no-report").exit_code == 0
    resumed = invoke("train", long, "--out", tmp_path / "a", "--quiet", "--no-report", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert invoke("train", long, "--out", tmp_path / "b", "--quiet", "--no-report").exit_code == 0
    history = json.loads((tmp_path / "a" / "history.json").read_text())
    assert [row["epoch"] for row in history["epochs"]] == [1, 2, 3, 4]
    a, b = babysit.load(tmp_path / "a" / "model.npz"), babysit.load(tmp_path / "b" / "model.npz")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert np.array_equal(x, y), name


def test_train_tells_the_story_on_stderr_and_resume_with_nothing_to_resume_starts_fresh(tmp_path):
    config = write(tmp_path, checks=["initial_loss"], epochs=2)
    with pytest.warns(UserWarning, match="nothing to resume in .* starting a new run"):
        result = invoke("train", config, "--out", tmp_path / "run", "--resume", "--no-report")
    assert result.exit_code == 0, result.output
    story = result.stderr
    assert story.index("model[0] Linear(2 -> 32)") < story.index("pre-flight checks:") < story.index("initial_loss")
    assert story.index("initial_loss") < story.index("epoch 2/2  loss") < story.index("findings after training:")
    assert "train_performance" in story.split("findings after training:")[1]
    assert result.stdout.startswith("test accuracy: ") and "report:" not in result.stdout


def test_resume_with_another_config_is_refused_naming_what_changed(tmp_path):
    config = write(tmp_path, epochs=1, checks=False, babysitter=False)
    assert invoke("train", config, "--out", tmp_path / "run", "--quiet", "--no-report").exit_code == 0
    changed = write(tmp_path, name="changed.yaml", epochs=1, checks=False, babysitter=False,
                    optimizer={"type": "adam", "lr": 0.1})
    result = invoke("train", changed, "--out", tmp_path / "run", "--quiet", "--resume")
    assert result.exit_code == 2 and "optimizer differ from its config.yaml" in result.output


def test_a_config_error_exits_2_naming_the_file_and_the_key(tmp_path):
    config = write(tmp_path, name="bad.yaml", model=[{"type": "Linear", "out_features": 3}, "Relu"])
    result = invoke("train", config, "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert "bad.yaml: model[1].type: unknown layer 'Relu' (did you mean 'ReLU'?); allowed: Linear," in result.output
    assert not (tmp_path / "run").exists()
    missing = invoke("check", tmp_path / "nowhere.yaml")
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_check_passes_on_a_good_config_and_fails_with_exit_1_on_a_rate_that_explodes(tmp_path):
    good = invoke("check", write(tmp_path))
    assert good.exit_code == 0, good.output
    assert "[ok  ] gradient_check" in good.stdout and "[ok  ] learning_rate" in good.stdout
    bad = invoke("check", write(tmp_path, HOT, name="hot.yaml"))
    assert bad.exit_code == 1
    assert "[FAIL] learning_rate" in bad.stdout and "lr 1.0e+02 is too high" in bad.stdout


def test_train_stops_before_training_when_a_check_fails_unless_forced(tmp_path):
    config = write(tmp_path, HOT, name="hot.yaml")
    stopped = invoke("train", config, "--out", tmp_path / "run", "--quiet")
    assert stopped.exit_code == 1 and "pre-flight check failed (learning_rate)" in stopped.output
    assert not (tmp_path / "run" / "history.json").exists()
    assert json.loads((tmp_path / "run" / "findings.json").read_text())["findings"][0]["status"] == "fail"
    forced = invoke("train", config, "--out", tmp_path / "run", "--quiet", "--force", "--overwrite", "--no-report")
    assert forced.exit_code == 0, forced.output


def test_lr_find_prints_the_range_and_writes_it(tmp_path):
    result = invoke("lr-find", write(tmp_path), "--out", tmp_path / "lr", "--steps", "60")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("adam: the loss falls from lr ") and "usable range: " in result.stdout
    assert "(this config: 1.0e-02)" in result.stdout
    saved = json.loads((tmp_path / "lr" / "lr_find.json").read_text())
    assert len(saved["lrs"]) == len(saved["losses"]) <= 60


def test_report_redraws_a_run_directory_and_names_a_missing_one(tmp_path):
    config = write(tmp_path, checks=False, epochs=1)
    train(read_yaml(config.read_text()), tmp_path / "run", report=False, verbose=False)
    result = invoke("report", tmp_path / "run")
    assert result.exit_code == 0 and result.stdout.strip() == str(tmp_path / "run" / "report" / "index.html")
    assert (tmp_path / "run" / "report" / "index.html").is_file()
    missing = invoke("report", tmp_path / "nothing")
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_demo_prints_the_test_accuracy_and_the_report_path(tmp_path):
    result = invoke("demo", "--epochs", "1", "--no-checks", "--quiet", "--out", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    assert "MNIST-1D test accuracy: " in result.stdout
    assert f"report: {tmp_path / 'demo' / 'report' / 'index.html'}" in result.stdout


def test_a_run_without_a_directory_refuses_callbacks_that_write_files(tmp_path):
    with pytest.raises(ConfigError, match=r"callbacks\[0\] \(ModelCheckpoint\) writes into the run directory"):
        train(read_yaml(SPIRALS), None, verbose=False)


def test_the_demo_network_is_the_published_mlp():
    from babysit.config import load_config
    from babysit.config.build import build
    from babysit.demo import demo_config, mnist1d_mlp

    built = build(load_config(demo_config(epochs=1))).model
    assert [layer.short_repr() for layer in built] == [layer.short_repr() for layer in mnist1d_mlp(0)]


def test_the_cifar10_example_runs_an_epoch_on_a_local_folder(tmp_path):
    write_cifar_binary(tmp_path / "cifar-10-batches-bin", _cifar_batches())
    config = read_yaml((ROOT / "examples" / "cifar10.yaml").read_text())
    config["data"].update(path=str(tmp_path / "cifar-10-batches-bin"), val_size=6)
    config.update(epochs=1, batch_size=4, checks=["initial_loss", "batch_independence"])  # 6 steps: one-cycle needs 4+
    result = train(config, tmp_path / "run", report=False, verbose=False)
    assert result.history.epochs[0]["val_accuracy"] is not None and 0 <= result.test["accuracy"] <= 1
    assert babysit.load(tmp_path / "run" / "checkpoints" / "best.npz")[0].in_channels == 3


@pytest.mark.slow
@pytest.mark.parametrize(("name", "target"), [("mnist1d_mlp", 0.68), ("mnist1d_cnn", 0.94), ("digits", 0.95)])
def test_example_configs_reach_their_targets(name, target, tmp_path):
    """The published MNIST-1D baselines (MLP 68%, CNN 94%), and digits as a sanity bar.

    Measured over seeds: examples/README.md."""
    result = train(ROOT / "examples" / f"{name}.yaml", tmp_path, checks=False, report=False, verbose=False)
    assert result.test["accuracy"] >= target


def test_ensemble_evaluates_each_run_and_their_ensemble(tmp_path):
    runs = []
    for seed in (0, 1, 2):
        config, out = write(tmp_path, name=f"s{seed}.yaml", seed=seed, checks=False, babysitter=False,
                            callbacks=[]), tmp_path / f"run{seed}"
        assert invoke("train", config, "--out", out, "--quiet", "--no-report").exit_code == 0
        runs.append(out)
    result = invoke("ensemble", *runs, "--save", tmp_path / "ens")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sum(str(run) in result.stdout for run in runs) == 3 and any("ensemble" in line for line in lines)
    from babysit.evaluation import load_ensemble

    assert len(load_ensemble(tmp_path / "ens").models) == 3
    missing = CliRunner().invoke(main, ["ensemble", str(runs[0]), str(tmp_path)])
    assert missing.exit_code == 2 and "config.yaml" in missing.output


def test_ensemble_refuses_runs_on_other_data(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out, n_test in ((first, 60), (second, 50)):
        text = SPIRALS.replace("n_test: 60", f"n_test: {n_test}")
        config = write(tmp_path, text=text, name=f"{out.name}.yaml", checks=False, babysitter=False, callbacks=[])
        assert invoke("train", config, "--out", out, "--quiet", "--no-report").exit_code == 0
    result = CliRunner().invoke(main, ["ensemble", str(first), str(second)])
    assert result.exit_code == 2 and "share their test set" in result.output
