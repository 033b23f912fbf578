"""L2 and L1 penalties added to the data loss (regularization "in the loss"), and decoupled
weight decay (regularization "in the update").

A penalty is called on the model for its value (add it to the data loss) and its
``backward(model)`` adds its gradient into the parameters' ``grad`` after the model's
backward pass. By default penalties apply to parameters marked ``regularize`` (weights,
not biases or normalization scales); pass ``parameters=`` to choose others.

For plain SGD the two forms coincide: the L2 gradient ``lambda * W`` turns the step
``W - lr * (dW + lambda * W)`` into ``(1 - lr * lambda) * W - lr * dW``. For adaptive
methods (Adam) they differ, and decoupled decay (AdamW) is the one that generalizes
(Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization").
"""

from __future__ import annotations

import numpy as np


class _Penalty:
    def __init__(self, strength: float, parameters=None):
        if isinstance(strength, bool) or not isinstance(strength, (int, float, np.integer, np.floating)) \
                or not strength >= 0:
            raise ValueError(f"{type(self).__name__}: strength must be a number >= 0, got {strength!r}")
        self.strength = float(strength)
        self.parameters = None if parameters is None else list(parameters)

    def _selected(self, model):
        if self.parameters is not None:
            return self.parameters
        if model is None:
            raise TypeError(f"{type(self).__name__}: pass the model, or build the penalty with parameters=")
        return [p for p in model.parameters() if p.regularize]

    def get_config(self) -> dict:
        return {"strength": self.strength}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.strength})"


class L2Penalty(_Penalty):
    """``0.5 * lambda * sum ||W||^2``; its gradient ``lambda * W`` makes plain SGD shrink
    every weight by ``(1 - lr * lambda)`` per step (weight decay)."""

    def __call__(self, model=None) -> float:
        return 0.5 * self.strength * float(sum(np.vdot(p.data, p.data) for p in self._selected(model)))

    def backward(self, model=None) -> None:
        for p in self._selected(model):
            if p.requires_grad and self.strength:
                p.accumulate_grad(self.strength * p.data)


class L1Penalty(_Penalty):
    """``lambda * sum |W|``; gradient ``lambda * sign(W)`` drives small weights to exactly zero."""

    def __call__(self, model=None) -> float:
        return self.strength * float(sum(np.abs(p.data).sum() for p in self._selected(model)))

    def backward(self, model=None) -> None:
        for p in self._selected(model):
            if p.requires_grad and self.strength:
                p.accumulate_grad(self.strength * np.sign(p.data))


def decoupled_weight_decay(target, lr: float, weight_decay: float) -> None:
    """Shrink weights in place, ``W <- (1 - lr * weight_decay) * W``, apart from the gradient step.

    ``target`` is a Module (its ``regularize`` parameters) or an iterable of Parameters.
    Call it next to any optimizer's step to get decoupled weight decay (what AdamW builds
    in); for plain SGD it equals an :class:`L2Penalty` of the same strength.
    """
    if not lr >= 0 or not weight_decay >= 0:
        raise ValueError(f"decoupled_weight_decay: lr and weight_decay must be >= 0, got {lr!r} and {weight_decay!r}")
    is_model = hasattr(target, "parameters")
    for p in [p for p in target.parameters() if p.regularize] if is_model else list(target):
        if p.requires_grad:
            p.data *= p.data.dtype.type(1.0 - lr * weight_decay)
