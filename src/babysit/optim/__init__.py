"""Optimizers: one algorithm per file, argument names and defaults as in ``torch.optim``.

Every optimizer takes ``model.parameters()`` (or parameter groups with their own
settings), skips frozen parameters and parameters without a gradient, accepts a
schedule ``step -> lr`` as ``lr``, and saves its state with ``state_dict()`` as plain
arrays and numbers. :data:`OPTIMIZERS` and :func:`get` build one from a name, as a
configuration file gives it.
"""

from __future__ import annotations

import inspect

from babysit.optim.adabound import AdaBound
from babysit.optim.adadelta import Adadelta
from babysit.optim.adagrad import Adagrad
from babysit.optim.adam import Adam
from babysit.optim.adamax import Adamax
from babysit.optim.adamw import AdamW
from babysit.optim.lbfgs import LBFGS
from babysit.optim.nadam import NAdam
from babysit.optim.optimizer import Optimizer, Schedule, state_from_arrays, state_to_arrays
from babysit.optim.rmsprop import RMSprop
from babysit.optim.sgd import SGD
from babysit.optim.swats import SWATS

#: Optimizers by lower-case name; adding an algorithm is one file and one line here.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "adamax": Adamax,
    "nadam": NAdam,
    "adadelta": Adadelta,
    "adabound": AdaBound,
    "swats": SWATS,
    "lbfgs": LBFGS,
}


def get(name: str, params, **kwargs) -> Optimizer:
    """Build the optimizer called ``name`` (any case, e.g. ``"Adam"``) with ``kwargs``.

    Raises ``ValueError`` naming an unknown optimizer or argument and listing the valid ones.
    """
    cls = OPTIMIZERS.get(str(name).lower()) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}")
    accepted = [key for key in inspect.signature(cls.__init__).parameters if key not in ("self", "params")]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown argument(s) {unknown}; expected some of {accepted}")
    return cls(params, **kwargs)


__all__ = [
    "LBFGS", "OPTIMIZERS", "SGD", "SWATS", "AdaBound", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax",
    "NAdam", "Optimizer", "RMSprop", "Schedule", "get", "state_from_arrays", "state_to_arrays",
]
