"""Knowledge distillation: train a small student on a teacher's softened predictions.

The teacher's probabilities at a temperature ``T > 1`` carry "dark knowledge" (which wrong
classes look alike) that one-hot labels lack, so a student trained to match them usually
beats the same student trained on labels alone (Hinton, Vinyals & Dean 2015).

>>> trainer = distill(teacher, student, (x_train, y_train), epochs=30)  # doctest: +SKIP
>>> trainer.evaluate(x_test, y_test)                                     # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from babysit.evaluation.ensembles import Ensemble, model_scores
from babysit.nn.losses import DistillationLoss, SoftmaxCrossEntropy
from babysit.nn.module import Module


def teacher_scores(teacher, x, batch_size: int = 256) -> np.ndarray:
    """The teacher's scores (logits) for ``x``: a model's own, or an ensemble's log mean probabilities."""
    if isinstance(teacher, Ensemble):
        return teacher.log_proba(x, batch_size)
    if isinstance(teacher, Module):
        return model_scores(teacher, x, batch_size)
    raise TypeError(f"teacher must be a Module or an Ensemble, got {type(teacher).__name__}")


def pack_targets(labels, scores) -> np.ndarray:
    """One array per example ``[label, teacher score 0, ..., teacher score C-1]``, so the
    Trainer can shuffle and batch labels and teacher scores together."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels.ndim != 1 or scores.ndim != 2 or len(labels) != len(scores):
        raise ValueError(f"pack_targets: expected labels (N,) and scores (N, C), got {labels.shape} and {scores.shape}")
    return np.concatenate([labels[:, None].astype(np.float64), scores], axis=1)


class PackedDistillationLoss(DistillationLoss):
    """:class:`~babysit.nn.DistillationLoss` on targets from :func:`pack_targets`.

    ``takes_labels`` is False because the targets are not bare labels (the Trainer then
    reports the loss only); measure accuracy with a plain model evaluation.
    """

    takes_labels = False

    def forward(self, scores, y) -> float:
        y = np.asarray(y)
        if y.ndim != 2 or y.shape[1] != np.shape(scores)[-1] + 1:
            raise ValueError(f"{self!r}: packed targets must have shape (N, 1 + C) = (N, {np.shape(scores)[-1] + 1}), "
                             f"got {y.shape}")
        labels = y[:, 0].astype(np.int64)
        return super().forward(scores, (labels, y[:, 1:]))

    def _check(self, scores, y) -> None:
        labels, _ = y
        SoftmaxCrossEntropy()._check(scores, labels)  # scores finite (N, C), labels in range

    def __repr__(self) -> str:
        return f"PackedDistillationLoss(temperature={self.temperature}, alpha={self.alpha})"


def distill(teacher, student: Module, train, val=None, *, temperature: float = 4.0, alpha: float = 0.9,
            optimizer=None, lr: float = 1e-2, epochs: int = 10, batch_size: int = 100, schedule=None,
            callbacks=(), rng=None, verbose: bool = False, teacher_view=None):
    """Train ``student`` on ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE``.

    Parameters
    ----------
    teacher : Module or Ensemble
        Scored once on the training (and validation) inputs, in evaluation mode.
    student : Module
        Trained in place.
    train, val : pair (x, labels)
    temperature, alpha : float
        See :class:`~babysit.nn.DistillationLoss`.
    optimizer : Optimizer, optional
        Default: Adam at ``lr`` over the student's parameters.
    epochs, batch_size, schedule, callbacks, rng, verbose
        Passed to the :class:`~babysit.train.Trainer`.
    teacher_view : callable, optional
        Maps the student's inputs to the teacher's when their shapes differ (a CNN teacher
        on ``(N, 1, 40)``, an MLP student on ``(N, 40)``).

    Returns
    -------
    Trainer
        Its ``loss`` is the distillation loss; ``trainer.model`` is the student.
    """
    from babysit.optim import Adam  # noqa: PLC0415 - optim imports nn; keep this module light
    from babysit.train.trainer import Trainer  # noqa: PLC0415

    view = (lambda inputs: inputs) if teacher_view is None else teacher_view
    x, labels = train
    packed = (x, pack_targets(labels, teacher_scores(teacher, view(x))))
    packed_val = None
    if val is not None:
        packed_val = (val[0], pack_targets(val[1], teacher_scores(teacher, view(val[0]))))
    optimizer = Adam(student.parameters(), lr=lr) if optimizer is None else optimizer
    trainer = Trainer(student, PackedDistillationLoss(temperature, alpha), optimizer, schedule=schedule,
                      callbacks=callbacks, batch_size=batch_size, rng=rng, verbose=verbose)
    trainer.fit(packed, packed_val, epochs=epochs)
    return trainer
