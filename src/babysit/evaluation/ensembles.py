"""Model ensembles and snapshot ensembles (CS231n: "model ensembles" for a few extra percent).

Independently trained models make partly independent mistakes, so averaging their
predicted probabilities is usually better than the best of them. A snapshot ensemble gets
several members from one run: train with warm restarts (:func:`babysit.schedules.warm_restarts`)
and keep the model at the end of each cycle, where the rate is lowest
(Huang et al. 2017, "Snapshot Ensembles: Train 1, get M for free").

>>> ensemble = Ensemble([model_a, model_b, model_c])        # doctest: +SKIP
>>> print(format_table(ensemble.evaluate(x_test, y_test)))  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from babysit.errors import CheckpointError
from babysit.functional.losses import log_softmax
from babysit.nn.module import Module
from babysit.serialization import load
from babysit.train.callbacks.base import Callback

METHODS = ("mean", "vote")
_MANIFEST = "ensemble.json"


def model_scores(model: Module, x, batch_size: int = 256) -> np.ndarray:
    """``model``'s scores for ``x`` in evaluation mode, in batches; the mode is restored after."""
    x = np.asarray(x).astype(model.dtype, copy=False)
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


class Ensemble:
    """Several models that predict together.

    Parameters
    ----------
    models : sequence of Module
        Classifiers over the same classes, taking the same input.
    method : "mean" or "vote"
        ``"mean"`` averages the members' softmax probabilities; ``"vote"`` takes the
        majority of their predicted classes (ties go to the class with the larger mean
        probability), and ``predict_proba`` returns the fraction of votes per class.
    """

    def __init__(self, models, method: str = "mean"):
        models = list(models)
        if not models:
            raise ValueError("Ensemble: expected at least one model, got none")
        for index, model in enumerate(models):
            if not isinstance(model, Module):
                raise TypeError(f"Ensemble: member {index} is a {type(model).__name__}, expected a Module")
        if method not in METHODS:
            raise ValueError(f"Ensemble: method must be one of {METHODS}, got {method!r}")
        self.models, self.method = models, method

    def __len__(self) -> int:
        return len(self.models)

    def member_probabilities(self, x, batch_size: int = 256) -> np.ndarray:
        """Softmax probabilities of every member, shape ``(members, N, C)``."""
        scores = [model_scores(model, x, batch_size) for model in self.models]
        shapes = {s.shape for s in scores}
        if len(shapes) != 1:
            raise ValueError(f"Ensemble: members give scores of different shapes {sorted(shapes)}")
        return np.exp(np.stack([log_softmax(s.astype(np.float64)) for s in scores]))

    def predict_proba(self, x, batch_size: int = 256) -> np.ndarray:
        """Class probabilities ``(N, C)``: the mean of the members', or the vote fractions."""
        probabilities = self.member_probabilities(x, batch_size)
        if self.method == "mean":
            return probabilities.mean(axis=0)
        return self._vote_fractions(probabilities)

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """Predicted classes ``(N,)``."""
        probabilities = self.member_probabilities(x, batch_size)
        mean = probabilities.mean(axis=0)
        if self.method == "mean":
            return mean.argmax(axis=1)
        # Vote counts are multiples of 1/members; half a vote of mean probability breaks ties only.
        return (self._vote_fractions(probabilities) + 0.5 * mean / len(self)).argmax(axis=1)

    def log_proba(self, x, batch_size: int = 256) -> np.ndarray:
        """``log(predict_proba)`` clipped away from -inf: scores a teacher can hand to a student
        (``softmax(log p / T)`` is the ensemble's distribution at temperature ``T``)."""
        return np.log(np.maximum(self.predict_proba(x, batch_size), 1e-12))

    def evaluate(self, x, y, batch_size: int = 256) -> list[dict]:
        """Accuracy and negative log-likelihood of each member and of the ensemble.

        Returns rows ``{"model", "accuracy", "nll"}``: ``member 0`` ... then ``ensemble``
        (its ``nll`` is ``None`` for a vote, which gives no probabilities worth scoring);
        print them with :func:`format_table`.
        """
        y = np.asarray(y)
        probabilities = self.member_probabilities(x, batch_size)
        if y.shape != probabilities.shape[1:2]:
            raise ValueError(f"Ensemble.evaluate: y has shape {y.shape}, expected ({probabilities.shape[1]},)")
        rows = [_row(f"member {i}", p.argmax(axis=1), p, y) for i, p in enumerate(probabilities)]
        mean = probabilities.mean(axis=0)
        if self.method == "mean":
            rows.append(_row("ensemble (mean)", mean.argmax(axis=1), mean, y))
        else:
            predicted = (self._vote_fractions(probabilities) + 0.5 * mean / len(self)).argmax(axis=1)
            rows.append(_row("ensemble (vote)", predicted, None, y))
        return rows

    def save(self, path) -> None:
        """Write a directory: ``member_<i>.npz`` (``babysit.load`` each) and ``ensemble.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        names = []
        for index, model in enumerate(self.models):
            names.append(f"member_{index}.npz")
            model.save(path / names[-1])
        (path / _MANIFEST).write_text(json.dumps({"method": self.method, "members": names}, indent=2))

    def _vote_fractions(self, probabilities) -> np.ndarray:
        members, n, classes = probabilities.shape
        votes = np.zeros((n, classes))
        np.add.at(votes, (np.tile(np.arange(n), members), probabilities.argmax(axis=2).ravel()), 1.0)
        return votes / members

    def __repr__(self) -> str:
        return f"Ensemble({len(self)} members, method={self.method!r})"


def _row(name, predicted, probabilities, y) -> dict:
    nll = None
    if probabilities is not None:
        nll = float(-np.log(np.maximum(probabilities[np.arange(len(y)), y], 1e-12)).mean())
    return {"model": name, "accuracy": float((predicted == y).mean()), "nll": nll}


def load_ensemble(path) -> Ensemble:
    """Read an ensemble written by :meth:`Ensemble.save`."""
    path = Path(path)
    manifest = path / _MANIFEST
    if not manifest.is_file():
        raise CheckpointError(f"{path}: not an ensemble directory (no {_MANIFEST})")
    try:
        document = json.loads(manifest.read_text())
        names, method = list(document["members"]), document["method"]
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{manifest}: unreadable ensemble manifest: {error}") from error
    return Ensemble([load(path / name) for name in names], method=method)


def format_table(rows: list[dict]) -> str:
    """The rows of :meth:`Ensemble.evaluate` as an aligned text table."""
    lines = [f"{'model':<18} {'accuracy':>8} {'nll':>8}"]
    for row in rows:
        nll = "-" if row["nll"] is None else f"{row['nll']:.4f}"
        lines.append(f"{row['model']:<18} {row['accuracy']:>8.4f} {nll:>8}")
    return "\n".join(lines)


class SnapshotCollector(Callback):
    """Keep a copy of the model at the end of every warm-restart cycle.

    Parameters
    ----------
    cycle_ends : WarmRestarts schedule or iterable of int
        The schedule the trainer runs (a snapshot is taken whenever the next step or epoch
        would restart a cycle), or the step/epoch counts after which to take one.
    per : "batch" or "epoch"
        What the schedule counts; match the trainer's ``schedule_per``.

    Attributes
    ----------
    snapshots : list of Module
        Independent copies, oldest first; ``Ensemble(collector.snapshots)`` ensembles them.
    taken_at : list of int
        The step (or epoch) count at each snapshot.
    """

    def __init__(self, cycle_ends, per: str = "batch"):
        if per not in ("batch", "epoch"):
            raise ValueError(f"SnapshotCollector: per must be 'batch' or 'epoch', got {per!r}")
        if hasattr(cycle_ends, "cycle_position"):
            self._schedule, self._ends = cycle_ends, None
        else:
            ends = sorted({int(end) for end in cycle_ends})
            if not ends or ends[0] < 1:
                raise ValueError(f"SnapshotCollector: cycle_ends must be counts >= 1, got {ends}")
            self._schedule, self._ends = None, set(ends)
        self.per = per
        self.snapshots: list[Module] = []
        self.taken_at: list[int] = []

    def _cycle_ended(self, count: int) -> bool:
        if self._ends is not None:
            return count in self._ends
        return count > 0 and self._schedule.cycle_position(count)[0] == 0

    def _take(self, trainer, count: int) -> None:
        if self._cycle_ended(count) and count not in self.taken_at:
            self.snapshots.append(copy.deepcopy(trainer.model))
            self.taken_at.append(count)

    def on_batch_end(self, trainer, logs):
        if self.per == "batch":
            self._take(trainer, trainer.step)

    def on_epoch_end(self, trainer, logs):
        if self.per == "epoch":
            self._take(trainer, trainer.epoch)

    def state_dict(self) -> dict:
        # Arrays in the model's own state order, so a resumed run gets its earlier snapshots back.
        return {"taken_at": list(self.taken_at),
                "states": [list(snapshot.state_dict().values()) for snapshot in self.snapshots]}

    def load_state_dict(self, state: dict) -> None:
        self.snapshots, self.taken_at = [], [int(count) for count in state.get("taken_at", [])]
        self._pending_states = list(state.get("states", []))

    def on_train_begin(self, trainer, logs):
        self.snapshots, self.taken_at, self._pending_states = [], [], []

    def on_epoch_begin(self, trainer, logs):
        # Restored states need a model to fill: the trainer's (copied) once training resumes.
        pending, self._pending_states = getattr(self, "_pending_states", []), []
        for arrays in pending:
            snapshot = copy.deepcopy(trainer.model)
            snapshot.load_state_dict(dict(zip(snapshot.state_dict(), arrays, strict=True)))
            self.snapshots.append(snapshot)
