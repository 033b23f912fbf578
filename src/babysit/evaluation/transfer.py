"""Transfer learning: a new head, frozen lower layers, lower rates for pretrained layers.

CS231n's recipe: with little data, retrain only the top of a pretrained network; with more,
fine-tune more of it at a lower rate (about a tenth of the rate of the new layers), and
optionally unfreeze it from the top down as training goes on (Howard & Ruder 2018, ULMFiT).
"Modules" here are the layers of a :class:`~babysit.nn.Sequential` that hold parameters,
counted from the output: ``k = 1`` is the head.

>>> replace_head(model, num_classes=5, rng=0)                  # doctest: +SKIP
>>> groups = fine_tune_param_groups(model, k=1, base_lr=1e-2)  # doctest: +SKIP
>>> optimizer = optim.Adam(groups)                              # doctest: +SKIP

Frozen parameters (``requires_grad = False``) get no update, and the layers skip
computing their weight and bias gradients (``grad`` stays ``None``).
"""

from __future__ import annotations

from babysit.nn.containers import Sequential
from babysit.nn.linear import Linear
from babysit.nn.module import Module, Parameter
from babysit.train.callbacks.base import Callback


def _check_sequential(model, where: str) -> None:
    if not isinstance(model, Sequential):
        raise TypeError(f"{where}: expected a Sequential model, got {type(model).__name__}")


def trainable_layers(model: Sequential) -> list[int]:
    """Indices of the layers of ``model`` that hold parameters, from the input up."""
    _check_sequential(model, "trainable_layers")
    return [index for index, layer in enumerate(model) if layer.parameters()]


def replace_head(model: Sequential, num_classes: int, rng=None) -> Linear:
    """Replace the last parameterized layer (a ``Linear``) by a fresh one with ``num_classes`` outputs.

    The new head is He-initialized from ``rng``, in the model's dtype, and trainable;
    returns it. The model is changed in place.
    """
    indices = trainable_layers(model)
    if not indices or not isinstance(model[indices[-1]], Linear):
        last = type(model[indices[-1]]).__name__ if indices else None
        raise TypeError(f"replace_head: the last layer with parameters must be a Linear, got {last}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"replace_head: num_classes must be a positive int, got {num_classes!r}")
    old = model[indices[-1]]
    head = Linear(old.in_features, num_classes, bias=old.bias is not None, rng=rng, dtype=model.dtype)
    model[indices[-1]] = head
    return head


def _split(model: Sequential, k: int, where: str) -> tuple[list[Module], list[Module]]:
    """(lower, top) parameterized layers, top being the last ``k``."""
    indices = trainable_layers(model)
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(indices):
        raise ValueError(f"{where}: k must be an int in [0, {len(indices)}] (the layers with parameters), got {k!r}")
    cut = len(indices) - k
    return [model[i] for i in indices[:cut]], [model[i] for i in indices[cut:]]


def freeze_all_but(model: Sequential, k: int) -> list[Parameter]:
    """Freeze every parameterized layer except the top ``k``, which are unfrozen.

    Returns the trainable parameters (those of the top ``k`` layers).
    """
    lower, top = _split(model, k, "freeze_all_but")
    for layer in lower:
        layer.freeze()
    for layer in top:
        layer.unfreeze()
    return [p for layer in top for p in layer.parameters()]


def fine_tune_param_groups(model: Sequential, k: int, base_lr: float, pretrained_lr_factor: float = 0.1) -> list[dict]:
    """Optimizer parameter groups: the top ``k`` layers at ``base_lr``, the rest at ``base_lr * factor``.

    Every parameter is unfrozen; pass ``pretrained_lr_factor=0`` or use :func:`freeze_all_but`
    to keep the lower layers fixed. A Trainer ``schedule`` keeps the groups' ratio (the
    first group, the head, follows the schedule; the others stay ``factor`` times it).
    """
    if not base_lr >= 0 or not pretrained_lr_factor >= 0:
        raise ValueError(f"fine_tune_param_groups: base_lr and pretrained_lr_factor must be >= 0, "
                         f"got {base_lr!r} and {pretrained_lr_factor!r}")
    lower, top = _split(model, k, "fine_tune_param_groups")
    for layer in lower + top:
        layer.unfreeze()
    groups = [{"params": [p for layer in top for p in layer.parameters()], "lr": float(base_lr)}]
    pretrained = [p for layer in lower for p in layer.parameters()]
    if pretrained:
        groups.append({"params": pretrained, "lr": float(base_lr) * float(pretrained_lr_factor)})
    return groups


class ProgressiveUnfreezing(Callback):
    """Start with the top ``k`` layers trainable; unfreeze one more every ``every`` epochs.

    The optimizer must hold every parameter (e.g. from :func:`fine_tune_param_groups`, or
    ``model.parameters()``): it skips frozen ones until they are unfrozen.

    Parameters
    ----------
    model : Sequential
    k : int
        Parameterized layers trainable at the start (counted from the output).
    every : int
        Epochs between unfreezing steps.
    """

    def __init__(self, model: Sequential, k: int = 1, every: int = 1):
        _split(model, k, "ProgressiveUnfreezing")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"ProgressiveUnfreezing: every must be a positive int, got {every!r}")
        self.model, self.k, self.every = model, k, every
        self.trainable = k

    def _apply(self) -> None:
        self.trainable = min(self.trainable, len(trainable_layers(self.model)))
        freeze_all_but(self.model, self.trainable)

    def on_train_begin(self, trainer, logs):
        self.trainable = self.k
        self._apply()

    def on_epoch_end(self, trainer, logs):
        if trainer.epoch % self.every == 0:
            self.trainable += 1
            self._apply()

    def state_dict(self) -> dict:
        return {"trainable": self.trainable}

    def load_state_dict(self, state: dict) -> None:
        self.trainable = int(state["trainable"])
        self._apply()
