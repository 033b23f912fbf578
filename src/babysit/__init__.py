"""babysit: neural-network training from first principles, on NumPy, with a babysitter.

Every layer has an explicit, gradient-checked forward and backward pass; the library
runs the sanity checks an expert runs by hand and says in plain words what to try.
"""

from babysit import data, evaluation, functional, gradcheck, init, nn, optim, schedules, search
from babysit.diagnostics.lr_finder import find_lr
from babysit.diagnostics.monitors import Babysitter
from babysit.diagnostics.preflight import check
from babysit.report import make_report
from babysit.serialization import load
from babysit.train import History, Trainer

__version__ = "0.1.0"

__all__ = [
    "Babysitter", "History", "Trainer", "__version__", "check", "data", "evaluation", "find_lr", "functional",
    "gradcheck", "init", "load", "make_report", "nn", "optim", "schedules", "search",
]
