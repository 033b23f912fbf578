"""`babysit search` end to end: output, files, the resume rules, a killed search resumed, a Dask scheduler."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from babysit.cli import main
from babysit.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {
    "seed": 0,
    "data": {"name": "spirals", "n_train": 200, "n_test": 60, "val_size": 0.25},
    "model": [{"type": "Linear", "out_features": 16}, "ReLU", {"type": "Linear", "out_features": 3}],
    "optimizer": {"type": "adam", "lr": 1e-2},
    "epochs": 3,
    "batch_size": 25,
    "search": {
        "params": {"optimizer.lr": {"log_uniform": [1e-5, 3.0]}, "model.0.out_features": {"int_uniform": [4, 64]}},
        "stages": [[4, 2], [2, 3]],
        "keep_top": 3,
    },
}


def write(tmp_path, name="tiny.yaml", **search) -> Path:
    data = {**CONFIG, "search": {**CONFIG["search"], **search}}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def finished_trials(db) -> int:
    """Finished trials in the driver's database, read with sqlite3 read-only (no tables are created)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM trials WHERE state IN "
                                      "('COMPLETE', 'PRUNED', 'FAIL')").fetchone()[0]
    except sqlite3.OperationalError:  # no database or no table yet
        return 0


def rows(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_search_prints_the_table_and_writes_results(tmp_path):
    config, out = write(tmp_path), tmp_path / "out"
    result = invoke("search", config, "--out", out, "--quiet", "--top", "4")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "6 trials (" in text and "ranked by val_accuracy" in text
    header = next(line for line in text.splitlines() if line.lstrip().startswith("stage"))
    assert "optimizer.lr" in header and "model.0.out_features" in header
    assert "saved about" in text and "best: stage" in text
    table = rows(out / "results.csv")
    assert len(table) == 6 and {row["stage"] for row in table} == {"1", "2"}
    for name in ("scores.png", "command_center.png", "stages.png", "search.db", "best.yaml", "index.html"):
        assert (out / name).stat().st_size > 0, name
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and page.count("<tr") == 1 + 6  # header + every trial
    assert f"trial {table[0]['trial']}: val_accuracy" in page and "babysit train" in page
    best = load_config(out / "best.yaml")
    assert best.optimizer.lr == pytest.approx(float(table[0]["optimizer.lr"]))
    assert best.epochs == 3 and best.search is None


def test_an_existing_search_needs_resume(tmp_path):
    config, out = write(tmp_path, stages=[[3, 2]]), tmp_path / "out"
    assert invoke("search", config, "--out", out, "--quiet").exit_code == 0
    before = rows(out / "results.csv")
    again = invoke("search", config, "--out", out, "--quiet")
    assert again.exit_code == 2
    assert "already holds the search 'tiny'" in again.output and "--resume" in again.output
    resumed = invoke("search", config, "--out", out, "--quiet", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert rows(out / "results.csv") == before  # finished trials are kept, none re-run


def test_resuming_with_another_space_is_refused(tmp_path):
    out = tmp_path / "out"
    assert invoke("search", write(tmp_path, stages=[[2, 1]]), "--out", out, "--quiet").exit_code == 0
    params = {**CONFIG["search"]["params"], "optimizer.lr": {"log_uniform": [1e-4, 1.0]}}
    result = invoke("search", write(tmp_path, stages=[[2, 1]], params=params), "--out", out, "--quiet", "--resume")
    assert result.exit_code == 2 and "--resume: study 'tiny'" in result.output and "other settings" in result.output


def test_resuming_with_an_edited_training_config_is_refused(tmp_path):
    out, config = tmp_path / "out", write(tmp_path, stages=[[2, 1]])
    assert invoke("search", config, "--out", out, "--quiet").exit_code == 0
    edited = yaml.safe_load(config.read_text())
    edited["batch_size"] = 50  # another training run: the stored trials would not be comparable
    config.write_text(yaml.safe_dump(edited, sort_keys=False))
    result = invoke("search", config, "--out", out, "--quiet", "--resume")
    assert result.exit_code == 2 and "other settings" in result.output and "objective: stored" in result.output


def test_a_new_out_dir_with_resume_starts_the_search(tmp_path):
    result = invoke("search", write(tmp_path, stages=[[2, 1]]), "--out", tmp_path / "fresh", "--quiet", "--resume")
    assert result.exit_code == 0, result.output
    assert "nothing to resume" in result.stderr and len(rows(tmp_path / "fresh" / "results.csv")) == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--jobs", "0"], "--jobs: the number of trials in parallel must be >= 1"),
    ([], "search.params.optimiser.lr: the config has no key 'optimiser'"),
])
def test_bad_input_exits_2_with_the_key(tmp_path, args, message):
    params = {"optimiser.lr": {"log_uniform": [1e-5, 1.0]}} if not args else CONFIG["search"]["params"]
    result = invoke("search", write(tmp_path, params=params), "--out", tmp_path / "out", *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_missing_config_exits_2(tmp_path):
    result = invoke("search", tmp_path / "nope.yaml")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_search_on_a_dask_scheduler(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    with cluster:
        result = invoke("search", write(tmp_path, stages=[[3, 2]]), "--out", tmp_path / "out", "--quiet",
                        "--scheduler", cluster.scheduler_address, "--storage", tmp_path / "cluster.db")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cluster.db").is_file() and not (tmp_path / "out" / "search.db").exists()
    statuses = [row["status"] for row in rows(tmp_path / "out" / "results.csv")]
    assert len(statuses) == 3 and "failed" not in statuses


@pytest.mark.slow
def test_a_killed_search_resumes_without_losing_or_repeating_trials(tmp_path):
    """SIGKILL the command after some trials are stored; --resume keeps them and runs the rest."""
    optuna = pytest.importorskip("optuna")
    config = write(tmp_path, stages=[[16, 6]], pruner=False)
    data = yaml.safe_load(config.read_text())
    data["data"]["n_train"] = 1500  # slower trials (~0.1 s), so the kill lands mid-search
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen([sys.executable, "-m", "babysit", "search", str(config), "--out", str(out), "--quiet"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while finished_trials(out / "search.db") < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # read once the driver is dead: Optuna opening a database being created would race it
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{(out / 'search.db').resolve()}")
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    assert len(finished) >= 4, "the search did not store trials in time"
    kept = {t.user_attrs["number"]: (t.params, t.user_attrs["score"]) for t in finished}
    assert len(kept) < 16, "the search finished before the kill: make its trials slower"
    resumed = invoke("search", config, "--out", out, "--quiet", "--resume")
    assert resumed.exit_code == 0, resumed.output
    table = rows(out / "results.csv")
    numbers = sorted(int(row["trial"]) for row in table)
    assert numbers == list(range(16))  # every trial once
    for row in table:
        if int(row["trial"]) in kept:
            params, score = kept[int(row["trial"])]
            assert float(row["optimizer.lr"]) == pytest.approx(params["optimizer.lr"])
            assert float(row["score"]) == pytest.approx(score)
