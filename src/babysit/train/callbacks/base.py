"""The Callback interface and the list that dispatches to several callbacks."""

from __future__ import annotations


class Callback:
    """Hooks called by :class:`~babysit.train.Trainer`; override the ones you need.

    Each receives the trainer (its ``model``, ``optimizer``, ``history``, ``step``,
    ``epoch``) and a ``logs`` dict:

    - ``on_train_begin(trainer, logs)``: ``{"epochs": total, "resumed": bool}``
    - ``on_epoch_begin(trainer, logs)``: ``{"epoch": e, "batch": b}`` (e 1-based; b is 0, or
      the batch a resumed epoch continues from)
    - ``on_batch_begin(trainer, logs)``: ``{"step": s, "batch": b}`` before the forward pass
    - ``on_batch_end(trainer, logs)``: ``{"step", "batch", "loss", "lr"}`` after the update;
      parameter gradients are still in ``p.grad``
    - ``on_epoch_end(trainer, logs)``: the epoch's row of the history (loss, accuracies, lr)
    - ``on_train_end(trainer, logs)``: ``{"stopped_early": bool, "stop_reason": str or None}``

    Call ``trainer.stop(reason, details)`` (or set ``trainer.stop_training = True``) to
    stop after the current batch.

    A callback whose state matters to the rest of the run (a best value, a counter)
    returns it from :meth:`state_dict`; the trainer's checkpoints store it, and a resumed
    run calls :meth:`load_state_dict` right after ``on_train_begin`` (so resetting state
    in ``on_train_begin`` is fine).
    """

    def on_train_begin(self, trainer, logs):
        pass

    def on_epoch_begin(self, trainer, logs):
        pass

    def on_batch_begin(self, trainer, logs):
        pass

    def on_batch_end(self, trainer, logs):
        pass

    def on_epoch_end(self, trainer, logs):
        pass

    def on_train_end(self, trainer, logs):
        pass

    def state_dict(self) -> dict:
        """State saved in checkpoints (e.g. EarlyStopping's best value), so a resumed run
        continues exactly: nested dicts (string keys) and lists of JSON values and numpy
        arrays. Stateless callbacks return ``{}``."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class CallbackList:
    """Calls every callback's hook in order."""

    HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_end", "on_train_end")

    def __init__(self, callbacks=()):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(callback).__name__}")

    def call(self, hook: str, trainer, logs) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(trainer, logs)
