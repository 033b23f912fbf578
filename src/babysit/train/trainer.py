"""Trainer: mini-batch training with a progress bar and the lecture's epoch line.

The loop is the lecture's: sample a batch, forward it, get the loss, backprop, update.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from babysit.backend import as_rng
from babysit.errors import InputError
from babysit.train.callbacks.base import CallbackList
from babysit.train.history import History


class Trainer:
    """Train ``model`` on ``loss`` with ``optimizer``.

    Parameters
    ----------
    model : Module
    loss : Loss
    optimizer : babysit.optim.Optimizer
    schedule : callable step -> lr, optional
        Sets every parameter group's ``lr`` before each batch (``schedule_per="batch"``)
        or each epoch (``"epoch"``).
    penalties : sequence of L1Penalty / L2Penalty
        Added to the data loss (regularization in the loss).
    callbacks : sequence of Callback
        Hooks run at the start and end of training, epochs and batches.
    batch_size : int
    rng : None, int or Generator
        Shuffles the training set every epoch.
    verbose : bool
        Progress bar and one line per epoch on stderr.
    """

    def __init__(self, model, loss, optimizer, *, schedule=None, schedule_per: str = "batch", penalties=(),
                 callbacks=(), batch_size: int = 128, rng=None, verbose: bool = True):
        if schedule_per not in ("batch", "epoch"):
            raise ValueError(f"Trainer: schedule_per must be 'batch' or 'epoch', got {schedule_per!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Trainer: batch_size must be a positive int, got {batch_size!r}")
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.schedule, self.schedule_per = schedule, schedule_per
        self.penalties = list(penalties)
        self.callbacks = CallbackList(callbacks)
        self.stop_training = False
        self.batch_size = batch_size
        self.rng = as_rng(rng)
        self.verbose = verbose
        self.history = History()
        self.step = 0
        self.epoch = 0

    # ------------------------------------------------------------------ training
    def fit(self, train, val=None, epochs: int = 10) -> History:
        """Train for ``epochs`` passes over ``train = (x, y)``; ``val = (x, y)`` is evaluated each epoch."""
        x, y = self._prepare(train, "train")
        val = None if val is None else self._prepare(val, "val")
        self.model.needs_input_grad = False
        self.stop_training = False
        self.callbacks.call("on_train_begin", self, {"epochs": epochs})
        while self.epoch < epochs and not self.stop_training:
            self.epoch += 1
            started = time.perf_counter()
            self.callbacks.call("on_epoch_begin", self, {"epoch": self.epoch})
            if self.schedule is not None and self.schedule_per == "epoch":
                self._set_lr(self.schedule(self.epoch - 1))
            loss, accuracy = self._train_epoch(x, y, epochs)
            row = {"epoch": self.epoch, "loss": loss, "train_accuracy": accuracy}
            if val is not None:
                metrics = self.evaluate(*val)
                row.update(val_loss=metrics["loss"], val_accuracy=metrics.get("accuracy"))
            row.update(lr=self.current_lr(), seconds=time.perf_counter() - started)
            self.history.epochs.append(row)
            self._print_epoch(row, epochs)
            self.callbacks.call("on_epoch_end", self, row)
        self.callbacks.call("on_train_end", self, {"stopped_early": self.stop_training})
        return self.history

    def train_step(self, x_batch, y_batch) -> tuple[float, np.ndarray]:
        """One update on one mini-batch; returns the loss (data + penalties) and the scores."""
        if self.schedule is not None and self.schedule_per == "batch":
            self._set_lr(self.schedule(self.step))
        self.model.train()
        scores = self.model(x_batch)
        loss = self.loss(scores, y_batch) + sum(penalty(self.model) for penalty in self.penalties)
        self.model.zero_grad()
        self.model.backward(self.loss.backward())
        for penalty in self.penalties:
            penalty.backward(self.model)
        self.optimizer.step()
        self.step += 1
        self.history.batch_loss.append(loss)
        return loss, scores

    def _train_epoch(self, x, y, epochs):
        order = self.rng.permutation(len(x))
        starts = range(0, len(x), self.batch_size)
        bar = self._progress(starts, f"epoch {self.epoch}/{epochs}")
        total_loss = correct = seen = 0
        for batch, start in enumerate(bar):
            if self.stop_training:
                break
            index = order[start:start + self.batch_size]
            self.callbacks.call("on_batch_begin", self, {"step": self.step, "batch": batch})
            loss, scores = self.train_step(x[index], y[index])
            self.callbacks.call("on_batch_end", self, {"step": self.step - 1, "batch": batch, "loss": loss,
                                                       "lr": self.current_lr()})
            total_loss += loss * len(index)
            if self.loss.takes_labels:
                correct += int((scores.argmax(axis=1) == y[index]).sum())
            seen += len(index)
            if hasattr(bar, "set_postfix_str"):
                bar.set_postfix_str(f"loss {loss:.3f}", refresh=False)
        if not seen:  # stopped before the first batch of the epoch
            return float("nan"), None
        return total_loss / seen, (correct / seen if self.loss.takes_labels else None)

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
        for group in self.optimizer.param_groups:
            group["lr"] = lr

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

    def _progress(self, iterable, description):
        if not self.verbose:
            return iterable
        from tqdm.auto import tqdm  # noqa: PLC0415 - only when showing progress

        return tqdm(iterable, desc=description, leave=False, file=sys.stderr, dynamic_ncols=True)

    def _print_epoch(self, row, epochs):
        if not self.verbose:
            return
        parts = [f"epoch {row['epoch']}/{epochs}", f"loss {row['loss']:.3f}"]
        if row.get("train_accuracy") is not None:
            parts.append(f"train {row['train_accuracy']:.3f}")
        if row.get("val_accuracy") is not None:
            parts.append(f"val {row['val_accuracy']:.3f}")
        parts.append(f"lr {row['lr']:.1e}")
        print("  ".join(parts), file=sys.stderr, flush=True)
