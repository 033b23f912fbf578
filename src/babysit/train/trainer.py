"""Trainer: mini-batch training with a progress bar, the lecture's epoch line, and crash-safe resume.

The loop is the lecture's: sample a batch, forward it, get the loss, backprop, update.
With an ``out_dir`` the run writes its outputs as it goes (see :class:`Trainer`), so a
run killed at any instant loses at most the steps since its last checkpoint.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from babysit.backend import as_rng
from babysit.errors import InputError
from babysit.train.callbacks.base import CallbackList
from babysit.train.checkpoint import EpochProgress, find_checkpoint, previous_path, restore, restore_callbacks
from babysit.train.history import History
from babysit.train.run_dir import RunDirectory


class Trainer:
    """Train ``model`` on ``loss`` with ``optimizer``.

    Parameters
    ----------
    model : Module
    loss : Loss
    optimizer : babysit.optim.Optimizer
    schedule : callable step -> lr, optional
        Sets every parameter group's ``lr`` before each batch (``schedule_per="batch"``,
        called with the step count) or each epoch (``"epoch"``, called with epoch - 1).
        The schedule gives the first group's rate; the other groups keep the ratio they
        had to it, so fine-tuning's lower rate for pretrained layers survives a schedule.
    penalties : sequence of L1Penalty / L2Penalty
        Added to the data loss (regularization in the loss).
    transform : callable (x_batch, y_batch, rng) -> (x_batch, y_batch), optional
        Applied to every training batch before the update: data augmentation
        (:mod:`babysit.data.augment`, e.g. ``Compose(RandomHorizontalFlip(), RandomCrop(4))``).
        It draws from the trainer's ``rng``, so a resumed run augments exactly as an
        uninterrupted one. Validation, :meth:`evaluate` and :meth:`predict` see the data unchanged.
    callbacks : sequence of Callback
        Hooks run at the start and end of training, epochs and batches.
    batch_size : int
    rng : None, int or Generator
        Shuffles the training set every epoch.
    out_dir : str or Path, optional
        The run directory (:mod:`babysit.train.run_dir`). Written: ``history.json`` and
        ``history.csv`` after every epoch, ``checkpoints/last.npz`` (the full training
        state; the one before it kept as ``checkpoints/last.prev.npz``) after every epoch
        and every ``checkpoint_every`` steps, and ``model.npz`` (``babysit.load``) at the end.
    checkpoint_every : int, optional
        Also checkpoint every this many steps within an epoch, so that a killed run loses
        little; ``None`` checkpoints at the end of each epoch only.
    verbose : bool
        Progress bar (on a terminal) and one line per epoch on stderr.

    Notes
    -----
    A non-finite loss (the loss raises :class:`~babysit.errors.NonFiniteError`, or a
    floating-point error under ``np.errstate(all="raise")``) never crashes ``fit``: the
    run stops cleanly with ``stop_reason`` set and a warning, the history up to the last
    good step is kept, and no checkpoint is written after it, so the last good checkpoint
    survives. ``model.npz`` is written only if every parameter is finite.

    Attributes
    ----------
    history : History
    epoch, step : int
        Epochs started and optimizer steps taken (the schedule's position).
    stop_training : bool
        Set (by a callback, or :meth:`stop`) to stop after the current batch.
    stop_reason : str or None
        Why the run stopped early, in words.
    stop_details : dict or None
        The same as a :class:`~babysit.diagnostics.findings.Finding`'s fields (``name``,
        ``status``, ``measured``, ``expected``, ``advice``, ``data``), for reports.
    """

    def __init__(self, model, loss, optimizer, *, schedule=None, schedule_per: str = "batch", penalties=(),
                 transform=None, callbacks=(), batch_size: int = 128, rng=None, out_dir=None,
                 checkpoint_every: int | None = None, verbose: bool = True):
        if schedule_per not in ("batch", "epoch"):
            raise ValueError(f"Trainer: schedule_per must be 'batch' or 'epoch', got {schedule_per!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Trainer: batch_size must be a positive int, got {batch_size!r}")
        if checkpoint_every is not None and (not isinstance(checkpoint_every, int) or checkpoint_every < 1):
            raise ValueError(f"Trainer: checkpoint_every must be a positive int or None, got {checkpoint_every!r}")
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.schedule, self.schedule_per = schedule, schedule_per
        self._lr_ratios = _lr_ratios(optimizer.param_groups)
        self.penalties = list(penalties)
        if transform is not None and not callable(transform):
            raise TypeError(f"Trainer: transform must be a callable (x, y, rng) -> (x, y), got {transform!r}")
        self.transform = transform
        self.callbacks = CallbackList(callbacks)
        self.batch_size = batch_size
        self.rng = as_rng(rng)
        self.run_dir = None if out_dir is None else RunDirectory(out_dir)
        self.checkpoint_every = checkpoint_every
        self.verbose = verbose
        self.history = History()
        self.step = 0
        self.epoch = 0
        self.stop_training = False
        self.stop_reason: str | None = None
        self.stop_details: dict | None = None
        self.epoch_progress: EpochProgress | None = None  # set while an epoch runs
        self.train_size: int | None = None
        self._diverged = False

    @property
    def out_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir.path

    @property
    def checkpoint_path(self) -> Path | None:
        """``out_dir/checkpoints/last.npz``, or ``None`` without an ``out_dir``."""
        return None if self.run_dir is None else self.run_dir.checkpoint_path

    # ------------------------------------------------------------------ training
    def fit(self, train, val=None, epochs: int = 10, resume=False) -> History:
        """Train until ``epochs`` epochs are done (counting earlier ``fit`` calls) or a callback stops it.

        Parameters
        ----------
        train, val : pair (x, y)
            ``val`` is evaluated after each epoch.
        epochs : int
        resume : bool or path
            ``True`` continues from ``out_dir/checkpoints/last.npz`` (or, if that one is
            unreadable, ``last.prev.npz``, with a warning naming the file); a path
            continues from that checkpoint file, or from that run directory's. Build the trainer as for the saved run
            (same model, optimizer, schedule, batch size, rng seeding, data): the result is
            then bit-identical to a run that was never interrupted. With no checkpoint
            there yet, training starts from the beginning (with a warning). A run that had
            stopped early (early stopping, a non-finite loss) stays stopped.
        """
        x, y = self._prepare(train, "train")
        val = None if val is None else self._prepare(val, "val")
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be an int >= 0, got {epochs!r}")
        self.model.needs_input_grad = False
        self.train_size = len(x)
        checkpoint = self._start(resume)
        self.callbacks.call("on_train_begin", self, {"epochs": epochs, "resumed": checkpoint is not None})
        if checkpoint is not None:  # after on_train_begin, which may reset a callback's state
            restore_callbacks(self.callbacks.callbacks, checkpoint)
        while not self.stop_training and (self.epoch_progress is not None or self.epoch < epochs):
            self._run_epoch(x, y, val, epochs)
        self.history.stop_reason = self.stop_reason
        self.callbacks.call("on_train_end", self,
                            {"stopped_early": self.stop_training, "stop_reason": self.stop_reason})
        self._write_outputs(final=True)
        return self.history

    def stop(self, reason: str, details: dict | None = None) -> None:
        """Stop after the current batch, saying why (``stop_reason``) and, optionally, the
        measurement as a Finding-shaped dict (``stop_details``)."""
        self.stop_training = True
        self.stop_reason, self.stop_details = reason, details

    def train_step(self, x_batch, y_batch) -> tuple[float, np.ndarray]:
        """One update on one mini-batch; returns the loss (data + penalties) and the scores."""
        if self.schedule is not None and self.schedule_per == "batch":
            self._set_lr(self.schedule(self.step))
        self.model.train()
        self.model.needs_input_grad = False  # no gradient for the data: frozen lower layers skip backward
        scores = self.model(x_batch)
        loss = float(self.loss(scores, y_batch) + sum(penalty(self.model) for penalty in self.penalties))
        self.model.zero_grad()
        self.model.backward(self.loss.backward())
        for penalty in self.penalties:
            penalty.backward(self.model)
        self.optimizer.step()
        self.step += 1
        self.history.batch_loss.append(loss)
        return loss, scores

    def _start(self, resume):
        """Reset the stop state; restore a checkpoint when resuming. Returns it, or None."""
        self.stop_training, self.stop_reason, self.stop_details, self._diverged = False, None, None, False
        if resume is False or resume is None:
            self._start_fresh()
            return None
        path = self.checkpoint_path if resume is True else Path(resume)
        if path is not None and path.is_dir():  # a run directory
            path = RunDirectory(path).checkpoint_path
        if path is None:
            raise ValueError("Trainer.fit(resume=True) needs the Trainer's out_dir, or resume='path/to/last.npz'")
        checkpoint = find_checkpoint(path)
        if checkpoint is None:
            warnings.warn(f"no checkpoint at {path} (nor {previous_path(path).name}); training from the start",
                          UserWarning, stacklevel=3)
            self._start_fresh()
            return None
        restore(self, checkpoint, self.train_size)
        if self.run_dir is not None:
            self.run_dir.resumed_from(checkpoint.path)
        status = f"it had stopped: {self.stop_reason}" if self.stop_training else "continuing"
        self._say(f"resumed from {checkpoint.path} at epoch {self.epoch}, step {self.step}; {status}")
        return checkpoint

    def _start_fresh(self) -> None:
        if self.run_dir is not None:
            self.run_dir.start_fresh()

    def _run_epoch(self, x, y, val, epochs) -> None:
        started = time.perf_counter()
        if self.epoch_progress is None:
            self.epoch += 1
        resumed_at = 0 if self.epoch_progress is None else self.epoch_progress.batch
        self.callbacks.call("on_epoch_begin", self, {"epoch": self.epoch, "batch": resumed_at})
        if self.schedule is not None and self.schedule_per == "epoch":
            self._set_lr(self.schedule(self.epoch - 1))
        if self.epoch_progress is None:
            self.epoch_progress = EpochProgress(order=self.rng.permutation(len(x)))
        progress = self.epoch_progress
        self._train_batches(x, y, epochs, started)
        row = {"epoch": self.epoch, "loss": progress.total_loss / progress.seen if progress.seen else None,
               "train_accuracy": progress.correct / progress.seen if progress.seen and self.loss.takes_labels else None}
        if val is not None:  # a diverged model is not evaluated, but the row keeps its columns
            row.update({"val_loss": None, "val_accuracy": None} if self._diverged else self._validate(val))
        row.update(lr=self.current_lr(), seconds=progress.seconds + time.perf_counter() - started)
        self.epoch_progress = None
        self.history.epochs.append(row)
        self._print_epoch(row, epochs)
        self.callbacks.call("on_epoch_end", self, row)
        self._write_outputs()

    def _train_batches(self, x, y, epochs, started) -> None:
        progress, size = self.epoch_progress, self.batch_size
        batches = -(-len(x) // size)
        spent_before = progress.seconds
        bar = self._progress(range(progress.batch, batches), f"epoch {self.epoch}/{epochs}", batches, progress.batch)
        for batch in bar:
            if self.stop_training:
                break
            index = progress.order[batch * size:(batch + 1) * size]
            self.callbacks.call("on_batch_begin", self, {"step": self.step, "batch": batch})
            x_batch, y_batch = self._batch(x, y, index)
            try:
                loss, scores = self.train_step(x_batch, y_batch)
            except FloatingPointError as error:  # NonFiniteError included
                self._diverge(error)
                break
            self.callbacks.call("on_batch_end", self, {"step": self.step - 1, "batch": batch, "loss": loss,
                                                       "lr": self.current_lr()})
            progress.batch, progress.seen = batch + 1, progress.seen + len(index)
            progress.total_loss += loss * len(index)
            if self.loss.takes_labels:
                progress.correct += int((scores.argmax(axis=1) == y_batch).sum())
            if hasattr(bar, "set_postfix_str"):
                bar.set_postfix_str(f"loss {loss:.3f}", refresh=False)
            if self._checkpoint_due(batch + 1 < batches):
                progress.seconds = spent_before + time.perf_counter() - started
                self.run_dir.save_checkpoint(self)
        if hasattr(bar, "close"):
            bar.close()

    def _batch(self, x, y, index):
        """The training batch at ``index``, through ``transform`` (augmentation) when there is one."""
        if self.transform is None:
            return x[index], y[index]
        x_batch, y_batch = self.transform(x[index], y[index], self.rng)
        return np.asarray(x_batch).astype(self.model.dtype, copy=False), np.asarray(y_batch)

    def _checkpoint_due(self, mid_epoch: bool) -> bool:
        return (self.run_dir is not None and self.checkpoint_every is not None and mid_epoch
                and not self.stop_training and self.step % self.checkpoint_every == 0)

    def _validate(self, val) -> dict:
        try:
            metrics = self.evaluate(*val)
        except FloatingPointError as error:
            self._diverge(error, where="validation")
            return {"val_loss": None, "val_accuracy": None}
        return {"val_loss": metrics["loss"], "val_accuracy": metrics.get("accuracy")}

    def _diverge(self, error, where: str = "training") -> None:
        self._diverged = True
        reason = f"non-finite {where} loss at step {self.step} (epoch {self.epoch}): {error}"
        self.stop(reason, {
            "name": "non_finite_loss", "status": "fail", "measured": f"{where} loss not finite at step {self.step}",
            "expected": "a finite loss",
            "advice": "the learning rate is most likely too high: lower it 3-10x; else check the data and the init",
            "data": {"step": self.step, "epoch": self.epoch, "error": str(error)},
        })
        kept = f"; the last good checkpoint is {self.checkpoint_path}" if self.out_dir is not None else ""
        warnings.warn(f"training stopped: {reason}{kept}", UserWarning, stacklevel=4)

    # ---------------------------------------------------------------- run directory
    def _write_outputs(self, final: bool = False) -> None:
        """After an epoch: history and checkpoint (none after a non-finite loss, so the last
        good one survives). At the end: history and the model."""
        if self.run_dir is None:
            return
        self.history.stop_reason = self.stop_reason
        self.run_dir.save_history(self.history)
        if final:
            self.run_dir.save_model(self.model)
        elif not self._diverged:
            self.run_dir.save_checkpoint(self)

    # ---------------------------------------------------------------- inference
    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """Scores for ``x`` in eval mode, computed in batches."""
        x = self._cast(x, "x")
        was_training = self.model.training
        self.model.eval()
        try:
            size = batch_size or max(self.batch_size, 256)
            return np.concatenate([self.model(x[i:i + size]) for i in range(0, len(x), size)])
        finally:
            self.model.train(was_training)

    def evaluate(self, x, y, batch_size: int | None = None) -> dict:
        """Mean loss and (for labels) accuracy on ``(x, y)`` in eval mode."""
        x, y = self._prepare((x, y), "evaluate")
        scores = self.predict(x, batch_size)
        metrics = {"loss": self.loss(scores, y)}
        if self.loss.takes_labels:
            metrics["accuracy"] = float((scores.argmax(axis=1) == y).mean())
        return metrics

    # ------------------------------------------------------------------ helpers
    def current_lr(self) -> float:
        lr = self.optimizer.param_groups[0]["lr"]
        return float(lr(self.optimizer.step_count) if callable(lr) else lr)

    def _set_lr(self, lr: float) -> None:
        for group, ratio in zip(self.optimizer.param_groups, self._lr_ratios, strict=True):
            group["lr"] = lr * ratio

    def _cast(self, x, name):
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise InputError("Trainer", f"{name} must be numeric, got dtype {x.dtype}")
        x = x.astype(self.model.dtype, copy=False)
        if not np.isfinite(x).all():
            raise InputError("Trainer", f"{name} holds {int((~np.isfinite(x)).sum())} NaN or infinite values")
        return x

    def _prepare(self, data, name):
        try:
            x, y = data
        except (TypeError, ValueError) as error:
            raise InputError("Trainer", f"{name} must be a pair (x, y), got {type(data).__name__}") from error
        x, y = self._cast(x, f"{name} x"), np.asarray(y)
        if len(x) != len(y):
            raise InputError("Trainer", f"{name}: x has {len(x)} examples but y has {len(y)}")
        return x, y

    def _progress(self, iterable, description, total, initial):
        if not self.verbose:
            return iterable
        from tqdm.auto import tqdm  # noqa: PLC0415 - only when showing progress

        # disable=None: no bar when stderr is not a terminal (logs, CI), only the epoch lines
        return tqdm(iterable, desc=description, total=total, initial=initial, leave=False, file=sys.stderr,
                    dynamic_ncols=True, disable=None)

    def _say(self, message: str) -> None:
        if self.verbose:
            print(message, file=sys.stderr, flush=True)

    def _print_epoch(self, row, epochs):
        if self.verbose:
            print(format_epoch_line(row, epochs), file=sys.stderr, flush=True)


def format_epoch_line(row: dict, epochs: int) -> str:
    """The lecture's line: ``epoch 3/10  loss 1.942  train 0.376  val 0.352  lr 3.0e-03``."""
    parts = [f"epoch {row['epoch']}/{epochs}", f"loss {_number(row.get('loss'))}"]
    if row.get("train_accuracy") is not None:
        parts.append(f"train {row['train_accuracy']:.3f}")
    if row.get("val_accuracy") is not None:
        parts.append(f"val {row['val_accuracy']:.3f}")
    elif row.get("val_loss") is not None:  # regression: no accuracy, show the validation loss
        parts.append(f"val_loss {row['val_loss']:.3f}")
    parts.append(f"lr {row['lr']:.1e}")
    return "  ".join(parts)


def _number(value) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.3f}"


def _lr_ratios(groups) -> list[float]:
    """Each group's rate relative to the first group's (1 where a rate is a schedule or 0)."""
    first = groups[0]["lr"] if groups else None
    if not isinstance(first, (int, float)) or first <= 0:
        return [1.0] * len(groups)
    return [group["lr"] / first if isinstance(group["lr"], (int, float)) else 1.0 for group in groups]
