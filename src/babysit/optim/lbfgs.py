"""L-BFGS: a quasi-Newton method for full-batch optimization of small problems."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from babysit.optim.line_search import strong_wolfe
from babysit.optim.optimizer import Optimizer, Rule, is_array, learning_rate, nonnegative, positive_int

_HISTORY = ("old_dirs", "old_stps")


def line_search_name(value, where):
    if value not in (None, "strong_wolfe"):
        raise ValueError(f"{where} must be None or 'strong_wolfe', got {value!r}")
    return value


def two_loop_direction(grad, old_dirs, old_stps, ro, h_diag):
    """``-H grad`` for the L-BFGS inverse-Hessian estimate ``H`` built from the pairs
    ``(y, s)`` = (``old_dirs``, ``old_stps``), ``ro = 1/(y.s)``, and scaling ``h_diag``."""
    q = -grad
    alphas = [0.0] * len(old_dirs)
    for i in range(len(old_dirs) - 1, -1, -1):
        alphas[i] = float(old_stps[i] @ q) * ro[i]
        q -= alphas[i] * old_dirs[i]
    r = q * h_diag
    for i in range(len(old_dirs)):
        beta = float(old_dirs[i] @ r) * ro[i]
        r += (alphas[i] - beta) * old_stps[i]
    return r


class LBFGS(Optimizer):
    """Limited-memory BFGS, driven by a closure; for full-batch problems of modest size.

    Parameters
    ----------
    params : iterable of Parameter (one group only)
    lr : float or schedule, default 1
        Step length (the first iteration's is ``min(1, 1/|g|_1) * lr``).
    max_iter : int, default 20
        Iterations per ``step()``.
    max_eval : int, default ``max_iter * 5 // 4``
        Function evaluations per ``step()``.
    tolerance_grad : float, default 1e-7
        Stop when ``max |g| <= tolerance_grad``.
    tolerance_change : float, default 1e-9
        Stop when the step or the loss changes less than this.
    history_size : int, default 100
        Number of ``(y, s)`` pairs kept.
    line_search_fn : None or "strong_wolfe", default None
        None takes fixed steps of ``lr``.

    Notes
    -----
    ``step(closure)``: the closure zeroes the gradients, computes the loss, runs the
    backward pass and returns the loss; L-BFGS calls it once per iteration (more with
    the line search). With ``s = x_{k+1} - x_k`` and ``y = g_{k+1} - g_k``, pairs with
    ``y.s > 1e-10`` enter the history; the direction is ``d = -H g`` by the two-loop
    recursion with ``H_0 = (y.s)/(y.y) I``, as PyTorch's ``LBFGS`` (whose iterates this
    follows). Frozen parameters are left out; the state persists between ``step()`` calls.
    Memory: ``2 * history_size`` copies of the parameters.

    References
    ----------
    Liu and Nocedal, "On the limited memory BFGS method for large scale optimization",
    Mathematical Programming 45, 1989. Nocedal and Wright, "Numerical Optimization",
    2nd ed., algorithm 7.4.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": learning_rate, "max_iter": positive_int, "max_eval": positive_int,
        "tolerance_grad": nonnegative, "tolerance_change": nonnegative, "history_size": positive_int,
        "line_search_fn": line_search_name,
    }

    def __init__(
        self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
        history_size=100, line_search_fn=None,
    ):
        if max_eval is None:
            max_eval = positive_int(max_iter, "LBFGS: max_iter") * 5 // 4
        super().__init__(
            params, lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn,
        )

    def add_param_group(self, group):
        if self.param_groups:
            raise ValueError("LBFGS: supports a single parameter group (no per-parameter options)")
        super().add_param_group(group)

    def step(self, closure=None):
        """Run up to ``max_iter`` iterations; return the loss before them (``closure()``'s first value)."""
        if closure is None:
            raise TypeError(
                "LBFGS.step needs a closure that zeroes the gradients, computes the loss, runs backward "
                "and returns the loss"
            )
        group = self.param_groups[0]
        params = [p for p in group["params"] if p.requires_grad]
        lr = self.group_lr(group)
        self.step_count += 1
        if not params:
            return closure()
        return self._iterate(params, self._state_for(params), closure, lr)

    def _iterate(self, params, state, closure, lr):
        group = self.param_groups[0]
        first_loss = closure()
        loss, flat_grad = float(first_loss), _flat_grad(params)
        state["func_evals"] += 1
        evaluations = 1
        if np.abs(flat_grad).max() <= group["tolerance_grad"]:
            return first_loss
        for n_iter in range(1, group["max_iter"] + 1):
            state["n_iter"] += 1
            d = self._direction(state, flat_grad)
            t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
            state.update(d=d, t=t, prev_flat_grad=flat_grad.copy(), prev_loss=loss)
            gtd = float(flat_grad @ d)
            if gtd > -group["tolerance_change"]:
                break
            last = n_iter == group["max_iter"]
            loss, flat_grad, t, used = self._advance(params, closure, t, d, loss, flat_grad, gtd, evaluations, last)
            state["t"] = t
            evaluations += used
            state["func_evals"] += used
            if (
                last or evaluations >= group["max_eval"] or np.abs(flat_grad).max() <= group["tolerance_grad"]
                or np.abs(d * t).max() <= group["tolerance_change"]
                or abs(loss - state["prev_loss"]) < group["tolerance_change"]
            ):
                break
        return first_loss

    def _direction(self, state, flat_grad):
        """Update the ``(y, s)`` history with the last step and return the new direction."""
        if state["n_iter"] == 1:
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1.0)
            return -flat_grad
        y = flat_grad - state["prev_flat_grad"]
        s = state["d"] * state["t"]
        ys = float(y @ s)
        if ys > 1e-10:  # keep H positive definite: only pairs of positive curvature
            if len(state["old_dirs"]) == self.param_groups[0]["history_size"]:
                for key in (*_HISTORY, "ro"):
                    state[key].pop(0)
            state["old_dirs"].append(y)
            state["old_stps"].append(s)
            state["ro"].append(1.0 / ys)
            state["H_diag"] = ys / float(y @ y)
        return two_loop_direction(flat_grad, state["old_dirs"], state["old_stps"], state["ro"], state["H_diag"])

    def _advance(self, params, closure, t, d, loss, flat_grad, gtd, evaluations, last):
        """Move the parameters along ``d``: ``(loss, flat_grad, t, evaluations used)`` after the move."""
        group = self.param_groups[0]
        if group["line_search_fn"] == "strong_wolfe":
            start = [p.data.copy() for p in params]

            def evaluate(step):
                _add(params, step, d)
                result = float(closure()), _flat_grad(params)
                for p, saved in zip(params, start, strict=True):
                    p.data[...] = saved
                return result

            loss, flat_grad, t, used = strong_wolfe(
                evaluate, t, d, loss, flat_grad, gtd, max_ls=group["max_eval"] - evaluations
            )
            _add(params, t, d)
            return loss, flat_grad, t, used
        _add(params, t, d)
        if last:  # PyTorch does not evaluate after the last fixed step
            return loss, flat_grad, t, 0
        return float(closure()), _flat_grad(params), t, 1

    def _state_for(self, params) -> dict:
        """The state lives with the first trainable parameter; it restarts if the trainable set changed."""
        size = sum(p.size for p in params)
        state = self.state.get(params[0])
        if state is None or (state.get("d") is not None and state["d"].size != size):
            self.state = {params[0]: {"func_evals": 0, "n_iter": 0}}
        return self.state[params[0]]

    def export_state(self, state):
        saved = super().export_state({key: value for key, value in state.items() if key not in (*_HISTORY, "ro")})
        if "old_dirs" in state:
            size = state["d"].size
            for key in _HISTORY:
                saved[key] = np.array(state[key]).reshape(len(state[key]), size)
            saved["ro"] = np.array(state["ro"], dtype=np.float64)
        return saved

    def import_state(self, param, saved):
        state = {}
        for key, value in saved.items():
            if is_array(value):
                value = np.array(value, dtype=param.dtype if key != "ro" else np.float64, copy=True)
            state[key] = value
        for key in _HISTORY:
            if key in state:
                state[key] = list(state[key])
        if "ro" in state:
            state["ro"] = [float(value) for value in state["ro"]]
        return state


def _flat_grad(params) -> np.ndarray:
    return np.concatenate([(p.grad if p.grad is not None else np.zeros_like(p.data)).reshape(-1) for p in params])


def _add(params, t: float, d: np.ndarray) -> None:
    offset = 0
    for p in params:
        p.data += t * d[offset:offset + p.size].reshape(p.shape)
        offset += p.size
