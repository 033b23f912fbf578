"""The zig-zag of all-positive inputs: one neuron with two weights, trained by SGD.

CS231n "Training Neural Networks I", activation functions: when every input ``x_i`` of a
neuron ``f(w . x + b)`` is positive (as sigmoid outputs are), the gradient on its weights is
``dL/dw_i = (dL/df) f'(.) x_i``: one scalar times a positive vector, so on each example all
its components share the sign of ``dL/df``. An update can only move into the first or the
third quadrant (all up or all down); to reach an optimum such as ``w* = (1, -1)`` the path
has to zig-zag. Zero-centered inputs have no such restriction.

The experiment: a linear neuron ``w . x`` fitted by least squares to a teacher ``w* . x``,
from ``w0 = (-1, 1)``, by SGD with one example per step. The positive inputs are sigmoid
outputs ``sigmoid(z)``, ``z ~ N(0, 2^2)``; the zero-centered inputs are the same numbers
minus 1/2, i.e. ``tanh(z / 2) / 2``: a tanh unit's output, same spread, mean 0.
"""

from __future__ import annotations

import numpy as np

W_START = np.array([-1.0, 1.0])
W_OPTIMUM = np.array([1.0, -1.0])
#: Converged: the weights are within this distance of ``W_OPTIMUM``.
TOLERANCE = 0.1
#: A run whose weights leave this box has diverged.
DIVERGED = 1e3


def inputs(n: int, rng) -> dict[str, np.ndarray]:
    """``{"all positive": sigmoid(z), "zero-centered": sigmoid(z) - 1/2}`` for ``z ~ N(0, 4)``, shape (n, 2)."""
    positive = 0.5 * (1.0 + np.tanh(rng.standard_normal((n, 2))))  # sigmoid(2 u) = (1 + tanh u) / 2
    return {"all positive": positive, "zero-centered": positive - 0.5}


def sgd_path(x: np.ndarray, lr: float, steps: int, rng) -> dict:
    """Per-example SGD on ``L = (w . x - w* . x)^2 / 2`` from :data:`W_START`.

    Returns ``{"path": (k+1, 2) weights, "same_sign": fraction of updates before convergence
    whose two components are both nonzero and share one sign, "steps_to_converge": first
    step within :data:`TOLERANCE` of the optimum (``None`` if never), "path_ratio": length
    of the path up to then over the straight distance, "diverged": bool}``.
    """
    order = rng.integers(0, len(x), steps)
    w = W_START.copy()
    path, same_sign, converged = [w.copy()], [], None
    for example in x[order]:  # a 2-D walk of a few hundred steps: the loop is over time, not data
        residual = (w - W_OPTIMUM) @ example
        gradient = residual * example  # one scalar times the input: the lecture's argument
        if converged is None:
            same_sign.append(gradient[0] * gradient[1] > 0)
        w = w - lr * gradient
        path.append(w.copy())
        if converged is None and np.linalg.norm(w - W_OPTIMUM) < TOLERANCE:
            converged = len(path) - 1
        if not np.all(np.abs(w) < DIVERGED):
            break
    path = np.asarray(path)
    end = converged if converged is not None else len(path) - 1
    length = float(np.linalg.norm(np.diff(path[:end + 1], axis=0), axis=1).sum())
    return {"path": path, "same_sign": float(np.mean(same_sign)), "steps_to_converge": converged,
            "path_ratio": length / float(np.linalg.norm(W_OPTIMUM - W_START)),
            "diverged": not np.all(np.abs(path[-1]) < DIVERGED)}


def run_zigzag(lrs, path_lr: float, steps: int, seed: int = 0, n: int = 5000) -> dict:
    """The two input kinds at every rate in ``lrs`` (steps to converge) and at ``path_lr`` (the drawn paths).

    Returns ``{kind: {"inputs", "path", "same_sign", "path_ratio", "steps_to_converge",
    "steps_by_lr": {lr: steps or None}, "condition": cond(E[x x^T])}}``. Every run sees
    the same sequence of examples (same seed), so the two kinds differ only in the mean.
    """
    data = inputs(n, np.random.default_rng(seed))
    results = {}
    for kind, x in data.items():
        drawn = sgd_path(x, path_lr, steps, np.random.default_rng(seed + 1))
        by_lr = {float(lr): sgd_path(x, lr, steps, np.random.default_rng(seed + 1))["steps_to_converge"]
                 for lr in lrs}
        eigenvalues = np.linalg.eigvalsh(x.T @ x / len(x))  # the Hessian of the least-squares loss
        results[kind] = {**drawn, "inputs": x, "steps_by_lr": by_lr,
                         "condition": float(eigenvalues[-1] / eigenvalues[0])}
    return results


def best_steps(result: dict) -> tuple[float | None, int | None]:
    """``(lr, steps)`` of the fastest converging rate, or ``(None, None)`` if none converged."""
    converged = {lr: steps for lr, steps in result["steps_by_lr"].items() if steps is not None}
    if not converged:
        return None, None
    lr = min(converged, key=converged.get)
    return lr, converged[lr]


def plot_paths(axes, results: dict, path_lr: float) -> None:
    """One panel per input kind: loss contours, the SGD path, and the two quadrants an update can take."""
    grid = np.linspace(-2.0, 2.0, 161)
    w1, w2 = np.meshgrid(grid, grid)
    for ax, (kind, result) in zip(axes, results.items(), strict=True):
        x = result["inputs"]
        covariance = x.T @ x / len(x)
        delta = np.stack([w1 - W_OPTIMUM[0], w2 - W_OPTIMUM[1]], axis=-1)
        loss = 0.5 * np.einsum("...i,ij,...j->...", delta, covariance, delta)
        ax.contour(w1, w2, loss, levels=np.geomspace(1e-3, loss.max(), 12), colors="0.75", linewidths=0.8)
        if kind == "all positive":  # the lecture's picture: only quadrants I and III are reachable
            ax.fill_between([W_START[0], 2.0], W_START[1], 2.0, color="tab:green", alpha=0.12,
                            label="allowed update directions")
            ax.fill_between([-2.0, W_START[0]], -2.0, W_START[1], color="tab:green", alpha=0.12)
        path = result["path"]
        end = result["steps_to_converge"] or len(path) - 1
        ax.plot(path[:end + 1, 0], path[:end + 1, 1], ".-", color="tab:red", lw=1.2, ms=4,
                label=f"SGD path, lr {path_lr:g} ({end} steps)")
        ax.plot(*W_START, "ks", ms=7, label="start")
        ax.plot(*W_OPTIMUM, "*", color="gold", mec="k", ms=15, label="optimum w* = (1, -1)")
        ax.set_xlim(-2, 2)
        ax.set_ylim(-2, 2)
        ax.set_aspect("equal")
        ax.set_xlabel("weight w1")
        ax.set_ylabel("weight w2")
        ax.set_title(f"{kind} inputs: {result['same_sign']:.0%} of updates have one sign,\n"
                     f"path {result['path_ratio']:.1f}x the straight distance", fontsize=10)
        ax.legend(fontsize=8, loc="lower left")


def plot_steps(ax, results: dict, steps: int) -> None:
    """Steps to converge against the learning rate, for both input kinds; a cross on top: no convergence."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: PLC0415 - only when plotting

    for index, (kind, result) in enumerate(results.items()):
        lrs = np.array(sorted(result["steps_by_lr"]))
        taken = np.array([np.nan if result["steps_by_lr"][lr] is None else result["steps_by_lr"][lr] for lr in lrs])
        ax.plot(lrs, taken, "o-", color=f"C{index}", label=f"{kind} (cond {result['condition']:.1f})")
        failed = np.isnan(taken)
        ax.plot(lrs[failed], np.full(failed.sum(), steps), "x", color=f"C{index}", ms=10, mew=2,
                label=f"{kind}: diverged or not converged in {steps} steps" if failed.any() else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(f"SGD steps to within {TOLERANCE} of w* (log scale)")
    ax.set_title("Convergence against the rate: the positive inputs' large curvature\n"
                 "along (1, 1) caps the usable rate", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, title="inputs (condition number of E[x x^T])", title_fontsize=8)
