"""Read a run directory's files (history, findings, monitors, range test) for the report.

Every file is optional: a missing one only removes its plots. A file that is there but is
not valid JSON, or holds the wrong kind of value, raises :class:`ReportError` naming the
file and the key. The monitors' format is young, so an entry of monitors.json in a shape we
do not know is skipped with a note on the page instead of failing the whole report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from babysit.errors import BabysitError

FILES = {
    "history": "history.json",
    "findings": "findings.json",
    "monitors": "monitors.json",
    "lr_find": "lr_find.json",
}


class ReportError(BabysitError, ValueError):
    """A run directory's file cannot be read or holds values of the wrong kind."""


@dataclass
class RunData:
    """What a run directory holds, in the shapes the plots want.

    Attributes
    ----------
    run_dir : Path
    batch_loss : ndarray or None
        Loss of every mini-batch (``NaN`` where it was not finite).
    epochs : list of dict or None
        One row of metrics per epoch.
    findings : list of dict or None
        ``Finding.to_dict()`` rows.
    update_ratio : dict
        Parameter name -> ``(steps, ratios)`` arrays.
    activations : dict
        Layer name -> dict of arrays (``steps``, ``mean``, ``std``, the dead or saturated
        fraction) and ``histogram`` (``edges``, ``counts`` per sampled step).
    gradients : dict
        Parameter or layer name -> ``(steps, values, statistic)`` where statistic is
        ``"std"``, ``"norm"`` or ``"mean"``.
    lr_find : dict or None
        ``LRFinderResult.to_dict()``.
    config_text : str or None
        config.yaml, verbatim.
    missing : list of str
        The optional files that were not there.
    notes : list of str
        Monitor entries that were skipped, and why.
    """

    run_dir: Path
    batch_loss: np.ndarray | None = None
    epochs: list[dict] | None = None
    findings: list[dict] | None = None
    update_ratio: dict = field(default_factory=dict)
    activations: dict = field(default_factory=dict)
    gradients: dict = field(default_factory=dict)
    lr_find: dict | None = None
    config_text: str | None = None
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def has_monitors(self) -> bool:
        return FILES["monitors"] not in self.missing


def load_run(run_dir) -> RunData:
    """Read every file of ``run_dir`` that the report uses.

    Raises
    ------
    ReportError
        ``run_dir`` is not a directory, or one of its files is malformed (the message names
        the file, the key, what it holds and what was expected).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"report: run directory {str(run_dir)!r} does not exist or is not a directory")
    run = RunData(run_dir=run_dir)
    raw = {key: _read_json(run_dir / name) for key, name in FILES.items()}
    run.missing = [FILES[key] for key, value in raw.items() if value is None]
    if raw["history"] is not None:
        run.batch_loss, run.epochs = _history(raw["history"], run_dir / FILES["history"])
    if raw["findings"] is not None:
        run.findings = _findings(raw["findings"], run_dir / FILES["findings"])
    if raw["lr_find"] is not None:
        run.lr_find = _lr_find(raw["lr_find"], run_dir / FILES["lr_find"])
    if raw["monitors"] is not None:
        _monitors(raw["monitors"], run_dir / FILES["monitors"], run)
    config = run_dir / "config.yaml"
    run.config_text = config.read_text(errors="replace") if config.is_file() else None
    return run


# ---------------------------------------------------------------- fixed formats
def _read_json(path: Path):
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ReportError(f"report: {path} is not valid JSON ({error.msg} at line {error.lineno} "
                          f"column {error.colno})") from error
    except UnicodeDecodeError as error:
        raise ReportError(f"report: {path} is not UTF-8 text ({error.reason})") from error
    if not isinstance(data, dict):
        raise ReportError(f"report: {path} must hold a JSON object, got a {type(data).__name__}")
    return data


def _numbers(value, path: Path, key: str) -> np.ndarray:
    """A list of numbers (``null`` allowed, read as NaN) as a float array, or a clear error."""
    if not isinstance(value, list) or not all(v is None or _is_number(v) for v in value):
        shown = type(value).__name__ if not isinstance(value, list) else "a list with non-numbers"
        raise ReportError(f"report: {path}: {key!r} must be a list of numbers, got {shown}")
    return np.array([np.nan if v is None else v for v in value], dtype=float)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _history(data: dict, path: Path):
    batch_loss = _numbers(data.get("batch_loss", []), path, "batch_loss")
    epochs = data.get("epochs", [])
    if not isinstance(epochs, list) or not all(isinstance(row, dict) for row in epochs):
        raise ReportError(f"report: {path}: 'epochs' must be a list of objects (one per epoch), "
                          f"got {type(epochs).__name__}")
    for index, row in enumerate(epochs):
        for key, value in row.items():
            if value is not None and not _is_number(value):
                raise ReportError(f"report: {path}: epochs[{index}][{key!r}] must be a number or null, "
                                  f"got {value!r}")
    return batch_loss, epochs


def _findings(data: dict, path: Path) -> list[dict]:
    rows = data.get("findings")
    if not isinstance(rows, list):
        raise ReportError(f"report: {path} must hold {{'findings': [...]}}, got keys {sorted(data)}")
    findings = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str) or not isinstance(row.get("status"), str):
            raise ReportError(f"report: {path}: findings[{index}] must be an object with a 'name' and a "
                              f"'status', got {row!r:.120}")
        findings.append({key: row.get(key, "") for key in ("name", "status", "measured", "expected", "advice")})
    return findings


def _lr_find(data: dict, path: Path) -> dict:
    result = {key: _numbers(data.get(key, []), path, key) for key in ("lrs", "losses", "smoothed")}
    if len(result["lrs"]) != len(result["losses"]):
        raise ReportError(f"report: {path}: 'lrs' and 'losses' must have the same length, got "
                          f"{len(result['lrs'])} and {len(result['losses'])}")
    if len(result["smoothed"]) != len(result["lrs"]):
        result["smoothed"] = None
    for key in ("learns_from", "best_lr", "diverges_at", "suggested_lr"):
        value = data.get(key)
        if value is not None and not _is_number(value):
            raise ReportError(f"report: {path}: {key!r} must be a number or null, got {value!r}")
        result[key] = value
    return result


# ---------------------------------------------------------------- monitors (tolerant)
def _monitors(data: dict, path: Path, run: RunData) -> None:
    readers = {"update_ratio": _update_ratio, "activations": _activation, "gradients": _gradient}
    for section, reader in readers.items():
        entries = data.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            run.notes.append(f"{path.name}: '{section}' should map names to series, got {type(entries).__name__}")
            continue
        for name, entry in entries.items():
            try:
                getattr(run, section)[name] = reader(entry)
            except (TypeError, ValueError, KeyError) as error:
                run.notes.append(f"{path.name}: {section}[{name!r}] skipped: {error}")


def _series(steps, values, what: str) -> tuple[np.ndarray, np.ndarray]:
    steps, values = _float_array(steps, "steps"), _float_array(values, what)
    if steps.shape != values.shape or steps.ndim != 1:
        raise ValueError(f"'steps' and {what!r} must be equal-length lists, got {steps.shape} and {values.shape}")
    return steps, values


def _float_array(value, what: str) -> np.ndarray:
    if not isinstance(value, list):
        raise TypeError(f"{what!r} must be a list, got {type(value).__name__}")
    try:
        return np.array([np.nan if v is None else v for v in value], dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what!r} must hold numbers ({error})") from None


def _update_ratio(entry):
    """``[[step, ratio], ...]`` (or ``{"steps": [...], "ratio": [...]}``)."""
    if isinstance(entry, dict):
        key = next((k for k in ("ratio", "ratios", "values") if k in entry), None)
        if key is None:
            raise KeyError(f"expected 'steps' and 'ratio', got keys {sorted(entry)}")
        return _series(entry.get("steps"), entry[key], key)
    pairs = _float_array(entry, "update_ratio")
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"expected [[step, ratio], ...], got an array of shape {pairs.shape}")
    return pairs[:, 0], pairs[:, 1]


def _activation(entry):
    if not isinstance(entry, dict):
        raise TypeError(f"expected an object with 'steps', 'mean', 'std', got {type(entry).__name__}")
    steps = _float_array(entry.get("steps", []), "steps")
    stats = {"steps": steps}
    for key in ("mean", "std", "dead_fraction", "saturated_fraction"):
        if key in entry:
            stats[key] = _series(entry["steps"], entry[key], key)[1]
    histogram = entry.get("histogram")
    # Edges stay null when a layer never gave a finite sample: keep its statistics, drop the histogram.
    stats["histogram"] = _histogram(histogram) if histogram and histogram.get("edges") is not None else None
    if isinstance(entry.get("kind"), str):
        stats["kind"] = entry["kind"]  # "rectifier", "sigmoid", "tanh": shown next to the layer's name
    return stats


def _histogram(entry):
    """Shared ``edges`` (or one row of edges per sampled step) and one row of ``counts`` per
    sampled step; a single row of counts is accepted. The last row is the last sample."""
    if not isinstance(entry, dict) or "edges" not in entry or "counts" not in entry:
        raise KeyError("histogram must be an object with 'edges' and 'counts'")
    edges, counts = _float_array(entry["edges"], "edges"), _float_array(entry["counts"], "counts")
    if edges.ndim not in (1, 2):
        raise ValueError(f"histogram edges must be a list (or a list per step), got shape {edges.shape}")
    counts = counts[None, :] if counts.ndim == 1 else counts
    if counts.ndim != 2 or counts.shape[1] != edges.shape[-1] - 1:
        raise ValueError(f"histogram counts of shape {counts.shape} do not fit {edges.shape[-1]} edges")
    if edges.ndim == 2 and len(edges) != len(counts):
        raise ValueError(f"histogram has {len(edges)} rows of edges but {len(counts)} rows of counts")
    return {"edges": edges, "counts": counts}


def _gradient(entry):
    if not isinstance(entry, dict):
        raise TypeError(f"expected an object with 'steps' and 'std' or 'norm', got {type(entry).__name__}")
    statistic = next((key for key in ("std", "norm", "mean") if key in entry), None)
    if statistic is None:
        raise KeyError(f"expected 'std', 'norm' or 'mean', got keys {sorted(entry)}")
    steps, values = _series(entry.get("steps"), entry[statistic], statistic)
    return steps, values, statistic
