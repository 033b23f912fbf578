"""Errors that say which layer, what it received and what it expected."""

from __future__ import annotations


class BabysitError(Exception):
    """Base class of the library's own errors."""


class InputError(BabysitError, ValueError):
    """A module or loss received an input of the wrong shape, dtype or value.

    ``path`` is filled in by containers on the way out, so the message names where in
    the model the bad input arrived (``model[2] Linear(40 -> 100)``).
    """

    def __init__(self, where: str, problem: str):
        self.where = where
        self.problem = problem
        self.path: list[str] = []
        super().__init__(self._message())

    def add_parent(self, key: str) -> None:
        self.path.insert(0, key)
        self.args = (self._message(),)

    def _message(self) -> str:
        location = "".join(f"[{key}]" for key in self.path)
        prefix = f"model{location} " if location else ""
        return f"{prefix}{self.where}: {self.problem}"


class NonFiniteError(BabysitError, FloatingPointError):
    """A loss or an input turned NaN or infinite."""


class CheckpointError(BabysitError, OSError):
    """A saved model or checkpoint file is truncated, tampered with or does not match."""
