"""Successive halving that works on any executor: the driver sets the bar, the worker checks it.

A trial is judged at its *rungs*, the epochs ``min_epochs * eta**k`` (1, 3, 9, ... for the
defaults) below its budget. At a rung it survives when its score is in the top ``1/eta``
of the scores the trials of its stage had at that rung, itself included; otherwise it is
pruned, and the epochs it would have trained are saved for other trials.

Where the decision is taken
---------------------------
Optuna's :class:`~optuna.pruners.SuccessiveHalvingPruner` (the asynchronous variant, ASHA:
Li et al. 2018) looks up the other trials' rung scores in the storage each time a trial
reports. That needs the worker to reach the study, i.e. a shared database, and a round
trip per epoch. Here the driver computes, just before it submits a trial, the score needed
at each rung (:meth:`SuccessiveHalving.thresholds`) from the trials finished so far, and
ships those numbers with the trial; the worker's :class:`~babysit.search.trial.Trial`
prunes itself when its score falls below. No worker -> driver messages, no database
access from workers: it works on a process pool, on a Dask cluster, on any
``concurrent.futures.Executor``.

The price is staleness: trials still running when a trial is submitted do not count in
its bar. ASHA accepts the same kind of lag (it promotes on incomplete rungs), and its
analysis (Li et al. 2018, Sec. 3) shows the top configurations are still found; with
``n_jobs`` workers at most ``n_jobs - 1`` trials are missing from a bar.

References
----------
Jamieson & Talwalkar, "Non-stochastic best arm identification and hyperparameter
optimization", AISTATS 2016 (successive halving). Li et al., "A system for massively
parallel hyperparameter tuning", MLSys 2020 (arXiv 1810.05934, 2018) (ASHA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SuccessiveHalving:
    """Prune a trial at a rung unless its score is in the top ``1/reduction_factor`` there.

    Parameters
    ----------
    min_epochs : int >= 1
        The first rung (Optuna's ``min_resource``).
    reduction_factor : int >= 2
        ``eta``: rungs at ``min_epochs * eta**k``; a trial must be in the top ``1/eta``.
    min_trials : int >= 1
        No pruning at a rung before this many trials of the stage have reached it (the
        first trials have nothing to be compared with).

    Notes
    -----
    With ``n`` earlier trials at a rung, a new trial counts itself among ``n + 1`` and must
    rank in the top ``k = max(1, (n + 1) // eta)``: its score must be at least the
    ``k``-th best of the ``n`` others (Optuna's ASHA rule, decided in advance). A trial's
    score at rung ``r`` is its first reported score at an epoch ``>= r``.
    """

    min_epochs: int = 1
    reduction_factor: int = 3
    min_trials: int = 5

    def __post_init__(self):
        for name, least in (("min_epochs", 1), ("reduction_factor", 2), ("min_trials", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"SuccessiveHalving: {name} must be an int >= {least}, got {value!r}")

    def rungs(self, epochs: int) -> list[int]:
        """The epochs below the budget ``epochs`` at which trials are judged."""
        rungs, rung = [], self.min_epochs
        while rung < epochs:
            rungs.append(rung)
            rung *= self.reduction_factor
        return rungs

    def thresholds(self, records, epochs: int, direction: str = "maximize") -> dict[int, float]:
        """The score needed at each rung (only rungs that ``min_trials`` records reached).

        Parameters
        ----------
        records : iterable of TrialRecord
            The finished trials of the stage (their ``curve`` rows).
        epochs : int
            The budget of the trial about to be submitted.
        direction : {"maximize", "minimize"}
        """
        bars = {}
        for rung in self.rungs(epochs):
            scores = [score for score in (rung_score(record.curve, rung) for record in records) if score is not None]
            if len(scores) < self.min_trials:
                continue
            scores.sort(reverse=direction == "maximize")
            keep = max(1, (len(scores) + 1) // self.reduction_factor)
            bars[rung] = scores[keep - 1]
        return bars


def rung_score(curve, rung: int) -> float | None:
    """The first finite score reported at an epoch ``>= rung`` (None if the trial never got there)."""
    for row in curve:
        score = row.get("score")
        if row["epoch"] >= rung and score is not None and math.isfinite(score):
            return float(score)
    return None


def below_bar(score: float, bar: float, direction: str) -> bool:
    """Whether ``score`` misses the ``bar`` (lower when maximizing, higher when minimizing)."""
    return score < bar if direction == "maximize" else score > bar
