"""L2 and L1 penalties added to the data loss (regularization "in the loss").

By default they apply to parameters marked ``regularize`` (weights, not biases or
normalization scales); pass ``parameters=`` to choose others.
"""

from __future__ import annotations

import numpy as np


class _Penalty:
    def __init__(self, strength: float, parameters=None):
        if not strength >= 0:
            raise ValueError(f"{type(self).__name__}: strength must be >= 0, got {strength}")
        self.strength = float(strength)
        self.parameters = None if parameters is None else list(parameters)

    def _selected(self, model):
        if self.parameters is not None:
            return self.parameters
        return [p for p in model.parameters() if p.regularize]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.strength})"


class L2Penalty(_Penalty):
    """``0.5 * lambda * sum ||W||^2``; its gradient ``lambda * W`` makes plain SGD shrink
    every weight by ``(1 - lr * lambda)`` per step (weight decay)."""

    def __call__(self, model) -> float:
        return 0.5 * self.strength * float(sum(np.vdot(p.data, p.data) for p in self._selected(model)))

    def backward(self, model) -> None:
        for p in self._selected(model):
            if p.requires_grad and self.strength:
                p.accumulate_grad(self.strength * p.data)


class L1Penalty(_Penalty):
    """``lambda * sum |W|``; gradient ``lambda * sign(W)`` drives small weights to exactly zero."""

    def __call__(self, model) -> float:
        return self.strength * float(sum(np.abs(p.data).sum() for p in self._selected(model)))

    def backward(self, model) -> None:
        for p in self._selected(model):
            if p.requires_grad and self.strength:
                p.accumulate_grad(self.strength * np.sign(p.data))
