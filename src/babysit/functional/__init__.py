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
from babysit.functional.conv import conv1d_backward, conv1d_forward, conv2d_backward, conv2d_forward
from babysit.functional.dropout import (
    dropout_backward,
    dropout_forward,
    gaussian_noise_backward,
    gaussian_noise_forward,
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
from babysit.functional.norm import (
    group_norm_backward,
    group_norm_forward,
    normalize_backward,
    normalize_forward,
    normalize_with_stats_backward,
    normalize_with_stats_forward,
)
from babysit.functional.pool import (
    avg_pool1d_backward,
    avg_pool1d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    global_avg_pool_backward,
    global_avg_pool_forward,
    max_pool1d_backward,
    max_pool1d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from babysit.functional.whitening import (
    whiten_backward,
    whiten_forward,
    whiten_with_stats_backward,
    whiten_with_stats_forward,
)

__all__ = [name for name in dir() if not name.startswith("_")]
