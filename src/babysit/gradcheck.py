"""Public home of the gradient checker (``babysit.gradcheck``); the code lives in
:mod:`babysit.diagnostics.gradcheck`."""

from babysit.diagnostics.gradcheck import (
    DEFAULT_TOLERANCE,
    GradientReport,
    check_gradients,
    check_module_gradients,
    numerical_gradient,
    relative_error,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "GradientReport",
    "check_gradients",
    "check_module_gradients",
    "numerical_gradient",
    "relative_error",
]
