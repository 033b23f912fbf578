"""Parallel trials: worker processes give the serial results, a dying worker fails only its
trial, workers use one BLAS thread, and a Dask cluster runs a search through its executor."""

import math
import os
import time

import pytest

from babysit.search import LogUniform, random_search

SPACE = {"lr": LogUniform(1e-6, 1e-1), "wd": LogUniform(1e-5, 1e1)}


# objectives at module level: worker processes start with "spawn" and import them from here
def curve_objective(trial):
    """Deterministic in the trial's params and seed, with a short sleep so trials overlap."""
    time.sleep(0.02)
    base = 1 - (math.log10(trial.params["lr"]) + 3) ** 2 / 25
    for epoch in range(1, trial.epochs + 1):
        trial.report(epoch, score=base - 0.1 / epoch, loss=1.0 / epoch + trial.seed % 7)
    return base + (trial.seed % 1000) * 1e-6


def die_on_high_lr(trial):
    """Kills its worker process outright (no exception, no cleanup) when lr > 1e-2."""
    time.sleep(0.05)
    if trial.params["lr"] > 1e-2:
        os._exit(1)
    return trial.params["lr"]


def blas_threads(trial):
    from threadpoolctl import threadpool_info

    return max((pool["num_threads"] for pool in threadpool_info()), default=1)


def comparable(result):
    return [(t.number, t.params, t.status, t.score, t.curve, t.seed) for t in result.trials]


def test_two_worker_processes_give_the_same_results_as_one():
    serial = random_search(curve_objective, SPACE, 10, 3, seed=5, pruner=None, verbose=False)
    parallel = random_search(curve_objective, SPACE, 10, 3, seed=5, pruner=None, n_jobs=2, verbose=False)
    assert comparable(parallel) == comparable(serial)
    assert parallel.status_counts() == {"complete": 10}
    assert all(trial.seconds > 0 for trial in parallel.trials)


def test_a_worker_that_dies_fails_its_trial_only_and_the_search_goes_on():
    result = random_search(die_on_high_lr, {"lr": LogUniform(1e-4, 1.0)}, 8, 1, seed=2, n_jobs=2, verbose=False)
    assert len(result.trials) == 8 and [trial.number for trial in result.trials] == list(range(8))
    killers = [trial for trial in result.trials if trial.params["lr"] > 1e-2]
    assert 0 < len(killers) < 8
    for trial in result.trials:
        if trial in killers:
            assert trial.status == "failed" and "worker process running this trial died" in trial.error
        else:  # trials that shared the broken pool were run again alone, and completed
            assert trial.status == "complete" and trial.score == trial.params["lr"]


def test_worker_processes_use_one_blas_thread():
    result = random_search(blas_threads, SPACE, 2, 1, n_jobs=2, pruner=None, verbose=False)
    assert [trial.score for trial in result.trials] == [1, 1]


def test_a_dask_cluster_runs_the_search_through_its_executor():
    distributed = pytest.importorskip("distributed")
    started = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        executor = client.get_executor()
        result = random_search(curve_objective, SPACE, 8, 3, seed=5, pruner=None, executor=executor, n_jobs=-1,
                               verbose=False)
    serial = random_search(curve_objective, SPACE, 8, 3, seed=5, pruner=None, verbose=False)
    assert comparable(result) == comparable(serial)
    assert time.perf_counter() - started < 30


def test_n_jobs_is_checked():
    with pytest.raises(ValueError, match="n_jobs must be an int >= 1, or -1 for all cores, got 0"):
        random_search(curve_objective, SPACE, 2, 1, n_jobs=0)
    with pytest.raises(TypeError, match=r"executor must be a concurrent\.futures\.Executor, got str"):
        random_search(curve_objective, SPACE, 2, 1, executor="tcp://scheduler:8786")
