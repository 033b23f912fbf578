"""The search lab on --quick: random beats grid with the same budget; coarse to fine narrows and improves."""

import math

import pytest

from babysit.labs.registry import run


@pytest.mark.slow
def test_search_lab_reproduces_the_lecture(tmp_path):
    results = run("search", tmp_path, quick=True)
    random, grid, budget = results["random"], results["grid"], results["budget"]
    # Bergstra & Bengio: the grid tries sqrt(n) values of the important parameter, random search n
    assert random["distinct_lr"] == budget and grid["distinct_lr"] == math.isqrt(budget)
    assert random["best"] > grid["best"]
    coarse, fine = results["stages"]
    assert fine["best"] > coarse["best"] + 0.05  # the fine stage, longer and in the right region, is better

    def decades(bounds):
        return math.log10(bounds[1] / bounds[0])

    assert decades(fine["ranges"]["l2"]) < decades(coarse["ranges"]["l2"]) - 1  # narrowed
    assert all(lr > 0.3 for lr in results["diverged_lr"])  # only too-high rates explode
    assert coarse["counts"].get("pruned", 0) > 0  # successive halving stopped hopeless trials
    assert len(results["plots"]) == 4 and (tmp_path / "summary.md").exists()
