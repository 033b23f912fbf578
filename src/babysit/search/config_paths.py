"""Dotted paths into a training config: ``optimizer.lr``, ``model.0.out_features``, ``penalties[0].strength``.

A search's parameters are named by where they go in the config. A path walks mappings by
key and lists by index (``model.0`` and ``model[0]`` are the same); an argument written
under a component's ``args:`` is found there too, and a component written as a bare name
(``- Dropout``) is opened into ``{type: Dropout, ...}`` when one of its arguments is set.
A path that does not exist is an error naming the valid keys (or indices) at the level
where it went wrong.
"""

from __future__ import annotations

import copy
import re

#: Keys a search may not set: the budget and the seed of each trial come from the search itself.
RESERVED = {"epochs": "the epochs of a trial are the search's budget (search.stages), not a parameter",
            "seed": "each trial's seed comes from the search (search.seed); it is not a parameter",
            "search": "the search section cannot search itself"}

_PART = re.compile(r"[^.\[\]]+|\[\d+\]")


class PathError(ValueError):
    """A path that does not lead anywhere in the config; the message lists what is there."""


def split_path(path: str) -> list:
    """``"model[0].out_features"`` -> ``["model", 0, "out_features"]`` (digits become list indices)."""
    if not isinstance(path, str) or not path.strip():
        raise PathError(f"a parameter is a dotted path into the config such as 'optimizer.lr', got {path!r}")
    parts = []
    for token in _PART.findall(path.strip()):
        token = token.strip("[]")
        parts.append(int(token) if token.isdigit() else token)
    if ".".join(str(part) for part in parts) != re.sub(r"\[(\d+)\]", r".\1", path.strip()).strip("."):
        raise PathError(f"{path!r} is not a dotted path: write keys and list indices as 'model.0.out_features' "
                        "or 'model[0].out_features'")
    return parts


def join_path(parts) -> str:
    """``["model", 0, "out_features"]`` -> ``"model[0].out_features"`` (the config errors' spelling)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def check_path(config: dict, path: str, *, top_keys=()) -> object:
    """The value at ``path`` (``None`` for an argument not written yet); :class:`PathError` if the path leads nowhere.

    Parameters
    ----------
    config : dict
        The raw training config (before validation).
    path : str
    top_keys : iterable of str
        Top-level keys a config may have even when this one leaves them out (``seed``, ``penalties``...).
    """
    parts = split_path(path)
    if parts[0] in RESERVED:
        raise PathError(f"{parts[0]!r}: {RESERVED[parts[0]]}")
    node = config
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = join_path(parts[:depth]) or "the config"
        if isinstance(node, str) and isinstance(part, str):  # `- Dropout` opened into {type: Dropout}
            node = {"type": node}
        if isinstance(node, list):
            if not isinstance(part, int):
                raise PathError(f"{where} is a list: index it with a number ({where}.0 or {where}[0]), got {part!r}")
            if not 0 <= part < len(node):
                raise PathError(f"{where} has {len(node)} entries (indices 0..{len(node) - 1}), got index {part}")
            node = node[part]
            continue
        if not isinstance(node, dict):
            raise PathError(f"{where} is {node!r}, not a mapping or a list: {join_path(parts)} cannot go inside it")
        if isinstance(part, int):
            raise PathError(f"{where} is a mapping: name a key ({_keys(node)}), got index {part}")
        if part in node:
            node = node[part]
        elif isinstance(node.get("args"), dict) and part in node["args"]:
            node = node["args"][part]
        elif last and (depth > 0 or part in top_keys):
            return None  # an argument left at its default: the config's validation judges its name
        elif depth == 0 and part in top_keys:
            raise PathError(f"the config has no {part!r} section: write one (e.g. {part}: ...) to search "
                            f"{join_path(parts)} inside it")
        else:
            allowed = sorted(set(node) | (set(top_keys) if depth == 0 else set()))
            raise PathError(f"{where} has no key {part!r}; keys there: {', '.join(map(str, allowed))}")
    return node


def set_path(config: dict, path: str, value) -> dict:
    """A deep copy of ``config`` with ``value`` at ``path`` (a missing last key is created).

    Call :func:`check_path` first: this assumes the path leads somewhere.
    """
    config = copy.deepcopy(config)
    parts = split_path(path)
    node = config
    for depth, part in enumerate(parts):
        if isinstance(node, dict) and part not in node and isinstance(node.get("args"), dict) \
                and part in node["args"]:
            node = node["args"]  # the argument was written under args: set it there
        if depth == len(parts) - 1:
            node[part] = value
            break
        if isinstance(node[part], str) and isinstance(parts[depth + 1], str):
            node[part] = {"type": node[part]}  # open a bare component name to set one of its arguments
        node = node[part]
    return config


def _keys(node: dict) -> str:
    return ", ".join(map(str, node)) or "none"
