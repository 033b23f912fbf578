"""Strong Wolfe line search with cubic interpolation, for L-BFGS (as in PyTorch and minFunc)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """Minimizer of the cubic through two points with values ``f`` and slopes ``g``, clipped to
    ``bounds`` (default: between the points); their midpoint when the cubic has none."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    if x1 == x2:
        return (low + high) / 2.0
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if not d2_square >= 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        denominator = g2 - g1 + 2 * d2
        position = x2 - (x2 - x1) * ((g2 + d2 - d1) / denominator) if denominator else math.nan
    else:
        denominator = g1 - g2 + 2 * d2
        position = x1 - (x1 - x2) * ((g1 + d2 - d1) / denominator) if denominator else math.nan
    if math.isnan(position):
        return (low + high) / 2.0
    return min(max(position, low), high)


def strong_wolfe(
    evaluate: Callable[[float], tuple[float, np.ndarray]], t: float, d: np.ndarray, f: float, g: np.ndarray,
    gtd: float, c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9, max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """Find a step ``t`` along ``d`` meeting the strong Wolfe conditions.

    ``evaluate(t)`` returns the loss and flat gradient at ``x + t*d`` (and leaves the
    parameters at ``x``); ``f``, ``g``, ``gtd = g.d`` describe ``x``. Returns ``(f_new,
    g_new, t, evaluations)``.

    Notes
    -----
    Sufficient decrease ``f(x + t d) <= f + c1 t g.d`` and curvature ``|g(x + t d).d| <=
    c2 |g.d|``. First the step grows (cubic extrapolation, up to 10x) until a bracket
    holds an acceptable point, then the bracket shrinks by cubic interpolation (Nocedal
    and Wright, "Numerical Optimization", algorithms 3.5 and 3.6).
    """
    d_norm = float(np.abs(d).max())
    f_new, g_new = evaluate(t)
    evaluations = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = bracket_f = bracket_g = bracket_gtd = None
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate, at least 1% further and at most 10x
        following = cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10)
        )
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = following
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    insufficient_progress = False
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        t, insufficient_progress = _keep_inside(t, bracket, insufficient_progress)
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evaluations


def _keep_inside(t: float, bracket: list[float], insufficient_progress: bool) -> tuple[float, bool]:
    """Move a trial step that lands within 10% of the bracket's ends away from them, on the
    second time in a row (or at once if it lies outside)."""
    lo, hi = min(bracket), max(bracket)
    margin = 0.1 * (hi - lo)
    if min(hi - t, t - lo) >= margin:
        return t, False
    if insufficient_progress or t >= hi or t <= lo:
        return (hi - margin if abs(t - hi) < abs(t - lo) else lo + margin), False
    return t, True
