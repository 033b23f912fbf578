"""The optimizer base class: parameter groups, per-parameter state, schedules, state_dict.

An optimizer holds ``param_groups`` (lists of Parameters, each with its own
hyperparameters: fine-tuning gives pretrained layers a lower ``lr``) and ``state`` (per
Parameter: a step count and arrays such as Adam's moments). ``step()`` updates every
parameter that has a gradient and ``requires_grad``; frozen parameters and parameters
whose ``grad`` is ``None`` are skipped, as in PyTorch.

A subclass declares its hyperparameters' checks in ``rules`` and implements
``init_state(param, group)`` and ``update(param, state, group, lr)``; the arithmetic
lives in a kernel function of its module that updates arrays in place (see
:mod:`babysit.optim.foreach`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import ClassVar

import numpy as np

from babysit.backend import xp
from babysit.nn.module import Parameter

#: A learning-rate schedule: the optimizer's step count (0 for the first step) -> lr.
Schedule = Callable[[int], float]

#: How a schedule is written in a state_dict (a callable is not data; loading keeps the
#: optimizer's current one).
SCHEDULE_MARK = "schedule"

Rule = Callable[[object, str], object]


class Optimizer:
    """Base class of the optimizers.

    Parameters
    ----------
    params : iterable of Parameter, iterable of dict, or Module
        ``model.parameters()``, or groups ``[{"params": [...], "lr": 1e-4}, ...]`` whose
        keys override the defaults for their parameters.
    **defaults
        Hyperparameters; ``lr`` is a number or a schedule ``step -> lr`` that the
        optimizer evaluates at its own step count (``step_count``, 0 on the first step).

    Attributes
    ----------
    param_groups : list of dict
    state : dict mapping Parameter -> dict of arrays and numbers
    step_count : int, the number of ``step()`` calls so far
    """

    #: Hyperparameter name -> check ``rule(value, where) -> normalised value`` (raises ValueError).
    rules: ClassVar[dict[str, Rule]] = {}

    def __init__(self, params, **defaults):
        self.defaults = self._checked(defaults, type(self).__name__)
        self.state: dict[Parameter, dict] = {}
        self.param_groups: list[dict] = []
        self.step_count = 0
        for group in _as_groups(params, type(self).__name__):
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, group: dict) -> None:
        """Add a group ``{"params": [...], **overrides}``; missing keys take the defaults."""
        name = f"{type(self).__name__} param_groups[{len(self.param_groups)}]"
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group is a dict with a 'params' entry, got {group!r}")
        unknown = sorted(set(group) - set(self.defaults) - {"params"})
        if unknown:
            raise ValueError(f"{name}: unknown hyperparameter(s) {unknown}; expected some of {sorted(self.defaults)}")
        params = _as_parameter_list(group["params"], name)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if id(p) in seen:
                raise ValueError(f"{name}: {p!r} appears in more than one parameter group (or twice in one)")
            seen.add(id(p))
        overrides = {key: value for key, value in group.items() if key != "params"}
        full = {**self.defaults, **self._checked(overrides, name), "params": params}
        self.init_group(full)
        self.param_groups.append(full)

    def init_group(self, group: dict) -> None:
        """Add per-group state (SWATS's switch, AdaBound's base rate); none by default."""

    # -------------------------------------------------------------------- step
    def step(self, closure: Callable[[], float] | None = None):
        """Update every trainable parameter that has a gradient; return ``closure()`` if given.

        The closure (zero the gradients, compute the loss, run backward, return the loss)
        is evaluated first, as in PyTorch.
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            active = [p for p in group["params"] if p.requires_grad and p.grad is not None]
            if active:
                self.update_group(group, active, self.group_lr(group))
        self.step_count += 1
        return loss

    def update_group(self, group: dict, params: list[Parameter], lr: float) -> None:
        """One step on the group's ``params`` (those with a gradient) at rate ``lr``."""
        for p in params:
            self.update(p, self.next_state(p, group), group, lr)

    def next_state(self, param: Parameter, group: dict) -> dict:
        """The parameter's state with its step count advanced (made by ``init_state`` on first use)."""
        state = self.state.get(param)
        if state is None:
            state = self.state[param] = self.init_state(param, group)
        state["step"] += 1
        return state

    def init_state(self, param: Parameter, group: dict) -> dict:
        """State of a parameter before its first update: ``{"step": 0, ...arrays}``."""
        return {"step": 0}

    def update(self, param: Parameter, state: dict, group: dict, lr: float) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update(param, state, group, lr)")

    def group_lr(self, group: dict) -> float:
        """The group's rate for the coming step: its number, or its schedule at ``step_count``."""
        lr = group["lr"]
        if not callable(lr):
            return lr
        value = lr(self.step_count)
        if not _is_real(value) or not math.isfinite(value) or value < 0:
            raise ValueError(
                f"{type(self).__name__}: the lr schedule gave {value!r} at step {self.step_count}; "
                "a rate must be a finite number >= 0"
            )
        return float(value)

    def learning_rates(self) -> list[float]:
        """Each group's rate for the next step (what a monitor or a log shows)."""
        return [self.group_lr(group) for group in self.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (``None``, or zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.fill(0)

    # --------------------------------------------------------------- state I/O
    def state_dict(self) -> dict:
        """Copies of everything a resumed run needs, as arrays and JSON-able values.

        ``{"state": {index: {name: array or number}}, "param_groups": [{..., "params":
        [indices]}], "step_count": n}``, parameters numbered in group order as in
        PyTorch. A schedule ``lr`` is written as ``"schedule"``. See
        :func:`state_to_arrays` to store it without pickle.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            saved = {key: _export_value(value) for key, value in group.items() if key != "params"}
            if callable(group["lr"]):
                saved["lr"] = SCHEDULE_MARK
            saved["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(saved)
        state = {index[id(p)]: self.export_state(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups, "step_count": self.step_count}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters, per-parameter state and the step count, so that the
        run continues the same trajectory. The optimizer must have been built with the
        same parameter groups; a saved schedule keeps this optimizer's current one."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state has {len(saved_groups)} parameter groups, "
                f"this optimizer {len(self.param_groups)}"
            )
        by_index = {}
        for number, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {number} has {len(saved['params'])} parameters in the state, "
                    f"{len(group['params'])} here"
                )
            by_index.update(zip(saved["params"], group["params"], strict=True))
            self._load_group(group, saved, f"{name}.load_state_dict: group {number}")
        self.state = {}
        for key, saved in state_dict["state"].items():
            param = by_index[int(key)]
            self.state[param] = self.import_state(param, saved)
        self.step_count = int(state_dict.get("step_count", 0))

    def _load_group(self, group: dict, saved: dict, where: str) -> None:
        unknown = sorted(set(saved) - set(group))
        if unknown:
            raise ValueError(f"{where}: unknown entries {unknown}")
        values = {key: value for key, value in saved.items() if key != "params"}
        if values.get("lr") == SCHEDULE_MARK:
            if not callable(group["lr"]):
                raise ValueError(f"{where}: the state was saved with an lr schedule; build the optimizer with one")
            del values["lr"]
        group.update(self._checked(values, where))

    def export_state(self, state: dict) -> dict:
        """One parameter's state as copies of arrays and plain numbers."""
        return {key: _export_value(value) for key, value in state.items()}

    def import_state(self, param: Parameter, saved: dict) -> dict:
        """The inverse of :meth:`export_state`; float arrays take the parameter's dtype."""
        state = {}
        for key, value in saved.items():
            if is_array(value):
                value = xp(param.data).asarray(value)
                if value.shape != param.shape:
                    raise ValueError(
                        f"{type(self).__name__}.load_state_dict: state '{key}' has shape {value.shape}, "
                        f"its parameter {param.shape}"
                    )
                value = value.astype(param.dtype, copy=True) if value.dtype.kind == "f" else value.copy()
            state[key] = value
        return state

    # --------------------------------------------------------------- checking
    def _checked(self, values: dict, where: str) -> dict:
        checked = dict(values)
        for key, value in values.items():
            rule = self.rules.get(key)
            if rule is not None:
                checked[key] = rule(value, f"{where}: {key}")
        return checked

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={_describe(value)}" for key, value in self.defaults.items())
        count = sum(len(group["params"]) for group in self.param_groups)
        return f"{type(self).__name__}({settings}; {len(self.param_groups)} group(s), {count} parameter(s))"


# ---------------------------------------------------------------- rules
def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def number(low: float = -math.inf, high: float = math.inf, *, low_open: bool = False, high_open: bool = False) -> Rule:
    """A rule: a finite real number in the interval (bounds closed unless said open)."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    interval = f"{left}{low:g}, {high:g}{right}"

    def check(value, where):
        ok = _is_real(value) and math.isfinite(value)
        ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
        if not ok:
            raise ValueError(f"{where} must be a finite number in {interval}, got {value!r}")
        return float(value)

    return check


nonnegative = number(0.0)
unit_interval = number(0.0, 1.0)
beta = number(0.0, 1.0, high_open=True)


def learning_rate(value, where):
    """A rule: a number >= 0, or a schedule (callable) whose value at step 0 is one."""
    if callable(value):
        nonnegative(value(0), f"{where} (the schedule's value at step 0)")
        return value
    return nonnegative(value, where)


def betas(value, where):
    """A rule: a pair ``(beta1, beta2)``, each in [0, 1)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{where} must be a pair (beta1, beta2), got {value!r}")
    return (beta(value[0], f"{where}[0]"), beta(value[1], f"{where}[1]"))


def flag(value, where):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where} must be True or False, got {value!r}")
    return bool(value)


def positive_int(value, where):
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value < 1:
        raise ValueError(f"{where} must be a positive int, got {value!r}")
    return int(value)


# ------------------------------------------------------------- helpers
def _as_groups(params, owner: str) -> list[dict]:
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    if isinstance(params, (Parameter, dict)) or not isinstance(params, Iterable):
        raise TypeError(
            f"{owner}: params must be an iterable of Parameters or of group dicts (model.parameters()), "
            f"got {type(params).__name__}"
        )
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: got an empty parameter list")
    if all(isinstance(item, dict) for item in params):
        return params
    if any(isinstance(item, dict) for item in params):
        raise TypeError(f"{owner}: params mixes Parameters and group dicts; give one or the other")
    return [{"params": params}]


def _as_parameter_list(params, where: str) -> list[Parameter]:
    params = [params] if isinstance(params, Parameter) else list(params)
    for position, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"{where}: params[{position}] is a {type(p).__name__}, expected a babysit Parameter")
    return params


def is_array(value) -> bool:
    return hasattr(value, "__array__") and not isinstance(value, np.generic)


def _export_value(value):
    if is_array(value):
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _describe(value) -> str:
    return SCHEDULE_MARK if callable(value) else repr(value)


# --------------------------------------------------- storing without pickle
def state_to_arrays(state_dict: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Split an optimizer state_dict into arrays (``"state/3/exp_avg"``) and a JSON-able rest.

    The pair goes to :func:`babysit.serialization.save_arrays`; :func:`state_from_arrays`
    rebuilds the state_dict from what ``load_arrays`` returns.
    """
    arrays, scalars = {}, {}
    for index, state in state_dict["state"].items():
        scalars[str(index)] = {}
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                arrays[f"state/{index}/{key}"] = value
            else:
                scalars[str(index)][key] = value
    groups = [{key: list(v) if isinstance(v, tuple) else v for key, v in g.items()} for g in state_dict["param_groups"]]
    metadata = {"state": scalars, "param_groups": groups, "step_count": state_dict.get("step_count", 0)}
    return arrays, metadata


def state_from_arrays(arrays: dict[str, np.ndarray], metadata: dict) -> dict:
    """The inverse of :func:`state_to_arrays`."""
    state = {int(index): dict(values) for index, values in metadata["state"].items()}
    for name, value in arrays.items():
        _, index, key = name.split("/", 2)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": metadata["param_groups"], "step_count": metadata.get("step_count", 0)}
