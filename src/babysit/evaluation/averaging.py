"""Parameter averaging: an exponential (Polyak) moving average, SWA's equal average over
epochs, BatchNorm statistics recomputed for averaged weights, and checkpoint averaging.

Averaged weights often evaluate better than the last iterate: SGD ends up bouncing around
a minimum, and the average sits nearer its centre (CS231n: "model ensembles" tip;
Polyak & Juditsky 1992; Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima
and Better Generalization").

>>> ema = EMA(model, decay=0.999)          # doctest: +SKIP
>>> for x, y in loader:                     # doctest: +SKIP
...     train_step(x, y); ema.update()
>>> with ema.average_parameters():          # doctest: +SKIP
...     val_accuracy = evaluate(model)      # averaged weights inside, training weights after
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import numpy as np

from babysit.errors import CheckpointError
from babysit.nn.module import Module
from babysit.serialization import load_arrays


class _Averager:
    """Shared machinery: a shadow copy of every parameter, swapped in on demand."""

    def __init__(self, model: Module):
        if not isinstance(model, Module):
            raise TypeError(f"{type(self).__name__}: expected a Module, got {type(model).__name__}")
        self.model = model
        self.num_updates = 0
        self.shadow = {name: p.data.copy() for name, p in model.named_parameters()}

    def _pairs(self):
        for name, parameter in self.model.named_parameters():
            if name not in self.shadow:
                raise KeyError(f"{type(self).__name__}: the model gained a parameter '{name}' after construction")
            yield self.shadow[name], parameter.data

    @contextlib.contextmanager
    def average_parameters(self) -> Iterator[Module]:
        """Within the block the model holds the averaged weights; on exit (even by an
        exception) its own weights *and buffers* come back, so BatchNorm statistics
        recomputed inside the block (:func:`update_batchnorm`) are discarded too."""
        backup = self.model.state_dict()
        self.copy_to()
        try:
            yield self.model
        finally:
            self.model.load_state_dict(backup)

    def copy_to(self, model: Module | None = None) -> None:
        """Write the averaged weights into ``model`` (default: the tracked model), in place."""
        target = self.model if model is None else model
        target.load_state_dict(dict(self.shadow), strict=False)

    def state_dict(self) -> dict:
        """Arrays and counters to checkpoint the average (``shadow.<name>`` plus ``num_updates``)."""
        state = {f"shadow.{name}": value.copy() for name, value in self.shadow.items()}
        state["num_updates"] = np.array(self.num_updates, dtype=np.int64)
        return state

    def load_state_dict(self, state: dict) -> None:
        shadow = {key[len("shadow."):]: np.array(value) for key, value in state.items() if key.startswith("shadow.")}
        if set(shadow) != set(self.shadow):
            raise KeyError(f"{type(self).__name__}.load_state_dict: parameters {sorted(shadow)} do not match "
                           f"the model's {sorted(self.shadow)}")
        for name, value in shadow.items():
            self.shadow[name][...] = value
        self.num_updates = int(state["num_updates"])


class EMA(_Averager):
    """Exponential moving average of a model's parameters (Polyak averaging with forgetting).

    After each optimizer step, ``update()`` sets ``avg <- decay * avg + (1 - decay) * w``;
    the average starts at the weights the model has at construction. Evaluate with
    ``with ema.average_parameters(): ...`` or keep the average with ``copy_to()``.

    Parameters
    ----------
    model : Module
    decay : float in [0, 1)
        Close to 1 (0.99 to 0.9999): the average covers about ``1 / (1 - decay)`` steps.
    warmup : bool
        Use ``min(decay, (1 + n) / (10 + n))`` at update ``n`` so the early average does not
        cling to the initial weights (TensorFlow's ``num_updates`` rule).

    Notes
    -----
    Buffers (BatchNorm running statistics) are not averaged: the model's own are used,
    which for a slow average are close to right; recompute them with
    :func:`update_batchnorm` inside ``average_parameters()`` when they are not.
    """

    def __init__(self, model: Module, decay: float = 0.999, *, warmup: bool = False):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA: decay must be in [0, 1), got {decay!r}")
        super().__init__(model)
        self.decay = float(decay)
        self.warmup = bool(warmup)

    def current_decay(self) -> float:
        """The decay the next ``update()`` uses."""
        if self.warmup:
            return min(self.decay, (1.0 + self.num_updates) / (10.0 + self.num_updates))
        return self.decay

    def update(self) -> None:
        """Fold the model's current weights into the average."""
        keep = self.current_decay()
        for average, weight in self._pairs():
            average -= (1.0 - keep) * (average - weight)
        self.num_updates += 1


class SWA(_Averager):
    """Stochastic Weight Averaging: the equal-weight mean of the weights at chosen points.

    Call ``update()`` once per epoch (or per cycle of a cyclical schedule) late in
    training; the first call replaces the starting weights, and after ``n`` calls the
    average is ``(w_1 + ... + w_n) / n``. BatchNorm statistics do not match averaged
    weights: after ``copy_to()`` (or inside ``average_parameters()``) recompute them with
    ``update_batchnorm(model, batches)``.

    References
    ----------
    Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima and Better Generalization".
    """

    def update(self) -> None:
        self.num_updates += 1
        for average, weight in self._pairs():
            average += (weight - average) / average.dtype.type(self.num_updates)

    def update_batchnorm(self, batches, *, batch_size: int | None = None) -> None:
        """Recompute the tracked model's BatchNorm statistics; see :func:`update_batchnorm`."""
        update_batchnorm(self.model, batches, batch_size=batch_size)


def update_batchnorm(model: Module, batches, *, batch_size: int | None = None) -> int:
    """Recompute BatchNorm running statistics with one pass over ``batches``.

    Every module with ``reset_running_stats()`` has its statistics reset and its
    ``momentum`` set to ``None`` (a cumulative average over the pass), then restored;
    the pass runs those modules in training mode and everything else in evaluation mode
    (dropout off, as at test time). Training modes are restored afterwards.

    Parameters
    ----------
    model : Module
    batches : array, or iterable of arrays or of ``(x, y, ...)`` tuples (a DataLoader)
        A single array is one batch, or is cut into ``batch_size`` chunks.

    Returns
    -------
    int
        The number of normalization modules updated (0: no pass was made).
    """
    norms = [m for m in model.modules() if callable(getattr(m, "reset_running_stats", None))]
    if not norms:
        return 0
    modes = {id(m): m.training for m in model.modules()}
    momenta = [getattr(m, "momentum", None) for m in norms]
    try:
        model.eval()
        for module in norms:
            module.reset_running_stats()
            module.momentum = None
            module.train()
        for x in _inputs(batches, batch_size):
            model(x)
    finally:
        for module, momentum in zip(norms, momenta, strict=True):
            module.momentum = momentum
        for module in model.modules():
            module.training = modes[id(module)]
    return len(norms)


def _inputs(batches, batch_size: int | None) -> Iterable:
    if hasattr(batches, "shape"):
        step = batches.shape[0] if batch_size is None else batch_size
        return (batches[start:start + step] for start in range(0, batches.shape[0], step))
    return (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in batches)


def average_checkpoints(paths, weights=None) -> dict[str, np.ndarray]:
    """The element-wise (weighted) mean of the arrays in several saved model files.

    Averaging the last few checkpoints of one run is a cheap ensemble (CS231n). Files
    are read with :func:`babysit.serialization.load_arrays` (no pickle; digests checked);
    all must hold the same names and shapes. Floating arrays are averaged in float64 and
    cast back; integer arrays (counters) are taken from the last file.

    Returns a state dict: ``model.load_state_dict(average_checkpoints(paths))``.
    """
    paths = list(paths)
    if not paths:
        raise ValueError("average_checkpoints: no paths given")
    weights = np.full(len(paths), 1.0 / len(paths)) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(paths),) or np.any(weights < 0) or not weights.sum() > 0:
        raise ValueError(f"average_checkpoints: need one weight >= 0 per path (not all 0), got {weights.tolist()}")
    weights = weights / weights.sum()
    total: dict[str, np.ndarray] = {}
    reference: dict[str, np.ndarray] = {}
    for path, weight in zip(paths, weights, strict=True):
        arrays, _ = load_arrays(path)
        if reference and _layout(arrays) != _layout(reference):
            raise CheckpointError(f"{path}: holds different arrays from {paths[0]} ({_difference(arrays, reference)})")
        reference = arrays
        for name, value in arrays.items():
            if value.dtype.kind == "f":
                total[name] = total.get(name, 0.0) + weight * value.astype(np.float64)
    return {name: total[name].astype(value.dtype) if name in total else value.copy()
            for name, value in reference.items()}


def _layout(arrays: dict) -> dict:
    return {name: (value.shape, value.dtype.kind) for name, value in arrays.items()}


def _difference(arrays: dict, reference: dict) -> str:
    mine, theirs = _layout(arrays), _layout(reference)
    names = sorted(set(mine) ^ set(theirs)) or sorted(n for n in mine if mine[n] != theirs[n])
    return f"differing entries: {names[:5]}"
