"""The ``search:`` section of a training config: what to search, how, and on what budget.

::

    search:
      strategy: random                 # or grid
      params:                          # dotted paths into the config -> a range
        optimizer.lr: {log_uniform: [1.0e-6, 1.0e-1]}
        penalties.0.strength: {log_uniform: [1.0e-5, 10]}
        model.0.out_features: {int_uniform: [16, 256], log: true}
        model.2.p: {uniform: [0.0, 0.5]}
        optimizer.type: {choice: [adam, sgd]}
      stages: [[50, 3], [20, 15]]      # (trials, epochs) per stage; one stage = a plain search
      keep_top: 5                      # later stages narrow to the span of the top 5
      metric: val_accuracy             # or val_loss; needs data.val_size (never the test set)

``trials: 30`` (and optionally ``epochs: 10``, default the config's ``epochs``) is the same
as ``stages: [[30, 10]]``. Also: ``seed`` (default 0), ``pruner`` (``true``/``false``, or
``{min_epochs, reduction_factor, min_trials}`` of successive halving), ``kill_factor``
(default 3: a trial whose loss exceeds 3x its first is stopped as diverged; ``null`` turns
the kill off), ``keep_runs`` (``true``: each trial gets a run directory in ``OUT/trials``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

from babysit.config.loading import ConfigError, validate
from babysit.config.schema import Config
from babysit.search.config_paths import PathError, check_path, set_path

#: Metrics a search may select on, and whether higher is better. Both need a validation split.
METRICS = {"val_accuracy": "maximize", "val_loss": "minimize"}
#: The range forms of ``search.params``: ``{KIND: [low, high]}`` (``{choice: [options]}``).
KINDS = ("log_uniform", "uniform", "int_uniform", "choice")
KEYS = ("strategy", "params", "stages", "trials", "epochs", "keep_top", "metric", "seed", "pruner", "kill_factor",
        "keep_runs")
PRUNER_KEYS = ("min_epochs", "reduction_factor", "min_trials")


@dataclass
class SearchPlan:
    """A parsed ``search:`` section.

    Attributes
    ----------
    space : dict
        Path -> dimension (:mod:`babysit.search.spaces`); the paths are the parameter names.
    stages : list of (int, int)
        ``(n_trials, epochs)`` per stage.
    strategy : str
        ``random`` or ``grid``.
    metric, direction : str
        ``val_accuracy``/``maximize`` or ``val_loss``/``minimize``.
    pruner : dict or None
        Successive halving's arguments (``{}``: its defaults), or ``None`` for no pruning.
    """

    space: dict
    stages: list
    strategy: str = "random"
    keep_top: int = 5
    metric: str = "val_accuracy"
    seed: int = 0
    pruner: dict | None = field(default_factory=dict)
    kill_factor: float | None = 3.0
    keep_runs: bool = False

    @property
    def direction(self) -> str:
        return METRICS[self.metric]


def split_config(data: dict, source=None) -> tuple[dict, SearchPlan]:
    """``(training config without search:, plan)`` from a config dict; every problem in one :class:`ConfigError`.

    The training config is validated, each parameter's path is checked against it, and the
    config is validated again with every range's ends substituted, so a range the config
    refuses (a negative rate, an unknown optimizer among the choices) is found before any
    trial runs.
    """
    if not isinstance(data, dict) or not isinstance(data.get("search"), dict):
        found = None if not isinstance(data, dict) else data.get("search")
        raise ConfigError(f"search: a search config needs a search: section (a mapping with params, stages...), "
                          f"got {found!r}; see docs/search.md", source)
    section = dict(data["search"])
    base = {key: value for key, value in data.items() if key != "search"}
    config = validate(base, source)  # the training config alone must be valid first
    problems = [f"search: unknown key {key!r}; allowed: {', '.join(KEYS)}" for key in section if key not in KEYS]
    space = _space(section.get("params"), base, problems)
    stages = _stages(section, config, problems)
    plan_args = _options(section, problems)
    if plan_args.get("metric", "val_accuracy") in METRICS and config.data.val_size is None:
        metric = plan_args.get("metric", "val_accuracy")
        problems.append(f"search.metric: {metric} is measured on a validation split: set data.val_size (e.g. 0.2); "
                        "hyperparameters are never chosen on the test set")
    if problems:
        raise ConfigError(problems, source)
    plan = SearchPlan(space, stages, **plan_args)
    _check_ends(base, plan, source)
    return base, plan


def _space(params, base: dict, problems: list) -> dict:
    if not isinstance(params, dict) or not params:
        problems.append("search.params: give at least one parameter, e.g. optimizer.lr: {log_uniform: [1.0e-6, 0.1]}")
        return {}
    space = {}
    for path, spec in params.items():
        where = f"search.params.{path}"
        try:
            current = check_path(base, path, top_keys=Config.model_fields)
        except PathError as error:
            problems.append(f"{where}: {error}")
            continue
        kind, arguments = _kind(spec)
        if kind is None:
            problems.append(f"{where}: a range is one of {{log_uniform: [low, high]}}, {{uniform: [low, high]}}, "
                            f"{{int_uniform: [low, high], log: false}}, {{choice: [option, ...]}} (numeric ones may "
                            f"add limits: [lo, hi]); got {spec!r}")
            continue
        if kind != "choice" and isinstance(current, (dict, list)):
            problems.append(f"{where}: holds a {type(current).__name__} in the config; a {kind} range needs a number "
                            "there (a choice can replace a whole section)")
            continue
        try:
            space[path] = _dimension(kind, arguments)
        except (TypeError, ValueError) as error:
            problems.append(f"{where}: {error}")
    return space


def _dimension(kind: str, arguments: dict):
    """The engine's dimension. A numeric range that starts at >= 0 gets the hard limit 0 (>= 1 for integers)
    unless ``limits`` says otherwise, so that widening at an edge never leaves the valid domain of a size,
    a probability or a momentum."""
    from babysit.search.spaces import Choice, IntUniform, LogUniform, Uniform  # noqa: PLC0415 - the engine's

    values = arguments["values"]
    if kind == "choice":
        return Choice(list(values))
    low, high = values
    limits = arguments.get("limits")
    if limits is not None and not (isinstance(limits, list) and len(limits) == 2):
        raise ValueError(f"limits must be a pair [lo, hi] (null for no limit on a side), got {limits!r}")
    if limits is not None:
        limits = tuple(-math.inf if bound is None and side == 0 else math.inf if bound is None else bound
                       for side, bound in enumerate(limits))
    if kind == "int_uniform":
        default = (1, math.inf) if _number(low) and low >= 1 else None
        limits = limits or default
        if limits is not None:  # integer limits must be finite (the engine floors them)
            limits = tuple(max(min(bound, sys.maxsize), -sys.maxsize) for bound in limits)
        return IntUniform(low, high, log=bool(arguments.get("log", False)), limits=limits)
    if kind == "uniform":
        default = (0.0, math.inf) if _number(low) and low >= 0 else None
        return Uniform(low, high, limits=limits or default)
    return LogUniform(low, high, limits=limits)


def _kind(spec) -> tuple[str | None, dict]:
    """``({log_uniform: [a, b]})`` or the engine's own form ``{type: log_uniform, low: a, high: b}``."""
    if not isinstance(spec, dict):
        return None, {}
    if spec.get("type") in KINDS:
        kind = spec["type"]
        values = spec.get("options") if kind == "choice" else [spec.get("low"), spec.get("high")]
        rest = {key: value for key, value in spec.items() if key not in ("type", "low", "high", "options")}
    else:
        named = [key for key in spec if key in KINDS]
        if len(named) != 1:
            return None, {}
        kind = named[0]
        values = spec[kind]
        rest = {key: value for key, value in spec.items() if key != kind}
    allowed = {"choice": set(), "int_uniform": {"log", "limits"}}.get(kind, {"limits"})
    if set(rest) - allowed:
        return None, {}
    size_ok = isinstance(values, list) and (len(values) >= 1 if kind == "choice" else len(values) == 2)
    if not size_ok:
        return None, {}
    return kind, {"values": values, **rest}


def _stages(section: dict, config: Config, problems: list) -> list:
    stages = section.get("stages")
    if stages is not None and ("trials" in section or "epochs" in section):
        problems.append("search: give either stages: [[trials, epochs], ...] or trials: (and epochs:), not both")
        return []
    if stages is None:
        if "trials" not in section:
            problems.append("search: give stages: [[trials, epochs], ...] (e.g. [[50, 3], [20, 15]]) or trials: N")
            return []
        stages = [[section["trials"], section.get("epochs", config.epochs)]]
    if not isinstance(stages, list) or not stages:
        problems.append(f"search.stages: a list of [trials, epochs] pairs, e.g. [[50, 3], [20, 15]]; got {stages!r}")
        return []
    parsed = []
    for index, stage in enumerate(stages):
        good = (isinstance(stage, (list, tuple)) and len(stage) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in stage))
        if not good:
            problems.append(f"search.stages[{index}]: a pair [trials, epochs] of whole numbers >= 1, got {stage!r}")
            continue
        parsed.append((int(stage[0]), int(stage[1])))
    return parsed


def _options(section: dict, problems: list) -> dict:
    """The plan's scalar options, each checked; problems appended."""
    found = {}
    checks = {
        "strategy": (lambda v: v in ("random", "grid"), "random or grid"),
        "keep_top": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
        "metric": (lambda v: v in METRICS, f"one of {', '.join(METRICS)}"),
        "seed": (lambda v: _whole(v) and v >= 0, "a whole number >= 0"),
        "kill_factor": (lambda v: v is None or (_number(v) and v > 1), "a number > 1 (3: the lecture's rule) or null"),
        "keep_runs": (lambda v: isinstance(v, bool), "true or false"),
    }
    for key, (good, expected) in checks.items():
        if key in section:
            if good(section[key]):
                found[key] = section[key]
            else:
                problems.append(f"search.{key}: must be {expected}, got {section[key]!r}")
    if "pruner" in section:
        pruner = section["pruner"]
        if pruner is True or pruner is None:
            found["pruner"] = {} if pruner else None
        elif pruner is False:
            found["pruner"] = None
        elif isinstance(pruner, dict) and set(pruner) <= set(PRUNER_KEYS):
            found["pruner"] = dict(pruner)
        else:
            problems.append(f"search.pruner: true, false, or a mapping of {', '.join(PRUNER_KEYS)}; got {pruner!r}")
    return found


def _check_ends(base: dict, plan: SearchPlan, source) -> None:
    """Validate the config with every range at its low end, then its high end (choices: each option)."""
    candidates = [{path: _end(dim, 0) for path, dim in plan.space.items()},
                  {path: _end(dim, -1) for path, dim in plan.space.items()}]
    for path, dim in plan.space.items():
        candidates += [{**candidates[0], path: option} for option in getattr(dim, "options", ())[1:-1]]
    for params in candidates:
        try:
            validate(substitute(base, params))
        except ConfigError as error:
            values = ", ".join(f"{path}={value!r}" for path, value in params.items())
            raise ConfigError([f"search.params: with {values} the config is invalid: {problem}"
                               for problem in error.problems], source) from None


def substitute(base: dict, params: dict) -> dict:
    """The training config with each ``path: value`` of ``params`` set (NumPy scalars as Python numbers)."""
    config = base
    for path, value in params.items():
        config = set_path(config, path, plain(value))
    return config


def plain(value):
    """NumPy scalars and arrays as Python values, so the config's validation and YAML take them."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _end(dim, index):
    if hasattr(dim, "options"):
        return dim.options[index]
    value = dim.low if index == 0 else dim.high
    return int(value) if type(dim).__name__ == "IntUniform" else float(value)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
