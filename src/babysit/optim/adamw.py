"""AdamW: Adam with weight decay decoupled from the gradient-based step."""

from __future__ import annotations

from babysit.optim.adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay: ``x *= 1 - lr*weight_decay`` before the Adam step.

    Parameters
    ----------
    params : iterable of Parameter or of group dicts
    lr : float or schedule, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 1e-2
    amsgrad : bool, default False

    Notes
    -----
    ::

        x *= 1 - lr * weight_decay          # decay, outside the adaptive scaling
        (then Adam's step with the raw gradient dx)

    With Adam, L2 in the loss is divided by ``sqrt(v_hat)`` like the rest of the
    gradient, so weights with large gradients are barely regularized; decoupling
    restores the plain shrinkage of SGD.

    References
    ----------
    Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            decoupled_weight_decay=True,
        )
