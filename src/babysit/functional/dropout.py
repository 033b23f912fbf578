"""Noise kernels: inverted dropout (also DropConnect's weight mask) and additive Gaussian noise.

Randomness is explicit: each forward takes a ``numpy.random.Generator``; the mask it draws
is the cache, so the backward pass sees exactly the units the forward pass kept.
"""

from __future__ import annotations

from babysit.backend import xp


def dropout_mask(shape, p: float, rng, dtype):
    """Inverted-dropout mask: 0 with probability ``p``, ``1 / (1 - p)`` otherwise, so ``E[mask] = 1``."""
    keep = rng.random(shape, dtype=dtype) >= p
    return keep * dtype.type(1.0 / (1.0 - p))


def dropout_forward(x, p: float, rng):
    """Zero each entry of ``x`` with probability ``p`` and scale the survivors by ``1 / (1 - p)``.

    Parameters
    ----------
    x : array of any shape
    p : float in [0, 1), the probability of dropping an entry
    rng : numpy.random.Generator

    Returns
    -------
    out : array like ``x``, and the cache (the mask, or ``None`` when ``p == 0``).

    Notes
    -----
    Inverted dropout: the scaling happens at train time, so ``E[out] = x`` and evaluation
    needs no change (CS231n; Srivastava et al. 2014, "Dropout: A Simple Way to Prevent
    Neural Networks from Overfitting").
    """
    if p == 0:
        return x, None
    mask = xp(x).asarray(dropout_mask(x.shape, p, rng, x.dtype))
    return x * mask, mask


def dropout_backward(dout, mask):
    """Backward of :func:`dropout_forward`: ``dout * mask`` (``dout`` itself when nothing was dropped)."""
    return dout if mask is None else dout * mask


def gaussian_noise_forward(x, std: float, rng):
    """``x + std * randn(x.shape)``; zero-mean, so ``E[out] = x``. The cache is empty: d out / d x = 1."""
    if std == 0:
        return x, None
    noise = rng.standard_normal(x.shape, dtype=x.dtype)
    return x + xp(x).asarray(noise) * x.dtype.type(std), None


def gaussian_noise_backward(dout, cache):
    """Backward of :func:`gaussian_noise_forward`: the gradient passes unchanged."""
    return dout
