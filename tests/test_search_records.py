"""TrialRecord and SearchResult: ranking, the best trial, the table, the CSV, the time saved."""

import csv
import io
import math

import pytest

from babysit.search.records import SearchResult, TrialRecord


def _trial(number, score, status="complete", stage=1, lr=1e-3, epochs=10, curve_epochs=10, seconds=10.0):
    curve = [{"epoch": e, "score": score, "loss": 1.0} for e in range(1, curve_epochs + 1)]
    return TrialRecord(number=number, stage=stage, params={"lr": lr, "hidden": 64}, status=status, score=score,
                       epochs=epochs, curve=curve, seed=number, seconds=seconds)


def test_ranked_puts_the_best_finite_scores_first_and_the_rest_after():
    trials = [_trial(0, 0.5), _trial(1, 0.9), _trial(2, None, "diverged", curve_epochs=1),
              _trial(3, 0.7, "pruned", curve_epochs=1), _trial(4, None, "failed", curve_epochs=0)]
    result = SearchResult(trials=trials, spaces=[{}])
    assert [trial.number for trial in result.ranked()] == [1, 3, 0, 2, 4]
    assert result.best.number == 1


def test_minimize_reverses_the_order():
    result = SearchResult(trials=[_trial(0, 0.5), _trial(1, 0.2)], spaces=[{}], direction="minimize")
    assert result.best.number == 1


def test_best_comes_from_the_last_stage_and_must_be_complete():
    trials = [_trial(0, 0.99, stage=1), _trial(0, 0.8, stage=2), _trial(1, 0.95, "pruned", stage=2, curve_epochs=2)]
    result = SearchResult(trials=trials, spaces=[{}, {}])
    assert (result.best.stage, result.best.score) == (2, 0.8)
    with pytest.raises(ValueError, match="no complete trial"):
        _ = SearchResult(trials=[_trial(0, None, "diverged")], spaces=[{}]).best


def test_seconds_saved_counts_the_unused_epochs_of_stopped_trials():
    trials = [_trial(0, 0.5, seconds=10.0),  # complete: saves nothing
              _trial(1, None, "diverged", curve_epochs=2, seconds=2.0),  # 1 s/epoch, 8 epochs unused
              _trial(2, 0.3, "pruned", curve_epochs=5, seconds=10.0)]  # 2 s/epoch, 5 epochs unused
    assert SearchResult(trials=trials, spaces=[{}]).seconds_saved() == pytest.approx(8.0 + 10.0)


def test_table_and_csv_hold_every_trial_best_first():
    trials = [_trial(0, 0.5, lr=1e-2), _trial(1, 0.9, lr=3e-4), _trial(2, None, "failed", curve_epochs=0)]
    trials[2].error = "ValueError: boom"
    result = SearchResult(trials=trials, spaces=[{}])
    lines = result.table().splitlines()
    assert lines[0].split()[:4] == ["stage", "trial", "status", "score"]
    assert lines[1].split()[1:4] == ["1", "complete", "0.9"] and "0.0003" in lines[1]
    assert len(result.table(top=2).splitlines()) == 3
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert [row["trial"] for row in rows] == ["1", "0", "2"]
    assert rows[2]["error"] == "ValueError: boom" and float(rows[0]["lr"]) == 3e-4


def test_to_csv_writes_the_file(tmp_path):
    result = SearchResult(trials=[_trial(0, 0.5)], spaces=[{}])
    result.to_csv(tmp_path / "results.csv")
    assert (tmp_path / "results.csv").read_text().startswith("stage,trial,status,score")


def test_records_round_trip_and_reject_unknown_statuses():
    trial = _trial(0, 0.5)
    assert TrialRecord.from_dict(trial.to_dict()) == trial
    assert trial.epochs_run == 10
    with pytest.raises(ValueError, match="status must be one of"):
        TrialRecord(number=0, stage=1, params={}, status="exploded")
    assert SearchResult(trials=[trial, _trial(1, math.nan)], spaces=[{}]).status_counts() == {"complete": 2}
