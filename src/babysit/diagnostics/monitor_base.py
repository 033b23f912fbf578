"""What every live monitor shares: sampling every k steps, JSON-able records, number formats.

A monitor measures only on sampled steps (``step % every == 0``) so that watching a run
costs a few percent of its time; between samples its hooks return at once.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from babysit.train.callbacks.base import Callback

#: Sample one step in this many by default. A sample costs about half a training step of
#: the MNIST-1D MLP (copies, norms, histograms), so 1 in 20 keeps the overhead near 5%
#: there (benchmarks/monitor_overhead.py), and a 60-epoch run still gets 120 samples.
DEFAULT_EVERY = 20


class SampledMonitor(Callback):
    """Base class of the monitors: samples every ``every`` steps and reports Findings.

    Subclasses fill ``self.records`` (JSON-able: names -> lists) and implement
    :meth:`findings`. ``state_dict`` saves the records, so a resumed run keeps the
    statistics sampled before the interruption.
    """

    #: The key of this monitor's records in monitors.json.
    section = ""

    def __init__(self, every: int = DEFAULT_EVERY):
        if not isinstance(every, (int, np.integer)) or isinstance(every, bool) or every < 1:
            raise ValueError(f"{type(self).__name__}: every must be a positive int, got {every!r}")
        self.every = int(every)
        self.records: dict = {}

    def sampled(self, step: int) -> bool:
        """Whether ``step`` is one of the steps this monitor measures."""
        return step % self.every == 0

    def findings(self, trainer=None) -> list:
        """The monitor's verdicts as :class:`~babysit.diagnostics.findings.Finding` objects."""
        raise NotImplementedError(f"{type(self).__name__} must implement findings()")

    def to_dict(self) -> dict:
        """The sampled statistics, as written to monitors.json (NaN and inf become null)."""
        return jsonable(self.records)

    def state_dict(self) -> dict:
        """The records, with number lists as arrays: checkpoints keep arrays in the npz,
        compactly, and only the structure in their JSON."""
        return {"records": _to_arrays(self.records)}

    def load_state_dict(self, state: dict) -> None:
        self.records = _from_arrays(state.get("records", {}))


def weight_parameters(model) -> list[tuple[str, object]]:
    """Trainable parameters with two or more dimensions (weight matrices, conv kernels), in
    forward order: the ones the lecture's rules of thumb are about (biases start at 0 and
    normalization scales at 1, so ratios and depth profiles of them mean little)."""
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad and p.data.ndim >= 2]


def median(values) -> float:
    """Median of the finite values (NaN when there are none)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def tail(values, fraction: float = 0.25) -> list:
    """The last ``fraction`` of ``values`` (at least one): the state the run ended in."""
    count = max(1, math.ceil(len(values) * fraction))
    return list(values[-count:])


def listing(items, limit: int = 6) -> str:
    """``"a, b, c"``, shortened to ``limit`` items and a count of the rest."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def layer_label(name: str, module) -> str:
    """``"layer '3' (ReLU)"``; the root module has the empty name."""
    return f"layer '{name}' ({type(module).__name__})" if name else f"the model ({type(module).__name__})"


def jsonable(value):
    """A copy of ``value`` with NumPy scalars turned into Python numbers and NaN/inf into
    ``None`` (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _to_arrays(value):
    """Lists of numbers (or of equal-length number lists) become float or int arrays."""
    if isinstance(value, dict):
        return {key: _to_arrays(item) for key, item in value.items()}
    if isinstance(value, list) and value:
        if all(_is_number(item) for item in value) or all(
                isinstance(item, list) and item and all(_is_number(v) for v in item) and len(item) == len(value[0])
                for item in value):
            array = np.array(value, dtype=object)
            integral = all(isinstance(v, (int, np.integer)) for v in array.reshape(-1))
            return np.array(value, dtype=np.int64 if integral else np.float64)
        return [_to_arrays(item) for item in value]
    return value


def _from_arrays(value):
    """Inverse of :func:`_to_arrays`: arrays back to (nested) lists of Python numbers."""
    if isinstance(value, dict):
        return {key: _from_arrays(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [_from_arrays(item) for item in value]
    return value


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
