"""Regularization layers and constraints: Dropout, DropConnect, GaussianNoise, max-norm,
and the linear-decay rule for stochastic depth.

Every random layer is active only in training mode (``model.train()``) and is the
identity, or its expectation, in evaluation mode (``model.eval()``). Each draws from its
own ``rng`` so a seeded run repeats bit for bit. L1/L2 penalties live in
:mod:`babysit.nn.penalties`; stochastic depth itself is ``Residual(block, drop_prob=p)``.
"""

from __future__ import annotations

import numpy as np

from babysit.backend import DEFAULT_DTYPE, as_rng
from babysit.functional.dropout import (
    dropout_backward,
    dropout_forward,
    gaussian_noise_backward,
    gaussian_noise_forward,
)
from babysit.functional.linear import linear_forward
from babysit.nn.linear import Linear
from babysit.nn.module import Module, Parameter, check_positive_int


def _check_probability(layer: str, p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 <= p < 1.0:
        raise ValueError(f"{layer}: p (the probability of dropping) must be in [0, 1), got {p!r}")
    return float(p)


class Dropout(Module):
    """Inverted dropout: zero each activation with probability ``p`` at train time.

    Survivors are scaled by ``1 / (1 - p)`` during training, so the expected activation
    equals the evaluation-time activation and ``eval()`` mode is the identity.

    Parameters
    ----------
    p : float in [0, 1)
        Probability of *dropping* a unit (PyTorch's convention; CS231n's ``p`` is the
        probability of keeping one, ``1 - p`` here). 0.5 for hidden layers in the paper.
    rng : None, int or numpy Generator

    Shapes: any; output has the input's shape. One mask entry per activation.

    References
    ----------
    Srivastava et al. 2014, "Dropout: A Simple Way to Prevent Neural Networks from Overfitting".
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        self.p = _check_probability("Dropout", p)
        self.rng = as_rng(rng)
        self._mask = None

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x):
        self.check_input(x, ndims=(1, 2, 3, 4, 5))
        if not self.training:
            self._mask = None
            return x
        out, self._mask = dropout_forward(x, self.p, self.rng)
        return out

    def backward(self, dout):
        return dropout_backward(dout, self._mask)


class GaussianNoise(Module):
    """Add ``std * N(0, 1)`` noise to the activations at train time; the identity at eval.

    The noise has zero mean, so the expected training output is the evaluation output.

    Parameters
    ----------
    std : float >= 0
    rng : None, int or numpy Generator
    """

    def __init__(self, std: float, rng=None):
        super().__init__()
        if isinstance(std, bool) or not isinstance(std, (int, float, np.integer, np.floating)) or not std >= 0:
            raise ValueError(f"GaussianNoise: std must be a number >= 0, got {std!r}")
        self.std = float(std)
        self.rng = as_rng(rng)

    def extra_repr(self) -> str:
        return f"std={self.std}"

    def forward(self, x):
        self.check_input(x, ndims=(1, 2, 3, 4, 5))
        if not self.training:
            return x
        out, _ = gaussian_noise_forward(x, self.std, self.rng)
        return out

    def backward(self, dout):
        return gaussian_noise_backward(dout, None)


class DropConnect(Linear):
    """A Linear layer whose *weights* are dropped: ``out = x @ (M * W / (1 - p)).T + b``.

    A fresh Bernoulli mask ``M`` (keep probability ``1 - p``) is drawn for every forward
    pass and shared by the whole batch; inverted scaling keeps ``E[M * W / (1 - p)] = W``,
    so evaluation uses the full weights (the "mean network"; the paper's Gaussian
    moment-matching inference is not implemented). The bias is not dropped.

    Parameters
    ----------
    in_features, out_features : int
    p : float in [0, 1), probability of dropping each weight
    init, bias, bias_init, rng, dtype : as for :class:`~babysit.nn.Linear`

    References
    ----------
    Wan et al. 2013, "Regularization of Neural Networks using DropConnect".
    """

    def __init__(self, in_features: int, out_features: int, p: float = 0.5, *, init="he", bias: bool = True,
                 bias_init: float = 0.0, rng=None, dtype=DEFAULT_DTYPE):
        p = _check_probability("DropConnect", p)
        rng = as_rng(rng)
        super().__init__(in_features, out_features, init=init, bias=bias, bias_init=bias_init, rng=rng, dtype=dtype)
        self.p = p
        self.rng = rng
        self._mask = None

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"

    def forward(self, x):
        self.check_input(x, ndims=(2,), size=self.in_features, dtype=self.weight.dtype)
        weight, self._mask = self.weight.data, None
        if self.training:
            weight, self._mask = dropout_forward(weight, self.p, self.rng)
        out, self._cache = linear_forward(x, weight, None if self.bias is None else self.bias.data)
        return out

    def weight_gradient(self, dweight):
        """Only the weights kept in this forward pass get a gradient (the same mask, same scale)."""
        return dropout_backward(dweight, self._mask)


# --------------------------------------------------------------------------- constraints
def max_norm(target, max_value: float = 3.0, axis=None) -> int:
    """Rescale, in place, every unit's incoming weight vector whose norm exceeds ``max_value``.

    Call it after each optimizer step (Srivastava et al. 2014 pair it with dropout and
    a high learning rate; ``max_value`` 3 to 4 in the paper).

    Parameters
    ----------
    target : Module, Parameter, or iterable of Parameters
        For a Module, its weights (parameters marked ``regularize``, i.e. not biases or
        normalization scales) with two or more dimensions.
    max_value : float > 0
        The largest allowed L2 norm ``c``.
    axis : int, tuple of ints or None
        Axes the norm runs over. ``None``: all but the first, which for babysit's layouts
        (Linear ``(out, in)``, Conv ``(C_out, C_in, k...)``) is one unit's incoming weights.

    Returns
    -------
    int
        How many weight vectors were rescaled.

    Notes
    -----
    ``w <- w * min(1, c / ||w||)``: a projection onto the ball of radius ``c``.
    """
    if isinstance(max_value, bool) or not isinstance(max_value, (int, float, np.integer, np.floating)) \
            or not max_value > 0:
        raise ValueError(f"max_norm: max_value must be a number > 0, got {max_value!r}")
    rescaled = 0
    for parameter in _constrained_parameters(target):
        weight = parameter.data
        axes = tuple(range(1, weight.ndim)) if axis is None else axis
        norms = np.sqrt(np.sum(weight * weight, axis=axes, keepdims=True))
        rescaled += int(np.count_nonzero(norms > max_value))
        weight *= (max_value / np.maximum(norms, max_value)).astype(weight.dtype, copy=False)
    return rescaled


class MaxNorm:
    """A reusable max-norm constraint: ``MaxNorm(3.0)(model)`` calls :func:`max_norm`."""

    def __init__(self, max_value: float = 3.0, axis=None):
        max_norm([], max_value)  # validates max_value
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, target) -> int:
        return max_norm(target, self.max_value, self.axis)

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}

    def __repr__(self) -> str:
        return f"MaxNorm(max_value={self.max_value})"


def _constrained_parameters(target) -> list[Parameter]:
    if isinstance(target, Module):
        return [p for p in target.parameters() if p.regularize and p.data.ndim >= 2]
    if isinstance(target, Parameter):
        return [target]
    parameters = list(target)
    for item in parameters:
        if not isinstance(item, Parameter):
            raise TypeError(f"max_norm: expected a Module, a Parameter or Parameters, got a {type(item).__name__}")
    return parameters


# ------------------------------------------------------------------------ stochastic depth
def stochastic_depth_probs(num_blocks: int, final_prob: float = 0.5) -> list[float]:
    """Drop probabilities for ``num_blocks`` residual blocks by the linear decay rule.

    Block ``l`` (1-based) of ``L`` is dropped with probability ``p_l = l / L * final_prob``:
    early blocks, which extract low-level features every later block uses, are kept more
    often. Pass them to ``Residual(block, drop_prob=p_l)``.

    References
    ----------
    Huang et al. 2016, "Deep Networks with Stochastic Depth" (survival ``1 - l/L (1 - p_L)``,
    with ``p_L = 0.5``, i.e. ``final_prob = 0.5`` here).
    """
    check_positive_int("stochastic_depth_probs", "num_blocks", num_blocks)
    if not 0.0 <= final_prob < 1.0:
        raise ValueError(f"stochastic_depth_probs: final_prob must be in [0, 1), got {final_prob!r}")
    return [layer / num_blocks * float(final_prob) for layer in range(1, num_blocks + 1)]
