"""Saving and loading without pickle.

A file is an ``.npz`` archive (a zip of ``.npy`` arrays, read with ``allow_pickle=False``)
holding the arrays plus one JSON document: the architecture as constructor arguments
and a SHA-256 digest of every array. Loading rebuilds the model from classes already
imported (:data:`MODULE_REGISTRY`), so a file can never run code; a truncated file fails
the zip's checks and a tampered one fails the digests. Writes go to a temporary file that
is renamed into place, so an interrupted save leaves the previous file intact.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from babysit.atomic import atomic_open
from babysit.errors import CheckpointError
from babysit.nn.module import MODULE_REGISTRY, UNSAVED_ARGUMENTS, Module

FORMAT = "babysit"
FORMAT_VERSION = 1
_METADATA_KEY = "__metadata__"


def save_arrays(path, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Write ``arrays`` and JSON ``metadata`` to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    arrays = {name: np.asarray(value, order="C") for name, value in arrays.items()}  # keeps 0-d arrays 0-d
    for name, value in arrays.items():
        if value.dtype.hasobject:
            raise TypeError(f"cannot save array '{name}' of dtype object: only numeric arrays are stored")
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "digests": {name: _digest(value) for name, value in arrays.items()},
        **metadata,
    }
    payload = np.frombuffer(json.dumps(document).encode("utf-8"), dtype=np.uint8)
    with atomic_open(path, "wb") as stream:
        np.savez(stream, **{_METADATA_KEY: payload}, **{f"a/{name}": value for name, value in arrays.items()})


def load_arrays(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_arrays`; verify its structure and digests.

    Raises :class:`CheckpointError` naming the file for a missing, truncated, corrupted
    or tampered file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, KeyError) as error:
        raise CheckpointError(f"{path}: not a readable babysit file (truncated or corrupted: {error})") from error
    if _METADATA_KEY not in contents:
        raise CheckpointError(f"{path}: not a babysit file (no metadata entry)")
    try:
        document = json.loads(contents.pop(_METADATA_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({error})") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a babysit file (format {document.get('format')!r})")
    if document.get("version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer babysit (format version {document['version']})")
    arrays = {name[2:]: value for name, value in contents.items() if name.startswith("a/")}
    digests = document.pop("digests", {})
    if set(digests) != set(arrays):
        raise CheckpointError(f"{path}: the arrays do not match the listed ones (missing or extra entries)")
    for name, value in arrays.items():
        if _digest(value) != digests[name]:
            raise CheckpointError(f"{path}: array '{name}' does not match its digest (the file was modified)")
    return arrays, document


def save_model(model: Module, path) -> None:
    """Save ``model``'s architecture and state; see :func:`load`."""
    metadata = {"kind": "model", "architecture": encode_module(model)}
    save_arrays(path, model.state_dict(), metadata)


def load(path) -> Module:
    """Rebuild a model saved with ``model.save(path)``: same architecture, same weights.

    Only classes already imported (babysit's own, or a user's imported before this call)
    can be named by the file; nothing in it is executed.
    """
    arrays, document = load_arrays(path)
    if document.get("kind") != "model":
        raise CheckpointError(f"{path}: holds a {document.get('kind')!r}, not a model")
    try:
        model = decode_module(document["architecture"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: cannot rebuild the architecture: {error}") from error
    float_arrays = [value for value in arrays.values() if value.dtype.kind == "f"]
    if float_arrays:
        model.to(float_arrays[0].dtype)
    try:
        model.load_state_dict(arrays)
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: the arrays do not fit the architecture: {error}") from error
    return model


def encode_module(module: Module) -> dict:
    config = {}
    for name, value in module.get_config().items():
        if name in UNSAVED_ARGUMENTS:
            continue
        config[name] = _encode(value, f"{type(module).__name__}.{name}")
    return {"class": type(module).__name__, "config": config}


def decode_module(spec: dict) -> Module:
    name = spec["class"]
    if name not in MODULE_REGISTRY:
        raise ValueError(f"unknown module class {name!r}: import the code that defines it before loading")
    cls = MODULE_REGISTRY[name]
    config = {key: _decode(value) for key, value in spec["config"].items()}
    args, kwargs = [], {}
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.name not in config:
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(config.pop(parameter.name))
        elif parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            args.append(config.pop(parameter.name))
    kwargs.update(config)
    return cls(*args, **kwargs)


def _encode(value, where: str):
    if isinstance(value, Module):
        return {"__module__": encode_module(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_encode(item, where) for item in value]
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"__dtype__": np.dtype(value).name}
    raise TypeError(
        f"cannot save argument {where}={value!r}: only numbers, strings, lists, dtypes and modules are stored"
    )


def _decode(value):
    if isinstance(value, dict):
        if "__module__" in value:
            return decode_module(value["__module__"])
        if "__dtype__" in value:
            return np.dtype(value["__dtype__"])
        raise ValueError(f"unexpected entry {value!r}")
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _digest(array: np.ndarray) -> str:
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + np.ascontiguousarray(array).tobytes()).hexdigest()
