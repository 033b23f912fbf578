"""Loss objects: ``loss = L(scores, y)`` returns a float, ``L.backward()`` returns dL/dscores.

They check what they are given (shapes, label range, NaN) and name the problem, since
a diverged network usually shows itself first here.
"""

from __future__ import annotations

import math

import numpy as np

from babysit.errors import InputError, NonFiniteError
from babysit.functional import losses as F


class Loss:
    """Base class. Subclasses implement ``_compute(scores, y) -> (loss, dscores)``."""

    #: True for losses on class labels; False for regression targets (MSE).
    takes_labels = True

    def __init__(self):
        self._dscores = None

    def __call__(self, scores, y) -> float:
        return self.forward(scores, y)

    def forward(self, scores, y) -> float:
        self._check(scores, y)
        loss, self._dscores = self._compute(scores, y)
        if not math.isfinite(loss):
            raise NonFiniteError(f"{self!r}: the loss is {loss}; lower the learning rate or check the data")
        return loss

    def backward(self):
        if self._dscores is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        return self._dscores

    def chance_loss(self, num_classes: int) -> float | None:
        """The loss of an untrained network with small weights (the babysitter's first check)."""
        return None

    def _compute(self, scores, y):
        raise NotImplementedError(f"{type(self).__name__} must implement _compute(scores, y)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _check(self, scores, y) -> None:
        where = repr(self)
        if getattr(scores, "dtype", None) is None or scores.dtype.kind != "f":
            raise InputError(where, f"scores must be a floating-point array, got {type(scores).__name__}")
        if scores.ndim != 2:
            raise InputError(where, f"scores must have shape (N, C), got {scores.shape}")
        if not np.isfinite(scores).all():
            bad = int((~np.isfinite(scores)).sum())
            raise NonFiniteError(
                f"{where}: {bad} of {scores.size} scores are NaN or infinite: the network diverged "
                "(learning rate too high?) or the input holds NaN/Inf"
            )
        if self.takes_labels:
            _check_labels(where, scores, y)
        elif np.shape(y) != scores.shape:
            raise InputError(where, f"targets must have the shape of the predictions {scores.shape}, got {np.shape(y)}")


def _check_labels(where: str, scores, y) -> None:
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise InputError(where, f"labels must be integers, got dtype {y.dtype}")
    if y.shape != (scores.shape[0],):
        raise InputError(
            where, f"labels must have shape ({scores.shape[0]},) to match scores {scores.shape}, got {y.shape}")
    num_classes = scores.shape[1]
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)]
        raise InputError(
            where, f"labels must be in [0, {num_classes}) for {num_classes} scores, got {bad[:5].tolist()}")


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by the negative log-likelihood of the right class (mean over the batch)."""

    def _compute(self, scores, y):
        return F.softmax_cross_entropy(scores, y)

    def chance_loss(self, num_classes: int) -> float:
        return math.log(num_classes)


class MulticlassHinge(Loss):
    """Multiclass SVM loss ``sum_{j != y} max(0, s_j - s_y + margin)`` (mean over the batch)."""

    def __init__(self, margin: float = 1.0):
        super().__init__()
        if not margin > 0:
            raise ValueError(f"MulticlassHinge: margin must be > 0, got {margin}")
        self.margin = float(margin)

    def _compute(self, scores, y):
        return F.multiclass_hinge(scores, y, self.margin)

    def chance_loss(self, num_classes: int) -> float:
        return (num_classes - 1) * self.margin

    def __repr__(self) -> str:
        return f"MulticlassHinge(margin={self.margin})"


class MSELoss(Loss):
    """Mean squared error over every element (PyTorch's ``reduction='mean'``)."""

    takes_labels = False

    def _compute(self, scores, y):
        return F.mean_squared_error(scores, np.asarray(y, dtype=scores.dtype))


class DistillationLoss(Loss):
    """Hinton et al. (2015): soft teacher targets at temperature ``T`` mixed with hard labels.

    ``L = alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)``.
    ``y`` is a pair ``(labels, teacher_scores)``, so the loss fits the ``L(scores, y)`` mould.
    """

    def __init__(self, temperature: float = 4.0, alpha: float = 0.9):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"DistillationLoss: temperature must be > 0, got {temperature}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"DistillationLoss: alpha must be in [0, 1], got {alpha}")
        self.temperature, self.alpha = float(temperature), float(alpha)

    def forward(self, scores, y) -> float:
        labels, teacher_scores = y
        if np.shape(teacher_scores) != np.shape(scores):
            raise InputError(
                repr(self), f"teacher scores {np.shape(teacher_scores)} must match student scores {np.shape(scores)}")
        return super().forward(scores, (labels, teacher_scores))

    def _check(self, scores, y) -> None:
        labels, _ = y
        super()._check(scores, labels)

    def _compute(self, scores, y):
        labels, teacher_scores = y
        teacher_scores = np.asarray(teacher_scores, dtype=scores.dtype)
        return F.distillation(scores, labels, teacher_scores, self.temperature, self.alpha)

    def chance_loss(self, num_classes: int) -> float:
        return (1.0 - self.alpha) * math.log(num_classes) if self.alpha < 1 else 0.0

    def __repr__(self) -> str:
        return f"DistillationLoss(temperature={self.temperature}, alpha={self.alpha})"
