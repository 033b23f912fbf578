"""Knowledge distillation: packed targets, the loss's gradient, and a student trained by distill()."""

import numpy as np
import pytest

from babysit import nn
from babysit.diagnostics.gradcheck import check_gradients, numerical_gradient, relative_error
from babysit.evaluation import Ensemble, PackedDistillationLoss, distill, pack_targets, teacher_scores


def _mlp(seed, hidden=8):
    return nn.Sequential(nn.Linear(4, hidden, rng=seed, dtype=np.float64), nn.Tanh(),
                         nn.Linear(hidden, 3, rng=seed + 1, dtype=np.float64))


def test_packed_loss_equals_the_plain_distillation_loss(rng):
    scores, teacher = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    labels = rng.integers(0, 3, 6)
    plain = nn.DistillationLoss(temperature=3.0, alpha=0.7)
    packed = PackedDistillationLoss(temperature=3.0, alpha=0.7)
    assert packed(scores, pack_targets(labels, teacher)) == pytest.approx(plain(scores, (labels, teacher)), rel=1e-14)
    np.testing.assert_allclose(packed.backward(), plain.backward(), rtol=1e-14)


def test_packed_loss_gradient_matches_centered_differences(rng):
    scores, y = rng.standard_normal((5, 4)), pack_targets(rng.integers(0, 4, 5), 3 * rng.standard_normal((5, 4)))
    loss = PackedDistillationLoss(temperature=2.0, alpha=0.6)
    loss(scores, y)
    analytic = loss.backward().copy()
    numeric = numerical_gradient(lambda: loss(scores, y), scores)
    assert relative_error(analytic, numeric).max() < 1e-7


def test_student_gradients_through_the_distillation_loss(rng):
    x = rng.standard_normal((6, 4))
    y = pack_targets(rng.integers(0, 3, 6), teacher_scores(_mlp(5), x))
    report = check_gradients(_mlp(0), PackedDistillationLoss(), x, y, max_coordinates=None, rng=0)
    assert report.passed, str(report)


def test_bad_targets_are_named(rng):
    loss = PackedDistillationLoss()
    with pytest.raises(ValueError, match=r"\(N, 1 \+ C\)"):
        loss(rng.standard_normal((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="pack_targets"):
        pack_targets(np.zeros(3), np.zeros((2, 3)))
    with pytest.raises(TypeError, match="teacher"):
        teacher_scores("model", np.zeros((1, 4)))


def test_distill_moves_the_student_towards_the_teacher(rng):
    x = rng.standard_normal((200, 4))
    teacher = Ensemble([_mlp(10, 16), _mlp(20, 16)])
    labels = teacher.predict(x)
    student = _mlp(0)
    def agreement():
        return float((student(x).argmax(1) == labels).mean())
    def kl():
        p = teacher.predict_proba(x)
        s = student(x)
        log_q = s - s.max(1, keepdims=True)
        log_q -= np.log(np.exp(log_q).sum(1, keepdims=True))
        return float((p * (np.log(p) - log_q)).sum(1).mean())
    kl_before = kl()
    trainer = distill(teacher, student, (x, labels), (x[:50], labels[:50]), temperature=2.0, alpha=1.0, lr=0.02,
                      epochs=20, batch_size=50, rng=0)
    assert trainer.model is student
    assert kl() < 0.2 * kl_before
    assert agreement() > 0.9
    assert trainer.history.epochs[-1]["val_loss"] is not None
