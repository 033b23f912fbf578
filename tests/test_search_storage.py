"""Storage and resume: SQLite round trip, refusing to mix searches, stale trials re-run once,
coarse to fine resumed stage by stage, and a real SIGKILL of a search followed by a resume."""

import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from babysit.search import LogUniform, coarse_to_fine, load_search, random_search
from babysit.search.storage import StudyStore, storage_url
from babysit.search.strategies import plan_params
from babysit.search.trial import TrialSpec, trial_seed

SPACE = {"lr": LogUniform(1e-6, 1e-1), "wd": LogUniform(1e-5, 1e1)}
ROOT = Path(__file__).resolve().parents[1]


class LoggedObjective:
    """Appends ``stage number`` to a file per call (so a test counts calls across processes)."""

    def __init__(self, log, sleep=0.0):
        self.log, self.sleep = str(log), sleep

    def __call__(self, trial):
        with open(self.log, "a") as file:
            file.write(f"{trial.stage} {trial.number}\n")
        for epoch in range(1, trial.epochs + 1):
            time.sleep(self.sleep)
            trial.report(epoch, score=-abs(math.log10(trial.params["lr"]) + 3) - 1 / epoch, loss=1.0)
        return -abs(math.log10(trial.params["lr"]) + 3)

    def calls(self):
        path = Path(self.log)
        lines = path.read_text().split("\n") if path.exists() else []
        return [tuple(int(part) for part in line.split()) for line in lines if line]


def test_storage_urls(tmp_path):
    assert storage_url(None) is None
    assert storage_url("postgresql://user@host/db") == "postgresql://user@host/db"
    assert storage_url(tmp_path / "a" / "search.db") == f"sqlite:///{tmp_path / 'a' / 'search.db'}"
    assert (tmp_path / "a").is_dir()


def test_sqlite_round_trip_keeps_every_field(tmp_path):
    db = tmp_path / "search.db"
    result = random_search(LoggedObjective(tmp_path / "log"), SPACE, 8, 3, storage=db, study_name="rt",
                           verbose=False)
    loaded = load_search(db, "rt")
    assert [trial.to_dict() for trial in loaded.trials] == [trial.to_dict() for trial in result.trials]
    assert loaded.spaces == [SPACE] and loaded.direction == "maximize"
    assert {trial.status for trial in loaded.trials} >= {"complete"}


def test_an_existing_study_needs_resume_and_the_same_settings(tmp_path):
    db, objective = tmp_path / "search.db", LoggedObjective(tmp_path / "log")
    random_search(objective, SPACE, 3, 2, storage=db, verbose=False)
    with pytest.raises(FileExistsError, match=r"study 'search' already exists .* pass resume=True"):
        random_search(objective, SPACE, 3, 2, storage=db, verbose=False)
    with pytest.raises(ValueError, match=r"was run with other settings .*epochs: stored 2, now 5"):
        random_search(objective, SPACE, 3, 5, storage=db, resume=True, verbose=False)
    with pytest.raises(ValueError, match="space: stored"):
        random_search(objective, {"lr": LogUniform(1e-5, 1e-1)}, 3, 2, storage=db, resume=True, verbose=False)
    # a random search may be extended: trials 0-2 are kept, 3-5 run
    more = random_search(objective, SPACE, 6, 2, storage=db, resume=True, verbose=False)
    assert [trial.number for trial in more.trials] == list(range(6))
    assert [number for _, number in objective.calls()] == [0, 1, 2, 3, 4, 5]


def test_trials_left_running_by_a_killed_driver_run_again_with_the_same_params_and_seed(tmp_path):
    db, objective = tmp_path / "search.db", LoggedObjective(tmp_path / "log")
    first = random_search(objective, SPACE, 4, 2, storage=db, seed=7, verbose=False)
    # what a driver killed mid-search leaves: trial 4 asked (RUNNING), and one enqueued (WAITING)
    plan, _ = plan_params("random", SPACE, 6, 7, 1)
    store = StudyStore(db, "search", {}, resume=True)
    store.start(TrialSpec(number=4, stage=1, params=plan[4], epochs=2, seed=trial_seed(7, 1, 4)), SPACE)
    store.study.enqueue_trial(plan[5])
    resumed = random_search(objective, SPACE, 6, 2, storage=db, seed=7, resume=True, verbose=False)
    assert [trial.number for trial in resumed.trials] == list(range(6))
    assert [trial.to_dict() for trial in resumed.trials[:4]] == [trial.to_dict() for trial in first.trials]
    assert resumed.trials[4].params == plan[4] and resumed.trials[4].seed == trial_seed(7, 1, 4)
    assert [number for _, number in objective.calls()] == [0, 1, 2, 3, 4, 5]
    assert any("4 finished trials kept, 1 interrupted ones run again" in note for note in resumed.notes)
    assert [trial.number for trial in load_search(db).trials] == list(range(6))


def test_coarse_to_fine_resumes_stage_by_stage(tmp_path):
    db, objective = tmp_path / "search.db", LoggedObjective(tmp_path / "log")
    stages = [(8, 1), (4, 2)]
    coarse_to_fine(objective, SPACE, stages[:1], keep_top=3, storage=db, verbose=False)  # "killed" after stage 1
    result = coarse_to_fine(objective, SPACE, stages, keep_top=3, storage=db, resume=True, verbose=False)
    calls = objective.calls()
    assert sorted(calls) == [(1, number) for number in range(8)] + [(2, number) for number in range(4)]
    again = coarse_to_fine(objective, SPACE, stages, keep_top=3, storage=db, resume=True, verbose=False)
    assert objective.calls() == calls  # nothing left to run
    assert [trial.to_dict() for trial in again.trials] == [trial.to_dict() for trial in result.trials]
    assert again.spaces == result.spaces and len(result.spaces) == 2
    assert [trial.stage for trial in load_search(db).trials] == [1] * 8 + [2] * 4


DRIVER = """
import sys
from tests.test_search_storage import SPACE, LoggedObjective
from babysit.search import random_search
random_search(LoggedObjective(sys.argv[2], sleep=0.05), SPACE, 12, 2, storage=sys.argv[1], study_name="killed",
              verbose=False)
"""


def count_trials(db, states) -> int:
    """Trials of the driver's database in ``states``, read with sqlite3 read-only (Optuna would
    create the tables if they were not there yet, racing the driver)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            marks = ", ".join("?" * len(states))
            return connection.execute(f"SELECT COUNT(*) FROM trials WHERE state IN ({marks})", states).fetchone()[0]
    except sqlite3.OperationalError:  # no database or no table yet
        return 0


def test_a_search_killed_with_sigkill_resumes_without_losing_or_repeating_trials(tmp_path):
    db, log = tmp_path / "search.db", tmp_path / "calls.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    process = subprocess.Popen([sys.executable, "-c", DRIVER, str(db), str(log)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:  # kill inside a trial: 4 or more finished, and the next one called
        finished = count_trials(db, ("COMPLETE", "PRUNED", "FAIL"))
        if finished >= 4 and len(LoggedObjective(log).calls()) > finished:
            break
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "the driver did not finish 4 trials in 60 s"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    before = {record.number: record for record in load_search(db, "killed").trials}
    running = count_trials(db, ("RUNNING",))
    assert 4 <= len(before) < 12 and running <= 1

    objective = LoggedObjective(log)
    result = random_search(objective, SPACE, 12, 2, storage=db, study_name="killed", resume=True, verbose=False)
    assert [trial.number for trial in result.trials] == list(range(12))  # all there, each once
    for number, record in before.items():  # kept as they were
        assert result.trials[number].to_dict() == record.to_dict()
    calls = [number for _, number in objective.calls()]
    assert all(calls.count(number) == 1 for number in before)  # none repeated
    assert set(calls) == set(range(12))
    # the trial the kill interrupted was called twice (killed, then re-run) and is recorded once
    interrupted = [number for number in set(calls) if calls.count(number) == 2]
    assert len(interrupted) == running and len(calls) == 12 + running
    assert any(f"{len(before)} finished trials kept, {running} interrupted" in note for note in result.notes)
    plan, _ = plan_params("random", SPACE, 12, 0, 1)  # the same trials as a search never killed
    assert [trial.params for trial in result.trials] == plan
    assert [trial.seed for trial in result.trials] == [trial_seed(0, 1, number) for number in range(12)]
