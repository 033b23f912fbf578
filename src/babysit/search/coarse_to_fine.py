"""Coarse to fine: a short search over wide ranges, then longer ones over narrowed ranges.

The lecture's recipe (CS231n, "Training Neural Networks"): first a coarse stage, a few
epochs per trial over wide ranges, to see which regions work at all; then fine stages that
train longer over the region the best trials found. Each later stage narrows every
numeric range to the span of the previous stage's top ``keep_top`` complete trials (in
log space for log parameters; a :class:`~babysit.search.spaces.Choice` keeps the options
they used).

The edge check: when the best value of a parameter lies in the outer 10% of its range
(log space where log), the optimum may lie outside it. The range is then *widened* on
that side instead of narrowed: the edge moves out by half the range's width (half as many
decades again for a log parameter, :meth:`~babysit.search.spaces.Dimension.widened`),
never past the dimension's hard limits; the other side is narrowed as usual. The result's
notes say so in words, and after the last stage they say where to look next.
"""

from __future__ import annotations

import time

from babysit.search.records import SearchResult
from babysit.search.strategies import (
    DEFAULT_PRUNER,
    STRATEGIES,
    SearchOptions,
    best_trial,
    edge_notes_for,
    edge_text,
    last_edge_note,
    run_stage,
)


def coarse_to_fine(objective, space, stages, keep_top=5, strategy="random", *, seed=0, storage=None,
                   study_name="search", resume=False, n_jobs=1, executor=None, pruner=DEFAULT_PRUNER,
                   kill_factor=3.0, direction="maximize", verbose=True) -> SearchResult:
    """Run the stages ``[(n_trials, epochs), ...]`` in turn, narrowing the space after each.

    Parameters
    ----------
    objective, space
        As for :func:`~babysit.search.strategies.random_search`; ``space`` is stage 1's.
    stages : sequence of (n_trials, epochs)
        e.g. ``[(50, 3), (20, 15)]``: 50 trials of 3 epochs, then 20 of 15.
    keep_top : int
        How many of a stage's best complete trials span the next stage's ranges.
    strategy : {"random", "grid"}
        How each stage picks its trials.
    seed, storage, study_name, resume, n_jobs, executor, pruner, kill_factor, direction, verbose
        As for :func:`~babysit.search.strategies.random_search`. Stage ``k`` is the Optuna
        study ``f"{study_name}-stage{k}"``; a resumed search keeps finished stages and
        re-derives the later spaces from them (the same spaces: it is deterministic).

    Returns
    -------
    SearchResult
        Every stage's trials (``trial.stage`` = 1, 2, ...), ``spaces`` (one per stage) and
        ``notes`` (edge warnings, widened ranges, failures).
    """
    options = SearchOptions(seed, storage, study_name, resume, n_jobs, executor, pruner, kill_factor, direction,
                            verbose)
    stages = _check_stages(stages)
    if isinstance(keep_top, bool) or not isinstance(keep_top, int) or keep_top < 1:
        raise ValueError(f"coarse_to_fine: keep_top must be an int >= 1, got {keep_top!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"coarse_to_fine: strategy must be one of {STRATEGIES}, got {strategy!r}")
    started = time.perf_counter()
    spaces, trials, notes = [space], [], []
    for stage, (n_trials, epochs) in enumerate(stages, start=1):
        records, stage_notes = run_stage(objective, spaces[-1], n_trials, epochs, stage=stage,
                                         study_name=f"{study_name}-stage{stage}", strategy=strategy, options=options,
                                         description=f"stage {stage}/{len(stages)}")
        trials += records
        notes += [f"stage {stage}: {note}" for note in stage_notes]
        if stage < len(stages):
            next_space, space_notes = next_stage_space(spaces[-1], records, keep_top, direction)
            spaces.append(next_space)
            notes += [f"stage {stage}: {note}" for note in space_notes]
        else:
            notes += [f"stage {stage} (the last): {last_edge_note(text, side)}"
                      for _, side, text in edge_notes_for(spaces[-1], records, direction)]
    return SearchResult(trials=trials, spaces=spaces, direction=direction, notes=notes,
                        seconds=time.perf_counter() - started)


def next_stage_space(space, records, keep_top=5, direction="maximize") -> tuple[dict, list[str]]:
    """The next stage's space from this stage's records, and notes on the edges.

    Every range becomes the span of the ``keep_top`` best complete trials (at least 10% of
    its old width, :meth:`~babysit.search.spaces.Dimension.narrowed`); where the best value
    is in the outer 10%, that side is widened instead (:meth:`~babysit.search.spaces.
    Dimension.widened`). With no complete trial the space is kept as it is.
    """
    ranked = SearchResult(trials=list(records), spaces=[space], direction=direction).ranked()
    top = [trial for trial in ranked if trial.status == "complete"][:keep_top]
    best = best_trial(records, direction)
    if best is None:
        return dict(space), ["no complete trial to narrow the ranges from: the next stage keeps them"]
    new_space, notes = {}, []
    for name, dimension in space.items():
        narrowed = dimension.narrowed([trial.params[name] for trial in top])
        side = dimension.edge(best.params[name])
        if side is None:
            new_space[name] = narrowed
            continue
        widened = dimension.widened(side)
        low, high = (narrowed.low, widened.high) if side == "high" else (widened.low, narrowed.high)
        new_space[name] = dimension.with_range(low, high)
        text = edge_text(name, dimension, side, best.params[name])
        way = "upward" if side == "high" else "downward"
        if (widened.high, widened.low) == (dimension.high, dimension.low):
            notes.append(f"{text}; it is at its hard limit, so that side stays and the other is narrowed: "
                         f"[{low:g}, {high:g}]")
        else:
            notes.append(f"{text}; widening the range {way} to [{low:g}, {high:g}] instead of narrowing")
    return new_space, notes


def _check_stages(stages) -> list[tuple[int, int]]:
    try:
        pairs = [(n_trials, epochs) for n_trials, epochs in stages]
    except (TypeError, ValueError) as error:
        raise ValueError(f"coarse_to_fine: stages must be a list of (n_trials, epochs) pairs, "
                         f"got {stages!r}") from error
    if not pairs:
        raise ValueError("coarse_to_fine: stages must hold at least one (n_trials, epochs) pair, got none")
    return pairs
