"""The end-of-training diagnosis from the train and validation curves, following the course note.

Look at training performance first, then validation. When training is bad the model
underfits, whatever the validation score: it is not overfitting, and regularization (dropout,
L2) would make it worse; fix capacity, learning rate or initialization. Only when training is
good and validation is clearly worse is it overfitting: regularize (dropout, L2, data
augmentation, early stopping on the validation loss) or get more data. Train and validation
equal -> no overfitting, so more capacity is where the next gain is.
"""

from __future__ import annotations

import math
import numbers

from babysit.diagnostics.findings import Finding
from babysit.train.callbacks.early_stopping import EarlyStopping
from babysit.train.callbacks.model_checkpoint import ModelCheckpoint

_FIX_TRAINING = ("more capacity (wider or deeper layers), a better learning rate (run the learning-rate range "
                 "test), a better initialization (He for ReLU, Xavier for tanh) or batch normalization; do not add "
                 "dropout or L2 yet, they make training worse")
_REGULARIZE = ("regularize: dropout, L2 weight decay, data augmentation, early stopping on the validation loss "
               "(keep the best checkpoint), or more training data")


def diagnose(history, *, good_accuracy: float = 0.9, gap: float = 0.1, loss_gap: float = 2.0,
             chance_accuracy: float | None = None, val_rise: float = 0.05, callbacks=()) -> list[Finding]:
    """Diagnose a finished run from its per-epoch metrics.

    Parameters
    ----------
    history : History, or a dict with ``"epochs"`` (``History.to_dict()``)
        Rows with ``loss`` and, when available, ``train_accuracy``, ``val_loss``,
        ``val_accuracy``. The last epoch is judged.
    good_accuracy : float
        Training accuracy from which training counts as good.
    gap : float
        A train-minus-validation accuracy above this is a real gap (overfitting).
    loss_gap : float
        Without accuracies (regression) the gap is judged on the losses: a validation loss
        more than ``loss_gap`` times the training loss.
    chance_accuracy : float, optional
        Accuracy of guessing (1/C); training accuracy barely above it fails.
    val_rise : float
        A final validation loss this fraction above its best epoch's asks for early stopping.
    callbacks : sequence of Callback
        The run's callbacks. An :class:`EarlyStopping` with ``restore_best`` or a
        :class:`ModelCheckpoint` saving the best model, on a validation metric, already
        follows the early-stopping advice: the ``early_stopping`` finding then says which
        epoch they keep instead of asking for them.

    Returns
    -------
    list of Finding
        ``train_performance`` (when there is a training accuracy), ``overfitting`` and
        ``early_stopping`` (when there is validation data).
    """
    if not 0 < good_accuracy <= 1 or not 0 < gap < 1 or not loss_gap > 1 or not val_rise > 0:
        raise ValueError(f"diagnose: need 0 < good_accuracy <= 1, 0 < gap < 1, loss_gap > 1 and val_rise > 0, "
                         f"got good_accuracy={good_accuracy}, gap={gap}, loss_gap={loss_gap}, val_rise={val_rise}")
    rows = history.epochs if hasattr(history, "epochs") else history.get("epochs", [])
    rows = [row for row in rows if _finite(row.get("loss"))]
    if not rows:
        return []
    last = rows[-1]
    train, val = last.get("train_accuracy"), last.get("val_accuracy")
    findings = []
    train_good = None
    if _finite(train):
        train_good = train >= good_accuracy
        findings.append(_train_performance(rows, train, val, good_accuracy, gap, chance_accuracy))
    if _finite(val) and _finite(train):
        findings.append(_gap_by_accuracy(train, val, train_good, good_accuracy, gap))
    elif _finite(last.get("val_loss")):
        findings.append(_gap_by_loss(last["loss"], last["val_loss"], loss_gap))
    if _finite(last.get("val_loss")):
        findings.append(_early_stopping(rows, val_rise, callbacks))
    return findings


def _train_performance(rows, train, val, good_accuracy, gap, chance) -> Finding:
    measured = f"training accuracy {train:.3f}" + (f" (validation {val:.3f})" if _finite(val) else "")
    expected = f"at least {good_accuracy:.2f} before judging validation"
    data = {"train_accuracy": train, "val_accuracy": val, "good_accuracy": good_accuracy}
    if train >= good_accuracy:
        return Finding("train_performance", "ok", measured, expected, data=data)
    still_falling = _still_falling(rows)
    data["still_falling"] = still_falling
    hints = []
    if still_falling:
        hints.append("the training loss is still falling: train longer")
    if _finite(val) and train - val <= gap:
        hints.append("train and validation are close (no gap), so the model is too small: give it more capacity")
    near_chance = chance is not None and train < chance + 0.1 * (1 - chance)
    opening = (f"training accuracy is {train:.3f}, barely above chance ({chance:.3f}): the model is not learning"
               if near_chance else f"training accuracy is only {train:.3f}: the model underfits")
    advice = (f"{opening}. This is not overfitting (look at training first). "
              + "".join(hint[0].upper() + hint[1:] + ". " for hint in hints) + f"Fix the training: {_FIX_TRAINING}")
    return Finding("train_performance", "fail" if near_chance else "warn", measured, expected, advice, data)


def _gap_by_accuracy(train, val, train_good, good_accuracy, gap) -> Finding:
    difference = train - val
    measured = f"train {train:.3f}, validation {val:.3f} (gap {difference:.3f})"
    expected = f"a gap under {gap:.2f} with training accuracy at least {good_accuracy:.2f}"
    data = {"train_accuracy": train, "val_accuracy": val, "gap": difference}
    if not train_good:
        data["verdict"] = "underfitting"
        return Finding("overfitting", "ok", measured, expected,
                       "not overfitting: training itself is not good yet (see train_performance); "
                       "fix the training before regularizing: " + _FIX_TRAINING, data)
    if difference > gap:
        data["verdict"] = "overfitting"
        return Finding("overfitting", "warn", measured, expected,
                       f"overfitting: training is good ({train:.3f}) but validation is {difference:.3f} lower; "
                       + _REGULARIZE, data)
    data["verdict"] = "no_gap"
    return Finding("overfitting", "ok", measured, expected,
                   "no gap between train and validation: not overfitting; if validation must go higher, add "
                   "capacity (wider or deeper layers)", data)


def _gap_by_loss(train_loss, val_loss, limit) -> Finding:
    measured = f"train loss {train_loss:.4g}, validation loss {val_loss:.4g}"
    expected = f"a validation loss under {limit:.2g}x the training loss"
    data = {"loss": train_loss, "val_loss": val_loss}
    if train_loss > 0 and val_loss > limit * train_loss:
        data["verdict"] = "overfitting"
        return Finding("overfitting", "warn", measured, expected,
                       "the validation loss is far above the training loss: if the training loss is good for "
                       f"your task, this is overfitting; {_REGULARIZE}. If the training loss is not good yet, fix "
                       "training first", data)
    data["verdict"] = "no_gap"
    return Finding("overfitting", "ok", measured, expected,
                   "no gap: if the training loss is not good enough, add capacity", data)


def _early_stopping(rows, val_rise, callbacks=()) -> Finding:
    losses = [(row.get("epoch", index + 1), row["val_loss"]) for index, row in enumerate(rows)
              if _finite(row.get("val_loss"))]
    best_epoch, best = min(losses, key=lambda pair: pair[1])
    last_epoch, last = losses[-1]
    measured = f"validation loss lowest {best:.4g} at epoch {best_epoch}, {last:.4g} at the last epoch ({last_epoch})"
    expected = f"the last epoch within {val_rise:.0%} of the best"
    data = {"best_epoch": best_epoch, "best_val_loss": best, "last_val_loss": last}
    if last <= best + val_rise * abs(best):
        return Finding("early_stopping", "ok", measured, expected, data=data)
    kept, unrestored = _kept_best(callbacks)
    if kept:
        data["kept_by"] = [keeper for keeper, _, _ in kept]
        data["kept_epoch"] = kept[0][1]
        return Finding("early_stopping", "ok", f"{measured}; " + "; ".join(text for _, _, text in kept),
                       f"{expected}, or the best model kept", data=data)
    advice = (f"the validation loss rose after epoch {best_epoch}: stop early on the validation loss "
              "(EarlyStopping(monitor='val_loss', restore_best=True)) or keep the best checkpoint "
              "(ModelCheckpoint); a rising validation loss while training improves is overfitting")
    if unrestored is not None:
        stopped = (f"stopped at epoch {unrestored.stopped_epoch}" if unrestored.stopped_epoch is not None
                   else f"had not stopped yet (patience {unrestored.patience})")
        advice = (f"EarlyStopping {stopped}, but without restore_best the model keeps the last epoch's weights, "
                  f"not those of its best epoch ({unrestored.best_epoch}): pass restore_best=True or add a "
                  "ModelCheckpoint")
    return Finding("early_stopping", "warn", measured, expected, advice, data)


def _kept_best(callbacks):
    """What already keeps the best model: ``([(callback name, epoch, sentence)], EarlyStopping without restore)``.

    Only callbacks watching a validation metric count: the training loss keeps falling while
    the model overfits.
    """
    kept, unrestored = [], None
    for callback in callbacks:
        if isinstance(callback, EarlyStopping) and _on_validation(callback) and callback.best_epoch is not None:
            if not callback.restore_best:
                unrestored = callback
                continue
            stopped = (f"stopped at epoch {callback.stopped_epoch} and " if callback.stopped_epoch is not None
                       else "")
            kept.append(("EarlyStopping", callback.best_epoch,
                         f"EarlyStopping {stopped}restores the weights of epoch {callback.best_epoch} "
                         f"(best {callback.metric.monitor})"))
        elif (isinstance(callback, ModelCheckpoint) and _on_validation(callback) and callback.save_best
              and callback.best_epoch is not None):
            where = f" in {callback.best_path}" if callback.best_path is not None else ""
            kept.append(("ModelCheckpoint", callback.best_epoch,
                         f"the best model (epoch {callback.best_epoch}, by {callback.metric.monitor}) is kept by "
                         f"ModelCheckpoint{where}"))
    return kept, unrestored


def _on_validation(callback) -> bool:
    return callback.metric.monitor.startswith("val_")


def _still_falling(rows, fraction: float = 0.05) -> bool:
    """Whether the training loss fell by more than ``fraction`` over the last quarter of the epochs."""
    count = max(2, math.ceil(len(rows) / 4))
    if len(rows) < 2:
        return False
    recent = [row["loss"] for row in rows[-count:]]
    return recent[0] - recent[-1] > fraction * abs(recent[0])


def _finite(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
