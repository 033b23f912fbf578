"""Random search and grid search with the same trial budget (Bergstra & Bengio 2012).

With a budget of ``n`` trials over ``d`` numeric parameters, a grid tries only
``n ** (1/d)`` distinct values of each, while random search tries ``n`` distinct values of
every one. When only a few parameters matter (the usual case), random search explores
them far better: ``random_search`` and ``grid_search`` take the same arguments, so the
comparison is one call each.

Trial ``k`` of stage ``s`` always gets the same parameters and seed (both derived from
``(seed, s, k)``), whatever ran before it: a resumed search, or one run with more
workers, tries exactly the trials an uninterrupted serial one would.

References
----------
Bergstra & Bengio, "Random search for hyper-parameter optimization", JMLR 13 (2012).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from babysit.search.pruning import SuccessiveHalving
from babysit.search.records import SearchResult
from babysit.search.runner import Progress, TrialRunner
from babysit.search.spaces import Choice, check_space, space_to_config
from babysit.search.storage import StudyStore
from babysit.search.trial import TrialSpec, trial_seed

#: The default pruner (immutable, so sharing it as a default is safe).
DEFAULT_PRUNER = SuccessiveHalving()
STRATEGIES = ("random", "grid")


@dataclass
class SearchOptions:
    """The keywords every search takes (see :func:`random_search`)."""

    seed: int = 0
    storage: object = None
    study_name: str = "search"
    resume: bool = False
    n_jobs: int = 1
    executor: object = None
    pruner: SuccessiveHalving | None = DEFAULT_PRUNER
    kill_factor: float | None = 3.0
    direction: str = "maximize"
    verbose: bool = True

    def __post_init__(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if self.direction not in ("maximize", "minimize"):
            raise ValueError(f"direction must be 'maximize' or 'minimize', got {self.direction!r}")
        factor = self.kill_factor
        if factor is not None and (isinstance(factor, bool) or not isinstance(factor, (int, float))
                                   or not math.isfinite(factor) or factor <= 1):
            raise ValueError(f"kill_factor must be a finite number > 1 (3 in the lecture) or None, got {factor!r}")
        if self.pruner is not None and not hasattr(self.pruner, "thresholds"):
            raise TypeError(f"pruner must be a SuccessiveHalving or None, got {self.pruner!r}")
        if not isinstance(self.study_name, str) or not self.study_name:
            raise ValueError(f"study_name must be a non-empty str, got {self.study_name!r}")


def random_search(objective, space, n_trials, epochs, *, seed=0, storage=None, study_name="search", resume=False,
                  n_jobs=1, executor=None, pruner=DEFAULT_PRUNER, kill_factor=3.0, direction="maximize",
                  verbose=True) -> SearchResult:
    """``n_trials`` trials, each parameter drawn independently (log-uniform where log).

    Parameters
    ----------
    objective : callable Trial -> float
        Trains with ``trial.params`` for ``trial.epochs`` epochs (seed ``trial.seed``) and
        returns the validation score; reports epochs with ``trial.report`` or
        ``trial.callbacks()`` (see :mod:`babysit.search.trial`). Must be picklable for
        ``n_jobs > 1`` or an executor.
    space : dict name -> LogUniform | Uniform | IntUniform | Choice
    n_trials : int
    epochs : int
        Every trial's budget.
    seed : int
        Parameters and trial seeds derive from ``(seed, stage, trial number)``.
    storage : None, path or URL
        ``None``: in memory; ``"runs/search.db"``: SQLite; ``"postgresql://..."``: as given.
    study_name : str
    resume : bool
        Continue a stored search: finished trials are kept, interrupted ones run again.
        Without it, a study that already has trials is an error.
    n_jobs : int
        Trials in flight: worker processes (1: in this process), or tasks on ``executor``.
    executor : concurrent.futures.Executor, optional
        e.g. ``dask.distributed.Client(address).get_executor()``.
    pruner : SuccessiveHalving or None
        Stops trials whose score is in the bottom of their rung; ``None``: no pruning.
    kill_factor : float > 1 or None
        Early kill: a loss above ``kill_factor`` x the first one (or NaN) stops the trial
        as ``diverged``; ``None``: off.
    direction : {"maximize", "minimize"}
    verbose : bool
        A progress bar (on a terminal) with the best score and the early-stop counts.

    Returns
    -------
    SearchResult
        Every trial (stage 1), notes (edge warnings, failures), wall time.
    """
    options = SearchOptions(seed, storage, study_name, resume, n_jobs, executor, pruner, kill_factor, direction,
                            verbose)
    return _one_stage("random", objective, space, n_trials, epochs, options)


def grid_search(objective, space, n_trials, epochs, *, seed=0, storage=None, study_name="search", resume=False,
                n_jobs=1, executor=None, pruner=DEFAULT_PRUNER, kill_factor=3.0, direction="maximize",
                verbose=True) -> SearchResult:
    """A grid within the budget: ``floor(n_trials ** (1/d))`` values per numeric dimension.

    ``d`` counts the numeric dimensions; a :class:`~babysit.search.spaces.Choice` takes all
    its options and its share of the budget (``n_trials`` is divided by the product of the
    option counts first). Values are log-spaced where log; integers are de-duplicated, so
    the grid may hold fewer than ``n_trials`` points: the result's notes say how many. The
    points run in a shuffled order (fixed by ``seed``), so pruning bars are not set by one
    corner of the grid. Same keywords as :func:`random_search`.
    """
    options = SearchOptions(seed, storage, study_name, resume, n_jobs, executor, pruner, kill_factor, direction,
                            verbose)
    return _one_stage("grid", objective, space, n_trials, epochs, options)


def _one_stage(strategy, objective, space, n_trials, epochs, options) -> SearchResult:
    started = time.perf_counter()
    records, notes = run_stage(objective, space, n_trials, epochs, stage=1, study_name=options.study_name,
                               strategy=strategy, options=options)
    notes += [last_edge_note(text, side) for _, side, text in edge_notes_for(space, records, options.direction)]
    return SearchResult(trials=records, spaces=[space], direction=options.direction, notes=notes,
                        seconds=time.perf_counter() - started)


def run_stage(objective, space, n_trials, epochs, *, stage, study_name, strategy, options, description=None):
    """Run (or resume) one stage; returns its records (by number) and notes."""
    check_space(space)
    _check_budget(n_trials, epochs)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    plan, notes = plan_params(strategy, space, n_trials, options.seed, stage)
    settings = {"space": space_to_config(space), "epochs": epochs, "seed": int(options.seed), "strategy": strategy,
                "direction": options.direction, "stage": stage}
    if strategy == "grid":  # the grid depends on the budget; a random search may be extended
        settings["n_trials"] = n_trials
    fingerprint = getattr(objective, "fingerprint", None)
    if fingerprint is not None:  # e.g. a digest of the training config: an edited one is another search
        settings["objective"] = str(fingerprint)
    store = StudyStore(options.storage, study_name, settings, options.direction, options.resume)
    interrupted = store.interrupt_stale()
    records = store.records()
    finished = {record.number for record in records}
    pending = [number for number in range(len(plan)) if number not in finished]
    if records or interrupted:
        notes.append(f"resumed study {study_name!r}: {len(records)} finished trials kept, "
                     f"{len(interrupted)} interrupted ones run again")

    def make_spec(number):
        bars = {} if options.pruner is None else options.pruner.thresholds(records, epochs, options.direction)
        return TrialSpec(number=number, stage=stage, params=plan[number], epochs=epochs,
                         seed=trial_seed(options.seed, stage, number), thresholds=bars, direction=options.direction,
                         kill_factor=options.kill_factor)

    progress = Progress(len(plan), records, options.direction, description or study_name, options.verbose)

    def on_finish(handle, record):
        store.finish(handle, record)
        records.append(record)
        progress.update(record)

    try:
        with TrialRunner(options.n_jobs, options.executor) as runner:
            runner.run(objective, pending, make_spec, lambda spec: store.start(spec, space), on_finish)
    finally:
        progress.close()
    records.sort(key=lambda record: record.number)
    return records, notes + _failure_notes(records)


def plan_params(strategy, space, n_trials, seed, stage) -> tuple[list[dict], list[str]]:
    """The parameters of every trial number of a stage, and a note on the grid used."""
    if strategy == "random":
        plan = []
        for number in range(n_trials):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stage, number, 0)))
            plan.append({name: dimension.sample(rng, 1)[0] for name, dimension in space.items()})
        return plan, []
    return _grid_plan(space, n_trials, seed, stage)


def _grid_plan(space, n_trials, seed, stage):
    choices = math.prod(len(dimension.options) for dimension in space.values() if isinstance(dimension, Choice))
    numeric = [name for name, dimension in space.items() if not isinstance(dimension, Choice)]
    if choices > n_trials:
        raise ValueError(f"grid_search: the Choice dimensions alone make {choices} combinations, more than "
                         f"n_trials={n_trials}")
    per_dimension = max(1, math.floor((n_trials / choices) ** (1 / len(numeric)) + 1e-9)) if numeric else 1
    values = {name: dimension.grid(per_dimension) for name, dimension in space.items()}
    plan = [dict(zip(values, point, strict=True)) for point in itertools.product(*values.values())]
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stage, 0, 2))).permutation(len(plan))
    counts = " x ".join(f"{len(values[name])} {name}" for name in values)
    note = (f"grid: {per_dimension} values per numeric dimension (floor(({n_trials} / {choices}) ** "
            f"(1/{len(numeric)}))); {counts} = {len(plan)} trials of a budget of {n_trials}")
    return [plan[index] for index in order], [note]


def _check_budget(n_trials, epochs):
    for name, value in (("n_trials", n_trials), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def _failure_notes(records) -> list[str]:
    failed = [record for record in records if record.status == "failed"]
    if not failed:
        return []
    first = failed[0]
    return [f"{len(failed)} trial(s) failed; e.g. trial {first.number} of stage {first.stage}: "
            f"{(first.error or '').splitlines()[0] if first.error else 'no error text'}"]


def best_trial(records, direction):
    """The best complete trial of ``records``, or None."""
    try:
        return SearchResult(trials=list(records), spaces=[{}], direction=direction).best
    except ValueError:
        return None


def edge_sides(space, params) -> dict[str, str]:
    """``{name: "low" | "high"}`` for each numeric parameter whose value is in the outer 10% of its range."""
    sides = {}
    for name, dimension in space.items():
        side = dimension.edge(params[name]) if name in params else None
        if side is not None:
            sides[name] = side
    return sides


def edge_notes_for(space, records, direction) -> list[tuple[str, str, str]]:
    """``(name, side, text)`` for each parameter whose best value (best complete trial) is at an edge."""
    best = best_trial(records, direction)
    if best is None:
        return []
    return [(name, side, edge_text(name, space[name], side, best.params[name]))
            for name, side in edge_sides(space, best.params).items()]


def edge_text(name, dimension, side, value) -> str:
    """``lr: the best value 0.083 is in the top 10% of [1e-06, 0.1] (log scale)``."""
    where = "top" if side == "high" else "bottom"
    scale = " (log scale)" if dimension.log else ""
    return f"{name}: the best value {value:.3g} is in the {where} 10% of [{dimension.low:g}, {dimension.high:g}]{scale}"


def last_edge_note(text, side) -> str:
    """An edge note where no stage follows: say where to look next."""
    beyond, way = ("above", "upward") if side == "high" else ("below", "downward")
    return f"{text}; the optimum may lie {beyond} it: search again with the range extended {way}"
