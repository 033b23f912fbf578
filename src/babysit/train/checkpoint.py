"""Crash-safe training checkpoints: everything a run needs to continue bit for bit.

A checkpoint holds the model's parameters and buffers, the optimizer's state (moments,
per-parameter step counts, hyperparameters), the trainer's step counter (the schedule's
position), the state of every random generator (the trainer's shuffling rng and each one
in the model, such as Dropout's), the history, the callbacks' state, and, when written
mid-epoch, that epoch's shuffled order and how far through it the run got. Resuming from
it on the same machine replays the same batches with the same dropout masks, so the run
ends with the same weights, bit for bit, as one that was never interrupted.

Files are written by :func:`babysit.serialization.save_arrays`: no pickle, a digest per
array, temp file + rename. Before ``last.npz`` is replaced, the current one is kept as
``last.prev.npz``, so even a checkpoint damaged after it was written (a full disk, a copy
cut short) leaves a good one to fall back to.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from babysit.errors import CheckpointError
from babysit.optim.optimizer import state_from_arrays, state_to_arrays
from babysit.serialization import encode_module, load_arrays, save_arrays

KIND = "training_checkpoint"
VERSION = 1


@dataclass
class EpochProgress:
    """How far the current epoch got: its shuffled order, the batches done and running sums."""

    order: np.ndarray
    batch: int = 0
    total_loss: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0  # time spent in the epoch before an interruption

    def to_dict(self) -> dict:
        return {"batch": self.batch, "total_loss": self.total_loss, "correct": self.correct, "seen": self.seen,
                "seconds": self.seconds}


@dataclass
class Checkpoint:
    """A checkpoint file as read back: its ``path``, ``arrays`` and JSON ``metadata``."""

    path: Path
    arrays: dict
    metadata: dict

    @property
    def epoch(self) -> int:
        return self.metadata["trainer"]["epoch"]

    @property
    def step(self) -> int:
        return self.metadata["trainer"]["step"]


def previous_path(path) -> Path:
    """Where the checkpoint before ``path`` is kept: ``last.npz`` -> ``last.prev.npz``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


# ------------------------------------------------------------------ writing
def save_checkpoint(trainer, path, *, keep_previous: bool = True) -> Path:
    """Write ``trainer``'s full state to ``path`` atomically.

    With ``keep_previous``, an existing ``path`` becomes :func:`previous_path` first
    (hard link + rename, so ``path`` itself never disappears).
    """
    path = Path(path)
    arrays, metadata = capture(trainer)
    if keep_previous and path.is_file():
        _keep_as_previous(path)
    save_arrays(path, arrays, metadata)
    return path


def _keep_as_previous(path: Path) -> None:
    previous = previous_path(path)
    link = previous.with_name(f".{previous.name}.link")
    link.unlink(missing_ok=True)
    try:
        os.link(path, link)
        os.replace(link, previous)
    except OSError:  # a file system without hard links: a rename leaves a short gap, covered by the fallback
        link.unlink(missing_ok=True)
        os.replace(path, previous)


def capture(trainer) -> tuple[dict[str, np.ndarray], dict]:
    """The trainer's state as arrays and a JSON-able document (see the module docstring)."""
    arrays = {f"model/{name}": value for name, value in trainer.model.state_dict().items()}
    optim_arrays, optim_meta = state_to_arrays(trainer.optimizer.state_dict())
    arrays.update({f"optim/{name}": value for name, value in optim_arrays.items()})
    arrays["history/batch_loss"] = np.asarray(trainer.history.batch_loss, dtype=np.float64)
    tree = _TreeWriter(arrays)
    progress = trainer.epoch_progress
    if progress is not None:
        arrays["epoch/order"] = progress.order
    metadata = {
        "kind": KIND,
        "checkpoint_version": VERSION,
        "saved_at": time.time(),
        "architecture": _architecture(trainer.model),
        "optimizer": {"class": type(trainer.optimizer).__name__, **optim_meta},
        "trainer": {
            "epoch": trainer.epoch, "step": trainer.step, "batch_size": trainer.batch_size,
            "train_size": trainer.train_size, "schedule_per": trainer.schedule_per,
            "schedule": _describe_schedule(trainer.schedule),
            "stop_training": bool(trainer.stop_training), "stop_reason": trainer.stop_reason,
            "stop_details": tree.add(trainer.stop_details),
        },
        "epoch_progress": None if progress is None else progress.to_dict(),
        "rng": tree.add({key: gen.bit_generator.state for key, gen in generators(trainer).items()}),
        "history": {"epochs": tree.add(trainer.history.epochs), "stop_reason": trainer.history.stop_reason},
        "callbacks": [{"class": type(cb).__name__, "state": tree.add(cb.state_dict())}
                      for cb in trainer.callbacks.callbacks],
    }
    return arrays, metadata


def generators(trainer) -> dict[str, np.random.Generator]:
    """Every numpy Generator the run draws from, by a stable name: the trainer's, the loss's
    and each module's (``model.2.rng`` for a Dropout at position 2)."""
    found = {"trainer.rng": trainer.rng}
    found.update(_generators_of(trainer.loss, "loss"))
    for path, module in trainer.model.named_modules():
        found.update(_generators_of(module, f"model.{path}" if path else "model"))
    return found


def _generators_of(owner, prefix: str) -> dict:
    return {f"{prefix}.{name}": value for name, value in vars(owner).items()
            if isinstance(value, np.random.Generator)}


def _architecture(model):
    try:
        return encode_module(model)
    except (TypeError, ValueError):  # a custom module with unsaved arguments: the arrays still resume it
        return None


def _describe_schedule(schedule):
    if schedule is None:
        return None
    if hasattr(schedule, "to_config"):
        return schedule.to_config()
    return repr(schedule)


class _TreeWriter:
    """Stores nested dicts/lists as JSON, moving numpy arrays into the npz (``tree/<n>``)."""

    def __init__(self, arrays: dict):
        self.arrays = arrays
        self.count = 0

    def add(self, value):
        if isinstance(value, np.ndarray):
            name = f"tree/{self.count}"
            self.arrays[name], self.count = value, self.count + 1
            return {"__array__": name}
        if isinstance(value, dict):
            return {str(key): self.add(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.add(item) for item in value]
        if isinstance(value, np.generic):
            return value.item()
        return value


def _read_tree(value, arrays: dict):
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]].copy()
        return {key: _read_tree(item, arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [_read_tree(item, arrays) for item in value]
    return value


# ------------------------------------------------------------------ reading
def read_checkpoint(path) -> Checkpoint:
    """Read and verify one checkpoint file; :class:`CheckpointError` naming it if it is unusable."""
    arrays, metadata = load_arrays(path)
    if metadata.get("kind") != KIND:
        raise CheckpointError(f"{path}: holds a {metadata.get('kind')!r}, not a training checkpoint")
    if metadata.get("checkpoint_version", 0) > VERSION:
        raise CheckpointError(f"{path}: written by a newer babysit "
                              f"(checkpoint version {metadata['checkpoint_version']})")
    return Checkpoint(Path(path), arrays, metadata)


def find_checkpoint(path) -> Checkpoint | None:
    """The newest readable checkpoint at ``path``, else its previous one (with a warning naming
    what was wrong with ``path``); ``None`` when neither file exists.

    Raises :class:`CheckpointError` naming both files when both exist but neither is readable.
    """
    path = Path(path)
    candidates = [path, previous_path(path)]
    if not any(candidate.exists() for candidate in candidates):
        return None
    problems = []
    for candidate in candidates:
        try:
            checkpoint = read_checkpoint(candidate)
        except CheckpointError as error:
            problems.append(str(error))
            continue
        if problems:
            warnings.warn(f"checkpoint unusable: {problems[0]}; resuming from the previous one, {candidate} "
                          f"(epoch {checkpoint.epoch}, step {checkpoint.step})", UserWarning, stacklevel=3)
        return checkpoint
    raise CheckpointError("no readable checkpoint: " + "; ".join(problems))


# ---------------------------------------------------------------- restoring
def restore(trainer, checkpoint: Checkpoint, train_size: int) -> None:
    """Put ``checkpoint``'s state into ``trainer`` (model, optimizer, rngs, history, counters)."""
    path, arrays, meta = checkpoint.path, checkpoint.arrays, checkpoint.metadata
    saved = meta["trainer"]
    _check_compatible(trainer, path, meta, train_size)
    model_state = _strip(arrays, "model/")
    try:
        trainer.model.load_state_dict(model_state)
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: its model does not fit this trainer's model: {error}") from error
    optim_meta = {key: value for key, value in meta["optimizer"].items() if key != "class"}
    try:
        trainer.optimizer.load_state_dict(state_from_arrays(_strip(arrays, "optim/"), optim_meta))
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: its optimizer state does not fit this optimizer: {error}") from error
    _restore_generators(trainer, path, _read_tree(meta["rng"], arrays))
    history = meta["history"]
    trainer.history.batch_loss = arrays["history/batch_loss"].tolist()
    trainer.history.epochs = _read_tree(history["epochs"], arrays)
    trainer.history.stop_reason = history["stop_reason"]
    trainer.epoch, trainer.step = int(saved["epoch"]), int(saved["step"])
    trainer.stop_training, trainer.stop_reason = bool(saved["stop_training"]), saved["stop_reason"]
    trainer.stop_details = _read_tree(saved["stop_details"], arrays)
    progress = meta["epoch_progress"]
    trainer.epoch_progress = None if progress is None else EpochProgress(order=arrays["epoch/order"].copy(), **progress)


def restore_callbacks(callbacks, checkpoint: Checkpoint) -> None:
    """Load each saved callback state into the callback of the same class and rank; callbacks
    that were not in the run (or are gone from it) are named in a warning."""
    arrays, saved = checkpoint.arrays, checkpoint.metadata["callbacks"]
    pending = {}
    for entry in saved:
        pending.setdefault(entry["class"], []).append(entry["state"])
    fresh = []
    for callback in callbacks:
        states = pending.get(type(callback).__name__)
        if states:
            callback.load_state_dict(_read_tree(states.pop(0), arrays))
        else:
            fresh.append(type(callback).__name__)
    dropped = [name for name, states in pending.items() for _ in states]
    changes = [f"new (starting fresh) {fresh}"] if fresh else []
    changes += [f"no longer present {dropped}"] if dropped else []
    if changes:
        warnings.warn(f"{checkpoint.path}: resuming with different callbacks: {'; '.join(changes)}",
                      UserWarning, stacklevel=3)


def _check_compatible(trainer, path, meta, train_size: int) -> None:
    saved = meta["trainer"]
    if meta["optimizer"]["class"] != type(trainer.optimizer).__name__:
        raise CheckpointError(f"{path}: written with optimizer {meta['optimizer']['class']}, "
                              f"this trainer has {type(trainer.optimizer).__name__}")
    if saved["batch_size"] != trainer.batch_size:
        raise CheckpointError(f"{path}: written with batch_size {saved['batch_size']}, "
                              f"this trainer has {trainer.batch_size}; resume with the same batch size")
    if saved["train_size"] not in (None, train_size):
        raise CheckpointError(f"{path}: written for a training set of {saved['train_size']} examples, "
                              f"got {train_size}; resume with the same data")
    if saved["schedule"] != _describe_schedule(trainer.schedule):
        warnings.warn(f"{path}: written with schedule {saved['schedule']!r}, resuming with "
                      f"{_describe_schedule(trainer.schedule)!r}", UserWarning, stacklevel=4)


def _restore_generators(trainer, path, states: dict) -> None:
    current = generators(trainer)
    if set(states) != set(current):
        raise CheckpointError(f"{path}: its random generators {sorted(states)} do not match this run's "
                              f"{sorted(current)}; build the model and trainer as in the saved run")
    for key, generator in current.items():
        generator.bit_generator.state = states[key]


def _strip(arrays: dict, prefix: str) -> dict:
    return {name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)}
