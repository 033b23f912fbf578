"""The dimensions of a search space: a space is a dict ``name -> dimension``.

Rates and strengths are searched in log space (``LogUniform``): a learning rate of 1e-5
and one of 1e-4 differ as much as 1e-2 and 1e-1 do, so samples are ``10 ** uniform(a, b)``
(CS231n, "Training Neural Networks"; Bergstra & Bengio 2012). Every dimension can sample,
lay out a grid, say where a value sits in its range (:meth:`position`, in log space where
log), shrink to the span of some values (:meth:`narrowed`), grow past one edge
(:meth:`widened`) within optional hard limits, and round-trip through a plain dict
(:meth:`to_config`, :func:`from_config`) and an Optuna distribution (:meth:`to_optuna`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

#: Where a value counts as "at the edge" of its range: the outer 10% (log space where log).
EDGE_FRACTION = 0.1


class Dimension:
    """Base of the numeric dimensions: a range ``[low, high]``, searched in log space if ``log``.

    Parameters
    ----------
    low, high : float
        The range, ``low < high`` (both > 0 where log).
    limits : pair of float, optional
        Hard limits ``(lo, hi)`` the range may never leave, not even when
        :meth:`widened` (e.g. ``(0, 0.95)`` for a dropout probability). Log dimensions are
        always limited to positive values.
    """

    type_name = ""
    is_integer = False

    def __init__(self, low, high, *, log: bool = False, limits=None):
        name = type(self).__name__
        self.low, self.high = self._number(low, "low"), self._number(high, "high")
        self.log = bool(log)
        if not self.low < self.high:
            raise ValueError(f"{name}: low must be < high, got low={low!r}, high={high!r}")
        if self.log and self.low <= 0:
            raise ValueError(f"{name}: a log-scale range must be > 0, got low={low!r}")
        self.limits = None if limits is None else self._limits(limits)

    # ------------------------------------------------------------------ validation
    def _number(self, value, what):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{type(self).__name__}: {what} must be a finite number, got {value!r}")
        return float(value)

    def _limits(self, limits):
        try:
            lo, hi = (float(bound) for bound in limits)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{type(self).__name__}: limits must be a pair (lo, hi), got {limits!r}") from error
        if not (lo <= self.low and self.high <= hi):
            raise ValueError(f"{type(self).__name__}: the range [{self.low:g}, {self.high:g}] must lie within its "
                             f"limits [{lo:g}, {hi:g}]")
        return (lo, hi)

    # ------------------------------------------------------------------ log space
    def _to_t(self, value):
        """The coordinate the range is uniform in: log10 for log dimensions."""
        return np.log10(value) if self.log else np.asarray(value, dtype=float)

    def _from_t(self, t):
        return 10.0 ** np.asarray(t, dtype=float) if self.log else np.asarray(t, dtype=float)

    def _cast(self, values) -> list:
        """Plain Python numbers (Optuna and JSON need them), clipped into the range."""
        values = np.clip(np.asarray(values, dtype=float), self.low, self.high)
        return [float(value) for value in values]

    # ------------------------------------------------------------------ sampling and grids
    def sample(self, rng, size: int = 1) -> list:
        """``size`` values drawn uniformly in the range (in log space where log)."""
        t = rng.uniform(self._to_t(self.low), self._to_t(self.high), size)
        return self._cast(self._from_t(t))

    def grid(self, n: int) -> list:
        """``n`` evenly spaced values from low to high (log-spaced where log); n=1: the middle."""
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{type(self).__name__}.grid: n must be an int >= 1, got {n!r}")
        lo, hi = self._to_t(self.low), self._to_t(self.high)
        t = np.array([(lo + hi) / 2]) if n == 1 else np.linspace(lo, hi, n)
        return self._cast(self._from_t(t))

    def position(self, value) -> float:
        """Where ``value`` sits in the range: 0 at low, 1 at high (in log space where log)."""
        lo, hi = self._to_t(self.low), self._to_t(self.high)
        return float((self._to_t(value) - lo) / (hi - lo))

    def edge(self, value, fraction: float = EDGE_FRACTION) -> str | None:
        """``"low"`` or ``"high"`` when ``value`` lies in that outer ``fraction`` of the range, else None."""
        position = self.position(value)
        if position >= 1 - fraction:
            return "high"
        if position <= fraction:
            return "low"
        return None

    # ------------------------------------------------------------------ new ranges
    def with_range(self, low, high) -> Dimension:
        """The same kind of dimension (same log flag and limits) over ``[low, high]``."""
        return type(self)(low, high, **self._options())

    def narrowed(self, values, min_fraction: float = 0.1) -> Dimension:
        """The span of ``values`` (log space where log), at least ``min_fraction`` of this range wide.

        A span narrower than that (one value, or values all alike) is padded evenly on both
        sides and kept inside this range, so a next stage still has room to search.
        """
        t = self._to_t(np.asarray(list(values), dtype=float))
        if t.size == 0:
            raise ValueError(f"{type(self).__name__}.narrowed: needs at least one value, got none")
        lo, hi = float(t.min()), float(t.max())
        t_low, t_high = float(self._to_t(self.low)), float(self._to_t(self.high))
        pad = max(0.0, min_fraction * (t_high - t_low) - (hi - lo)) / 2
        lo, hi = lo - pad, hi + pad
        shift = max(0.0, t_low - lo) - max(0.0, hi - t_high)  # slide back inside the range
        lo, hi = max(t_low, lo + shift), min(t_high, hi + shift)
        return self._range_from_t(lo, hi)

    def widened(self, side: str, fraction: float = 0.5) -> Dimension:
        """This range with its ``side`` edge (``"low"`` or ``"high"``) moved outward by
        ``fraction`` of its width (in log space where log: half as many decades again),
        stopping at the hard limits."""
        if side not in ("low", "high"):
            raise ValueError(f"{type(self).__name__}.widened: side must be 'low' or 'high', got {side!r}")
        t_low, t_high = float(self._to_t(self.low)), float(self._to_t(self.high))
        step = fraction * (t_high - t_low)
        lo, hi = (t_low - step, t_high) if side == "low" else (t_low, t_high + step)
        return self._range_from_t(lo, hi, clip_to_limits=True)

    def _range_from_t(self, lo, hi, clip_to_limits=False) -> Dimension:
        low, high = float(self._from_t(lo)), float(self._from_t(hi))
        if clip_to_limits and self.limits is not None:
            low, high = max(low, self.limits[0]), min(high, self.limits[1])
        return self.with_range(*self._valid_bounds(low, high))

    def _valid_bounds(self, low, high):
        if low < high:  # else a zero-width span (min_fraction=0, one value): keep a sliver, as low < high is a rule
            return low, high
        sliver = 1e-9 * max(1.0, abs(low))
        return (low * (1 - 1e-9), high * (1 + 1e-9)) if self.log else (low - sliver, high + sliver)

    # ------------------------------------------------------------------ conversions
    def _options(self) -> dict:
        return {} if self.limits is None else {"limits": self.limits}

    def to_optuna(self):
        """The matching ``optuna.distributions`` object."""
        from optuna.distributions import FloatDistribution  # noqa: PLC0415 - the driver's dependency only

        return FloatDistribution(self.low, self.high, log=self.log)

    def to_config(self) -> dict:
        """A plain dict, e.g. ``{"type": "log_uniform", "low": 1e-06, "high": 0.1}``."""
        config = {"type": self.type_name, "low": self._plain(self.low), "high": self._plain(self.high)}
        if self.limits is not None:
            config["limits"] = [self._plain(bound) for bound in self.limits]
        return config

    def _plain(self, value):
        return float(value)

    @classmethod
    def from_config(cls, config: dict) -> Dimension:
        """Any dimension from its :meth:`to_config` dict (dispatches on ``type``)."""
        return from_config(config)

    def __eq__(self, other):
        return type(other) is type(self) and other.to_config() == self.to_config()

    def __hash__(self):
        return hash(repr(self))

    def __repr__(self):
        extra = "" if self.limits is None else f", limits={self.limits!r}"
        return f"{type(self).__name__}({self.low!r}, {self.high!r}{extra})"


class LogUniform(Dimension):
    """A positive float whose log10 is uniform on ``[log10 low, log10 high]``: rates, strengths.

    Examples
    --------
    >>> LogUniform(1e-6, 1e-1)
    LogUniform(1e-06, 0.1)
    """

    type_name = "log_uniform"

    def __init__(self, low, high, *, limits=None):
        super().__init__(low, high, log=True, limits=limits)


class Uniform(Dimension):
    """A float uniform on ``[low, high]``: dropout probabilities, momenta."""

    type_name = "uniform"

    def __init__(self, low, high, *, limits=None):
        super().__init__(low, high, log=False, limits=limits)


class IntUniform(Dimension):
    """An integer uniform on ``{low, ..., high}`` (``log=True``: uniform in log space, e.g. layer widths).

    Grids and narrowed ranges are rounded (outward) to integers and de-duplicated.
    """

    type_name = "int_uniform"
    is_integer = True

    def __init__(self, low, high, log: bool = False, *, limits=None):
        for what, value in (("low", low), ("high", high)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or float(value) != int(value):
                raise ValueError(f"IntUniform: {what} must be an integer, got {value!r}")
        if log and low < 1:
            raise ValueError(f"IntUniform: a log-scale range must start at >= 1, got low={low!r}")
        super().__init__(int(low), int(high), log=log, limits=limits)
        self.low, self.high = int(self.low), int(self.high)

    def sample(self, rng, size: int = 1) -> list:
        # uniform over [low, high + 1) in t, floored: every integer gets its share of the range
        t = rng.uniform(self._to_t(self.low), self._to_t(self.high + 1), size)
        return self._cast(np.floor(self._from_t(t)))

    def grid(self, n: int) -> list:
        return sorted(set(super().grid(n)))

    def _cast(self, values) -> list:
        values = np.clip(np.rint(np.asarray(values, dtype=float)), self.low, self.high)
        return [int(value) for value in values]

    def _range_from_t(self, lo, hi, clip_to_limits=False) -> Dimension:
        low, high = math.floor(float(self._from_t(lo)) + 1e-9), math.ceil(float(self._from_t(hi)) - 1e-9)
        if clip_to_limits and self.limits is not None:
            low, high = max(low, math.ceil(self.limits[0])), min(high, math.floor(self.limits[1]))
        if self.log:  # a log-scale integer range starts at 1 at the lowest
            low = max(low, 1)
        if low >= high:  # an integer range needs two values: take the neighbour that stays in range
            low, high = (low, low + 1) if low + 1 <= self.high else (low - 1, low)
        return self.with_range(low, high)

    def _options(self) -> dict:
        return {"log": self.log, **super()._options()}

    def _plain(self, value):
        return int(value) if float(value).is_integer() else float(value)

    def to_optuna(self):
        from optuna.distributions import IntDistribution  # noqa: PLC0415 - the driver's dependency only

        return IntDistribution(self.low, self.high, log=self.log)

    def to_config(self) -> dict:
        config = super().to_config()
        config["log"] = self.log
        return config

    def __repr__(self):
        extra = (", log=True" if self.log else "") + ("" if self.limits is None else f", limits={self.limits!r}")
        return f"IntUniform({self.low!r}, {self.high!r}{extra})"


class Choice:
    """One of a list of options (activations, optimizers): no order, no log scale.

    Options must be ``None``, bool, int, float or str (what a config file and Optuna's
    categorical distribution hold).
    """

    type_name = "choice"
    log = False
    is_integer = False
    limits = None

    def __init__(self, options):
        if isinstance(options, (str, bytes)) or not hasattr(options, "__iter__"):
            raise ValueError(f"Choice: options must be a list, got {options!r}")
        options = list(options)
        if not options:
            raise ValueError("Choice: options must not be empty")
        bad = [option for option in options if option is not None and not isinstance(option, (bool, int, float, str))]
        if bad:
            raise ValueError(f"Choice: options must be None, bool, int, float or str, got {bad!r}")
        if len({repr(option) for option in options}) != len(options):
            raise ValueError(f"Choice: options must be distinct, got {options!r}")
        self.options = tuple(options)

    low = property(lambda self: self.options[0], doc="The first option.")
    high = property(lambda self: self.options[-1], doc="The last option.")

    def sample(self, rng, size: int = 1) -> list:
        return [self.options[index] for index in rng.integers(0, len(self.options), size)]

    def grid(self, n: int | None = None) -> list:
        """Every option (``n`` is ignored: a choice has no spacing)."""
        return list(self.options)

    def position(self, value) -> float:
        """The option's index over ``len(options) - 1`` (0.5 for a single option)."""
        index = self._index(value)
        return 0.5 if len(self.options) == 1 else index / (len(self.options) - 1)

    def edge(self, value, fraction: float = EDGE_FRACTION) -> None:
        """Options have no order, hence no edge."""
        return None

    def _index(self, value) -> int:
        for index, option in enumerate(self.options):
            if option == value and isinstance(option, bool) == isinstance(value, bool):
                return index
        raise ValueError(f"Choice: {value!r} is not one of the options {list(self.options)!r}")

    def narrowed(self, values, min_fraction: float = 0.1) -> Choice:
        """The options among ``values``, in this dimension's order."""
        used = {self._index(value) for value in values}
        if not used:
            raise ValueError("Choice.narrowed: needs at least one value, got none")
        return Choice([option for index, option in enumerate(self.options) if index in used])

    def widened(self, side: str, fraction: float = 0.5) -> Choice:
        """A choice has no edge to widen: itself."""
        return self

    def to_optuna(self):
        from optuna.distributions import CategoricalDistribution  # noqa: PLC0415 - the driver's dependency only

        return CategoricalDistribution(self.options)

    def to_config(self) -> dict:
        return {"type": self.type_name, "options": list(self.options)}

    from_config = Dimension.from_config
    __eq__, __hash__ = Dimension.__eq__, Dimension.__hash__

    def __repr__(self):
        return f"Choice({list(self.options)!r})"


DIMENSIONS = {cls.type_name: cls for cls in (LogUniform, Uniform, IntUniform, Choice)}


def from_config(config: dict):
    """A dimension from ``{"type": "log_uniform", "low": ..., "high": ...}`` (see :meth:`Dimension.to_config`)."""
    if not isinstance(config, dict) or "type" not in config:
        raise ValueError(f"a dimension's config must be a dict with a 'type' (one of {sorted(DIMENSIONS)}), "
                         f"got {config!r}")
    kind = config["type"]
    if kind not in DIMENSIONS:
        raise ValueError(f"unknown dimension type {kind!r}; expected one of {sorted(DIMENSIONS)}")
    arguments = {key: value for key, value in config.items() if key != "type"}
    if "limits" in arguments:
        arguments["limits"] = tuple(arguments["limits"])
    try:
        return DIMENSIONS[kind](**arguments)
    except TypeError as error:
        raise ValueError(f"{kind}: bad config {config!r} ({error})") from error


def check_space(space) -> dict:
    """Validate a space (a non-empty dict of str -> dimension) and return it."""
    if not isinstance(space, dict) or not space:
        raise ValueError(f"a search space must be a non-empty dict name -> dimension, got {space!r}")
    for name, dimension in space.items():
        if not isinstance(name, str):
            raise ValueError(f"search space names must be str, got {name!r}")
        if not isinstance(dimension, (Dimension, Choice)):
            raise ValueError(f"search space {name!r}: expected LogUniform, Uniform, IntUniform or Choice, "
                             f"got {dimension!r}")
    return space


def space_to_config(space: dict) -> dict:
    """``{name: dimension.to_config()}``: a JSON-able description of a space."""
    return {name: dimension.to_config() for name, dimension in check_space(space).items()}


def space_from_config(config: dict) -> dict:
    """The inverse of :func:`space_to_config`."""
    return {name: from_config(dimension) for name, dimension in config.items()}
