"""Each lab on --quick reproduces the lecture's qualitative result (from its numbers)."""

import math

import numpy as np
import pytest
from click.testing import CliRunner

from babysit.cli import main
from babysit.labs.registry import LABS, run


@pytest.mark.slow
def test_init_lab_reproduces_the_lecture(tmp_path):
    results = run("init", tmp_path, quick=True)
    std = results["layer_std"]
    assert std["0.01 + tanh"][-1] < 1e-3 * std["0.01 + tanh"][0]  # collapse
    assert std["0.01 + ReLU"][-1] < 1e-3 * std["0.01 + ReLU"][0]
    assert results["saturated"]["1.0 + tanh"][-1] > 0.9  # saturation at +-1
    assert std["1.0 + ReLU"][-1] > 1e6 * std["1.0 + ReLU"][0]  # explosion
    assert 0.2 < std["Xavier + tanh"][-1] / std["Xavier + tanh"][0] <= 1.0  # healthy
    assert results["saturated"]["Xavier + tanh"][-1] < 0.05
    assert 0.3 < std["He + ReLU"][-1] / std["He + ReLU"][0] < 3.0  # healthy
    assert std["Xavier + ReLU"][-1] / std["Xavier + ReLU"][0] < 0.2  # halves per layer
    assert (tmp_path / "summary.md").exists() and len(results["plots"]) == 9


def test_babysitting_lab_reproduces_the_lecture(tmp_path):
    results = run("babysitting", tmp_path, quick=True)
    assert abs(results["initial_loss"] - math.log(10)) < 0.1
    reg = results["reg_loss"]
    assert reg[1.0] > reg[1e-2] > reg[0.0] + 0.5  # strong L2 raises the loss at init
    assert results["overfit_accuracy"] == 1.0
    assert results["overfit_losses"][-1] < 0.01
    assert abs(results["sweep_change"][1e-6]) < 0.01  # lr 1e-6 barely moves the loss
    assert results["diverged"][1e6] and np.isnan(results["sweep"][1e6]).any()  # lr 1e6: NaN
    assert results["diverged"][10.0] and not results["diverged"][0.1]  # too high explodes; 0.1 learns
    assert results["sweep_change"][0.1] < -0.2
    low, high = results["usable_range"]
    assert 1e-4 < low < high < 10.0
    assert (tmp_path / "summary.md").read_text().startswith("# Lab: babysitting")


def test_lab_command_lists_names_and_rejects_unknown(tmp_path):
    runner = CliRunner()
    help_text = runner.invoke(main, ["lab", "--help"]).output
    for name in LABS:
        assert name in help_text
    result = runner.invoke(main, ["lab", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown lab 'nope'" in result.output


def test_lab_command_runs_a_lab(tmp_path):
    result = CliRunner().invoke(main, ["lab", "babysitting", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "summary.md").exists() and (tmp_path / "babysitting_lr_sweep.png").exists()


def test_run_rejects_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="unknown lab 'x'"):
        run("x", tmp_path)


def test_schedules_lab_reproduces_the_lecture(tmp_path):
    results = run("schedules", tmp_path, quick=True)
    runs, step = results["runs"], results["decay_step"]
    assert len(runs) == 10 and all(len(r["lr"]) == results["total_steps"] for r in runs.values())
    losses = np.asarray(runs["step decay"]["batch_loss"])
    assert losses[step:step + 12].mean() < 0.9 * losses[step - 12:step].mean()  # the drop after the decay
    constant = runs["constant"]["train_loss"]
    for name in ("step decay", "cosine", "warm-up + cosine", "one-cycle"):  # annealing settles lower
        assert runs[name]["train_loss"] < 0.5 * constant, name
    assert runs["cosine"]["test_accuracy"] > runs["constant"]["test_accuracy"]


def test_optimizers_lab_reproduces_the_lecture(tmp_path):
    results = run("optimizers", tmp_path, quick=True)
    for surface, losses in results["surfaces"].items():  # SGD is the slowest on every surface
        others = [loss for name, loss in losses.items() if name != "SGD"]
        assert losses["SGD"] > 3 * np.median(others), surface
    taco = results["paths"]["taco"]
    assert abs(taco["SGD"][-1, 0]) < 1.5  # still crawling away from the saddle at x = 0
    for name in ("Momentum", "AdaGrad", "Adam"):
        assert abs(abs(taco[name][-1, 0]) - 2.0) < 0.3, name  # reached a minimum at x = +-2
    mnist = results["mnist"]
    assert len(mnist) == 12
    sgd = mnist["SGD"]["train_loss"][-1]
    assert mnist["Momentum"]["train_loss"][-1] < 0.8 * sgd  # momentum speeds up the same rate
    assert mnist["Adam"]["train_loss"][-1] < 0.8 * sgd
    assert mnist["Adam"]["test_accuracy"] > mnist["SGD"]["test_accuracy"]
    assert {"optimizers_taco.png", "optimizers_mnist1d.png"} <= {p.rsplit("/", 1)[-1] for p in results["plots"]}


@pytest.fixture
def two_fast_labs(monkeypatch):
    """Only the two fastest labs, so that `lab all` runs in a few seconds."""
    from babysit.labs import registry

    monkeypatch.setattr(registry, "LABS", {name: registry.LABS[name] for name in ("babysitting", "optimizers")})


def test_lab_all_runs_every_lab_into_its_folder_and_writes_an_index(tmp_path, two_fast_labs):
    result = CliRunner().invoke(main, ["lab", "all", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.output.splitlines()[:2]] == ["lab babysitting", "lab optimizers"]
    index = (tmp_path / "index.md").read_text()
    assert "(quick runs" in index and "[babysitting](babysitting/summary.md)" in index
    assert index.index("babysitting") < index.index("optimizers")  # the lectures' order
    for name in ("babysitting", "optimizers"):
        assert (tmp_path / name / "summary.md").is_file()

