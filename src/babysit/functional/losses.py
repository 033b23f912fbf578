"""Loss kernels: each returns ``(loss, dscores)``, the mean loss over the batch and its gradient."""

from __future__ import annotations

from babysit.backend import xp as namespace


def log_softmax(scores, temperature=1.0):
    """Row-wise ``log softmax(scores / T)``, stable: the row max is subtracted first."""
    xp = namespace(scores)
    shifted = scores / temperature if temperature != 1.0 else scores
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def softmax(scores, temperature=1.0):
    return namespace(scores).exp(log_softmax(scores, temperature))


def softmax_cross_entropy(scores, y):
    """``L = mean_i(-log softmax(s_i)[y_i])``; ``dL/ds = (softmax(s) - onehot(y)) / N``."""
    xp = namespace(scores)
    n = scores.shape[0]
    rows = xp.arange(n)
    log_probs = log_softmax(scores)
    loss = -log_probs[rows, y].mean()
    dscores = xp.exp(log_probs)
    dscores[rows, y] -= 1.0
    dscores /= n
    return float(loss), dscores


def multiclass_hinge(scores, y, margin=1.0):
    """Multiclass SVM (Weston & Watkins 1999, CS231n's form):
    ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)``, averaged over the batch."""
    xp = namespace(scores)
    n = scores.shape[0]
    rows = xp.arange(n)
    margins = xp.maximum(0, scores - scores[rows, y][:, None] + margin)
    margins[rows, y] = 0
    loss = margins.sum() / n
    active = (margins > 0).astype(scores.dtype)
    active[rows, y] = -active.sum(axis=1)
    return float(loss), active / n


def mean_squared_error(predictions, targets):
    """``L = mean((p - t)^2)`` over every element; ``dL/dp = 2 (p - t) / size``."""
    diff = predictions - targets
    loss = (diff * diff).mean()
    return float(loss), diff * (2.0 / diff.size)


def distillation(scores, y, teacher_scores, temperature=4.0, alpha=0.9):
    """Knowledge distillation (Hinton, Vinyals & Dean 2015).

    ``L = alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)``,
    the KL averaged over the batch. The ``T^2`` keeps the soft term's gradient on the
    same scale as the hard term's as ``T`` changes:
    ``dL/ds = alpha * T * (softmax(s/T) - softmax(t/T)) / N + (1 - alpha) * dCE/ds``.
    """
    xp = namespace(scores)
    n = scores.shape[0]
    teacher_log_probs = log_softmax(teacher_scores, temperature)
    student_log_probs = log_softmax(scores, temperature)
    teacher_probs = xp.exp(teacher_log_probs)
    kl = (teacher_probs * (teacher_log_probs - student_log_probs)).sum() / n
    dsoft = (xp.exp(student_log_probs) - teacher_probs) * (alpha * temperature / n)
    loss = alpha * temperature**2 * float(kl)
    if alpha < 1.0:
        hard_loss, dhard = softmax_cross_entropy(scores, y)
        loss += (1.0 - alpha) * hard_loss
        dsoft += (1.0 - alpha) * dhard
    return float(loss), dsoft
