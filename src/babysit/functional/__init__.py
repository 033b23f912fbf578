"""Pure forward/backward kernels. No state: ``op_forward(x, ...) -> (out, cache)`` and
``op_backward(dout, cache) -> grads``. Modules in :mod:`babysit.nn` wrap them."""

from babysit.functional.activations import (
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    maxout_backward,
    maxout_forward,
    prelu_backward,
    prelu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from babysit.functional.linear import linear_backward, linear_forward
from babysit.functional.losses import (
    distillation,
    log_softmax,
    mean_squared_error,
    multiclass_hinge,
    softmax,
    softmax_cross_entropy,
)

__all__ = [name for name in dir() if not name.startswith("_")]
