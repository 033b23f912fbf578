"""babysit: neural-network training from first principles, on NumPy, with a babysitter.

Every layer has an explicit, gradient-checked forward and backward pass; the library
runs the sanity checks an expert runs by hand and says in plain words what to try.
"""

from babysit import functional, gradcheck, init, nn
from babysit.serialization import load

__version__ = "0.1.0"

__all__ = ["functional", "gradcheck", "init", "load", "nn", "__version__"]
