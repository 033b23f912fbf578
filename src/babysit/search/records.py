"""What a search keeps of each trial, and the result of a whole search.

A :class:`TrialRecord` is everything needed to read a trial back without re-running it:
its parameters, its status, its per-epoch curve, its seed, how long it took and, when it
failed, the error. A :class:`SearchResult` holds the records of every stage, best first
on request, as a table or a CSV file.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field

#: The statuses a trial can end in. ``running`` is only seen in storage while a trial runs
#: (or after its driver was killed; a resumed search runs those again).
STATUSES = ("complete", "pruned", "diverged", "failed", "running")


@dataclass
class TrialRecord:
    """One trial of a search.

    Attributes
    ----------
    number : int
        The trial's number within its stage (0, 1, ...).
    stage : int
        1 for a one-stage search; 1, 2, ... for the stages of :func:`coarse_to_fine`.
    params : dict
        The hyperparameters, by name.
    status : str
        ``complete`` (trained its whole budget), ``pruned`` (stopped by the pruner: its
        score was in the bottom of its rung), ``diverged`` (its cost exceeded 3x its initial
        cost or turned NaN), ``failed`` (the objective raised, or its worker died) or
        ``running``.
    score : float or None
        The objective's value (higher is better when the search maximizes); for a pruned
        trial the last score it reported; ``None`` when there is none.
    epochs : int
        The budget the trial was given.
    curve : list of dict
        One row per epoch reported: ``{"epoch": e, "score": s, "loss": l}`` (``None``
        where not measured).
    seed : int
        The seed the trial's objective received.
    seconds : float
        Wall time of the trial in its worker.
    error : str or None
        Why the trial stopped early or failed, in words (the exception for ``failed``).
    """

    number: int
    stage: int
    params: dict
    status: str
    score: float | None = None
    epochs: int = 0
    curve: list = field(default_factory=list)
    seed: int = 0
    seconds: float = 0.0
    error: str | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"TrialRecord: status must be one of {STATUSES}, got {self.status!r}")

    @property
    def epochs_run(self) -> int:
        """Epochs actually trained (the last epoch reported)."""
        return max((row["epoch"] for row in self.curve), default=0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrialRecord:
        return cls(**data)


@dataclass
class SearchResult:
    """The trials of a search (every stage), and what the search said along the way.

    Attributes
    ----------
    trials : list of TrialRecord
    spaces : list of dict
        The space of each stage (name -> dimension of :mod:`babysit.search.spaces`).
    direction : str
        ``maximize`` (scores like accuracy) or ``minimize`` (losses).
    notes : list of str
        Warnings in words: a best value at the edge of its range, widened ranges, failed trials.
    seconds : float
        Wall time of the whole search, on the driver.
    """

    trials: list
    spaces: list
    direction: str = "maximize"
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def space(self) -> dict:
        """The last stage's space."""
        return self.spaces[-1]

    def stage(self, stage: int) -> list[TrialRecord]:
        return [trial for trial in self.trials if trial.stage == stage]

    def ranked(self, stage: int | None = None) -> list[TrialRecord]:
        """Trials with a finite score, best first (then the others, by number)."""
        trials = self.trials if stage is None else self.stage(stage)
        scored = [trial for trial in trials if _finite(trial.score) and trial.status in ("complete", "pruned")]
        sign = -1.0 if self.direction == "maximize" else 1.0
        # complete trials rank above pruned ones of the same score: they ran their full budget
        scored.sort(key=lambda trial: (sign * trial.score, trial.status != "complete", trial.stage, trial.number))
        rest = sorted((trial for trial in trials if trial not in scored), key=lambda trial: (trial.stage, trial.number))
        return scored + rest

    @property
    def best(self) -> TrialRecord:
        """The best complete trial of the last stage that has one (the search's answer)."""
        for stage in sorted({trial.stage for trial in self.trials}, reverse=True):
            complete = [trial for trial in self.ranked(stage) if trial.status == "complete" and _finite(trial.score)]
            if complete:
                return complete[0]
        raise ValueError("the search has no complete trial with a finite score "
                         f"(statuses: {self.status_counts()})")

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for trial in self.trials:
            counts[trial.status] += 1
        return {status: count for status, count in counts.items() if count}

    def seconds_saved(self) -> float:
        """Wall time the early stops saved: each diverged or pruned trial's unused epochs at
        its own measured seconds per epoch (trial time, summed over workers)."""
        saved = 0.0
        for trial in self.trials:
            run = trial.epochs_run
            if trial.status in ("diverged", "pruned") and run and trial.epochs > run:
                saved += trial.seconds / run * (trial.epochs - run)
        return saved

    def rows(self, stage: int | None = None) -> list[dict]:
        """One flat dict per trial, best first: the table's and the CSV's rows."""
        names = _param_names(self.trials)
        rows = []
        for trial in self.ranked(stage):
            row = {"stage": trial.stage, "trial": trial.number, "status": trial.status, "score": trial.score,
                   "epochs": trial.epochs_run, "budget": trial.epochs}
            row.update({name: trial.params.get(name) for name in names})
            row.update(seconds=round(trial.seconds, 3), seed=trial.seed, error=trial.error or "")
            rows.append(row)
        return rows

    def table(self, top: int | None = None, stage: int | None = None) -> str:
        """The results as aligned text, best first: ``top`` rows (all by default)."""
        rows = self.rows(stage)[:top]
        if not rows:
            return "(no trials)"
        columns = [column for column in rows[0] if column not in ("seed", "error")]
        cells = [[format_cell(row[column]) for column in columns] for row in rows]
        widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
        lines = ["  ".join(column.rjust(width) for column, width in zip(columns, widths, strict=True))]
        lines += ["  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
        return "\n".join(lines)

    def to_csv(self, path=None) -> str:
        """The rows as CSV (every column, errors included); written atomically to ``path`` if given."""
        rows = self.rows()
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        text = buffer.getvalue()
        if path is not None:
            from babysit.atomic import write_text  # noqa: PLC0415 - only when writing

            write_text(path, text)
        return text


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _param_names(trials) -> list[str]:
    names: list[str] = []
    for trial in trials:
        names += [name for name in trial.params if name not in names]
    return names


def format_cell(value) -> str:
    """A table cell: ``-`` for a missing (or non-finite) value, 4 significant digits for a float."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
