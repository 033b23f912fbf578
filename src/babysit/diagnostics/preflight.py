"""Pre-flight checks: what an expert runs by hand before a long training run (CS231n,
"Babysitting the learning process"), run for the user, with plain-language findings.

Every check works on a copy of the model: the model passed in is never changed.
"""

from __future__ import annotations

import copy
import sys

import numpy as np

from babysit.backend import as_rng
from babysit.diagnostics.findings import Finding, Report
from babysit.diagnostics.gradcheck import check_gradients
from babysit.diagnostics.lr_finder import find_lr
from babysit.errors import NonFiniteError

CHECKS = ("initial_loss", "regularization_raises_loss", "gradient_check", "batch_independence", "overfit_tiny",
          "learning_rate")


def check(model, loss, x, y, *, penalties=(), optimizer=None, lr: float | None = None, checks=CHECKS,
          tiny_size: int = 20, tiny_steps: int = 400, rng=None, verbose: bool = True) -> Report:
    """Run the babysitter's pre-flight checks and return a :class:`Report` of findings.

    Parameters
    ----------
    model, loss : the network and its loss; ``x``, ``y`` a sample of training data.
    penalties : the L1/L2 penalties you will train with (regularization in the loss).
    optimizer : callable ``(params, lr) -> Optimizer`` used by ``overfit_tiny`` and the
        learning-rate range test; Adam by default.
    lr : the learning rate you plan to use; the range test then says if it is too low or
        too high.
    checks : names from :data:`CHECKS` to run.
    """
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"check: unknown checks {sorted(unknown)}; choose from {CHECKS}")
    x = np.asarray(x, dtype=model.dtype)
    y = np.asarray(y)
    context = {"model": model, "loss": loss, "x": x, "y": y, "penalties": list(penalties), "lr": lr,
               "optimizer": optimizer or _default_optimizer, "tiny_size": tiny_size, "tiny_steps": tiny_steps,
               "rng": as_rng(0 if rng is None else rng)}
    report = Report()
    for name in CHECKS:
        if name in checks:
            report.findings.extend(_RUNNERS[name](context))
    if verbose:
        print(report, file=sys.stderr)
    return report


def _eval_copy(model, dtype=None):
    clone = copy.deepcopy(model)
    if dtype is not None:
        clone.to(dtype)
    return clone.eval()


def _train_time_copy(model):
    """A copy that computes the scores the first training step sees, without its noise.

    Layers with running statistics (BatchNorm and its kin) run in train mode and normalize
    with the batch's statistics: at init their running mean and variance are still 0 and 1,
    so in eval mode they would not normalize at all, and the loss of a BatchNorm net on
    unscaled data would not be the one training starts from. Their running statistics move
    on the copy only. Dropout, DropConnect, Gaussian noise and stochastic depth stay in eval
    mode: the loss-at-init check is about the scale of the scores (small weights give scores
    near 0 and a loss of ln C), and these layers only add noise around the same expected
    scores (inverted scaling).
    """
    clone = copy.deepcopy(model).eval()
    for module in clone.modules():
        if module.buffer_names:  # running statistics: learned from batches in train mode
            module.training = True
    return clone


def _sample(context, size):
    x, y = context["x"], context["y"]
    index = context["rng"].choice(len(x), size=min(size, len(x)), replace=False)
    return x[index], y[index]


def _initial_loss(context):
    model, loss = _train_time_copy(context["model"]), context["loss"]
    x, y = _sample(context, 256)
    scores = model(x)
    value = loss(scores, y)
    expected = loss.chance_loss(scores.shape[1]) if loss.takes_labels else None
    if not expected:
        return [Finding("initial_loss", "ok", f"{value:.4g}", "no chance value for this loss", data={"loss": value})]
    ratio = value / expected
    data = {"loss": value, "chance": expected}
    measured, wanted = f"{value:.3f}", f"about {expected:.3f} ({loss!r} at chance, {scores.shape[1]} classes)"
    if 0.75 <= ratio <= 1.33:
        return [Finding("initial_loss", "ok", measured, wanted, data=data)]
    if ratio > 1:
        advice = ("the scores at init are too large: the last layer's weights are too big for 'small random "
                  "numbers' (give it a smaller init, e.g. init=init.normal(0.01), or a smaller std), or the loss "
                  "is wrong")
    else:
        advice = ("the loss is below chance before training: the labels leak into the inputs, the data set is "
                  "trivial, or the loss is wrong")
    status = "warn" if 0.5 <= ratio <= 2.0 else "fail"
    return [Finding("initial_loss", status, measured, wanted, advice, data)]


def _regularization_raises_loss(context):
    from babysit.nn.penalties import L2Penalty  # noqa: PLC0415

    model, loss = _train_time_copy(context["model"]), context["loss"]
    x, y = _sample(context, 256)
    data_loss = loss(model(x), y)
    penalties = context["penalties"] or [L2Penalty(1.0)]
    total = data_loss + sum(penalty(model) for penalty in penalties)
    which = ", ".join(map(repr, penalties)) + ("" if context["penalties"] else " (none configured; tried this)")
    data = {"data_loss": data_loss, "with_regularization": total}
    measured = f"{data_loss:.4f} -> {total:.4f} with {which}"
    if total > data_loss * (1 + 1e-6) + 1e-12:
        return [Finding("regularization_raises_loss", "ok", measured, "a higher loss", data=data)]
    return [Finding("regularization_raises_loss", "fail", measured, "a higher loss",
                    "the penalty adds nothing: its strength is 0 or it applies to no parameter "
                    "(only parameters marked regularize=True, the weights, are penalized by default)", data)]


def _gradient_check(context):
    x, y = _sample(context, 4)
    # A little noise breaks exact ties (flat image regions under max-pooling), where a
    # centered difference is one-sided and disagrees with any single valid subgradient.
    scale = float(np.std(x)) or 1.0
    x = x.astype(np.float64) + context["rng"].normal(0.0, 1e-2 * scale, x.shape)
    report = check_gradients(context["model"], context["loss"], x, y, max_coordinates=12, rng=context["rng"],
                             floor=1e-4 * _gradient_scale(context["model"], context["loss"], x, y))
    worst = report.worst()
    error = report.max_error
    measured = f"max relative error {error:.1e}" + (f" (in {worst.name})" if worst else "")
    expected = "below 1e-5 (float64 centered differences)"
    data = {"rows": [row.__dict__ for row in report.rows]}
    if error < 1e-5:
        return [Finding("gradient_check", "ok", measured, expected, data=data)]
    if error < 1e-2:
        return [Finding("gradient_check", "warn", measured, expected,
                        f"probably an input within h of a kink (ReLU at 0, max-pool tie) in {worst.name}; if it "
                        "persists across seeds, check that layer's backward", data)]
    return [Finding("gradient_check", "fail", measured, expected,
                    f"the analytic gradient of {worst.name} is wrong: that layer's backward does not match its "
                    "forward (check the cache, the transposes and the sums over the batch)", data)]


def _gradient_scale(model, loss, x, y) -> float:
    """The largest analytic parameter gradient. Entries 10^4 times smaller than it are judged
    against that floor, not against themselves: a bias before BatchNorm has a true gradient
    of 0, and its numerical gradient is pure rounding noise, not a wrong backward."""
    model = copy.deepcopy(model).to(np.float64)
    model.zero_grad()
    loss(model(x), y)
    model.backward(loss.backward())
    grads = [np.abs(p.grad).max() for p in model.parameters() if p.grad is not None and p.grad.size]
    return float(max(grads, default=1.0)) or 1.0


def _batch_independence(context):
    model = _eval_copy(context["model"], np.float64)
    x, _ = _sample(context, 4)
    if len(x) < 2:
        return [Finding("batch_independence", "warn", "1 example", "at least 2", "pass more data to check")]
    model.needs_input_grad = True
    out = model(x.astype(np.float64))
    dout = np.zeros_like(out)
    dout[0] = context["rng"].standard_normal(out.shape[1:])
    dx = model.backward(dout)
    own = float(np.abs(dx[0]).max())
    leak = float(np.abs(dx[1:]).max())
    findings = []
    if leak > 1e-10 * max(own, 1.0):
        findings.append(Finding("batch_independence", "fail", f"example 0's loss has gradient {leak:.2e} on other "
                                "examples' inputs", "exactly 0 in eval mode",
                                "a layer mixes examples of the batch (a sum or mean over axis 0 where it should be "
                                "over features, or a reshape that crosses examples)", {"leak": leak}))
    else:
        findings.append(Finding("batch_independence", "ok", f"leak {leak:.1e}", "0 in eval mode", data={"leak": leak}))
    if own == 0.0:
        findings.append(Finding("input_dependence", "fail", "the output's gradient w.r.t. the input is exactly 0",
                                "a non-zero gradient", "the output ignores its input: a layer drops or overwrites its "
                                "input (e.g. multiplies by 0, or returns a constant)"))
    else:
        findings.append(Finding("input_dependence", "ok", f"|d out / d x| up to {own:.2e}", "non-zero"))
    return findings


def _overfit_tiny(context):
    model, loss = copy.deepcopy(context["model"]), context["loss"]
    x, y = _sample(context, context["tiny_size"])
    model.needs_input_grad = False
    optimizer = context["optimizer"](model.parameters(), 3e-3)
    initial = loss(_train_time_copy(model)(x), y)  # the loss training starts from, as in initial_loss
    value, steps = initial, 0
    try:
        with np.errstate(all="raise", under="ignore"):
            for steps in range(1, context["tiny_steps"] + 1):
                model.train()
                value = loss(model(x), y)
                model.zero_grad()
                model.backward(loss.backward())
                optimizer.step()
                if steps % 25 == 0 and _fits(model, loss, x, y, initial):
                    break
    except (NonFiniteError, FloatingPointError):
        value = float("nan")
    final = loss(_eval_copy(model)(x), y) if np.isfinite(value) else value
    accuracy = _accuracy(model, x, y) if loss.takes_labels and np.isfinite(value) else None
    data = {"examples": len(x), "steps": steps, "initial_loss": initial, "final_loss": final, "accuracy": accuracy}
    acc_text = f", train accuracy {accuracy:.2f}" if accuracy is not None else ""
    measured = f"loss {initial:.3f} -> {final:.3g} in {steps} steps on {len(x)} examples{acc_text}"
    expected = "train accuracy 1.00 and a loss near 0" if loss.takes_labels else "a loss near 0"
    if np.isfinite(value) and _fits(model, loss, x, y, initial):
        return [Finding("overfit_tiny", "ok", measured, expected, data=data)]
    return [Finding("overfit_tiny", "fail", measured, expected,
                    "the model cannot even memorize a handful of examples without regularization: a backward is "
                    "wrong, the output ignores the input, the model is far too small, or the rate is off; run "
                    "gradient_check and look at the learning_rate finding", data)]


def _fits(model, loss, x, y, initial):
    final = loss(_eval_copy(model)(x), y)
    if not loss.takes_labels:
        return final < 0.01 * initial
    return _accuracy(model, x, y) == 1.0 and final < max(0.05, 0.02 * initial)


def _accuracy(model, x, y):
    return float((_eval_copy(model)(x).argmax(axis=1) == y).mean())


def _learning_rate(context):
    planned = context["lr"]
    end_lr = max(10.0, 10 * planned) if planned else 10.0  # the range must reach past the planned rate
    result = find_lr(context["model"], context["loss"], context["x"], context["y"], optimizer=context["optimizer"],
                     start_lr=1e-7, end_lr=end_lr, steps=150, rng=context["rng"])
    data = result.to_dict()
    if result.usable_range is None:
        return [Finding("learning_rate", "fail", f"the loss never fell between 1e-7 and {end_lr:.0e}",
                        "a range where it falls",
                        "nothing learns at any rate: check gradient_check and overfit_tiny first", data)]
    low, high = result.usable_range
    diverges = f", diverges from {result.diverges_at:.1e}" if result.diverges_at else ""
    measured = f"learns from {low:.1e}, best at {high:.1e}{diverges}; suggested {result.suggested_lr:.1e}"
    if planned is None:
        return [Finding("learning_rate", "ok", measured, "a usable range", data=data)]
    expected = f"your lr {planned:.1e} inside the usable range"
    if result.diverges_at is not None and planned >= result.diverges_at:
        return [Finding("learning_rate", "fail", measured, expected,
                        f"lr {planned:.1e} is too high: the loss explodes there (NaN or rising); "
                        f"try {result.suggested_lr:.1e}", data)]
    if planned < low / 10:  # a decade of slack: the test spends only ~20 steps per decade
        return [Finding("learning_rate", "warn", measured, expected,
                        f"lr {planned:.1e} is too low: the loss barely changes there; try {result.suggested_lr:.1e}",
                        data)]
    if planned > high:
        return [Finding("learning_rate", "warn", measured, expected,
                        f"lr {planned:.1e} is past the loss minimum of the range test and close to the cliff; "
                        f"try {result.suggested_lr:.1e}", data)]
    return [Finding("learning_rate", "ok", measured, expected, data=data)]


def _default_optimizer(params, lr):
    from babysit.optim import Adam  # noqa: PLC0415 - optim imports nn

    return Adam(params, lr=lr)


_RUNNERS = {
    "initial_loss": _initial_loss,
    "regularization_raises_loss": _regularization_raises_loss,
    "gradient_check": _gradient_check,
    "batch_independence": _batch_independence,
    "overfit_tiny": _overfit_tiny,
    "learning_rate": _learning_rate,
}
