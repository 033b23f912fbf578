"""Read a config (YAML file, YAML text or dict), validate it, and say what is wrong, one line per problem."""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from babysit.config.schema import Config
from babysit.errors import BabysitError


class ConfigError(BabysitError, ValueError):
    """A config that cannot be used: every problem on its own line, led by the key it concerns.

    Attributes
    ----------
    problems : list of str
        ``"model[2].type: unknown layer 'Relu' (did you mean 'ReLU'?); allowed: Linear, ..."``
    source : str or None
        The config file (or ``None`` for a dict).
    """

    def __init__(self, problems, source=None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = None if source is None else str(source)
        super().__init__(self._message())

    def with_source(self, source) -> ConfigError:
        """The same problems, attributed to ``source`` (a file name)."""
        return ConfigError(self.problems, source)

    def _message(self) -> str:
        where = f"{self.source}: " if self.source else ""
        if len(self.problems) == 1:
            return f"{where}{self.problems[0]}"
        return f"{where}{len(self.problems)} problems\n" + "\n".join(f"  {problem}" for problem in self.problems)


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; configs mean the number."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_yaml(text: str, source=None) -> dict:
    """Parse YAML text into a dict, or raise :class:`ConfigError` naming the line."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"not valid YAML: {where}{problem}", source) from error
    if not isinstance(data, dict):
        raise ConfigError(f"a config is a YAML mapping (key: value lines), got {type(data).__name__}", source)
    return data


def load_config(source) -> Config:
    """A validated :class:`Config` from a YAML file path, a dict, or a Config (returned as is).

    Raises
    ------
    ConfigError
        Every problem found, each led by its key (``optimizer.lr``, ``model[2].type``) and,
        for a name or an argument, the allowed ones.
    FileNotFoundError
        No such file.
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, dict):
        return validate(source)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist")
    return validate(read_yaml(path.read_text(), path), path)


def validate(data: dict, source=None) -> Config:
    """Validate a config dict; :class:`ConfigError` lists every problem."""
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe(error), source) from None
    problems = config.problems()
    if problems:
        raise ConfigError(problems, source)
    return config


def dump_config(config: Config) -> str:
    """The config as YAML text (what ``babysit train`` writes when it was given a dict)."""
    return yaml.safe_dump(config_dict(config), sort_keys=False)


def config_dict(config: Config) -> dict:
    """Plain data, without the values left at their defaults."""
    return config.model_dump(mode="json", exclude_defaults=True)


def describe(error: ValidationError) -> list[str]:
    """One readable line per pydantic error: ``key.path: message``."""
    return [_line(entry) for entry in error.errors(include_url=False)]


def _line(entry: dict) -> str:
    key = location(entry["loc"])
    message = entry["msg"]
    kind = entry["type"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "extra_forbidden":
        message = _unknown_key(entry["loc"])
    elif kind == "missing":
        message = "missing (this key is required)"
    elif kind != "assertion_error" and not isinstance(entry.get("input"), (dict, list)):
        message = f"{message} (got {entry['input']!r})"
    return f"{key}: {message}" if key else message


def _unknown_key(loc) -> str:
    parent = _model_at(loc[:-1])
    if parent is None:
        return "unknown key"
    allowed = list(parent.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; allowed: {', '.join(allowed)}"


def _model_at(loc) -> type[BaseModel] | None:
    """The config section (a pydantic model class) found at ``loc``, walking the field annotations."""
    current = Config
    for part in loc:
        if isinstance(part, int):
            continue  # a list's item: _model_in already unwrapped the list
        field = current.model_fields.get(part)
        current = None if field is None else _model_in(field.annotation)
        if current is None:
            return None
    return current


def _model_in(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def location(loc) -> str:
    """``("model", 2, "type")`` -> ``"model[2].type"``; pydantic's tags for union members are dropped."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "[" in part or "(" in part:  # a union member's tag, e.g. 'function-after[...]'
            continue
        else:
            text += f".{part}" if text else part
    return text
