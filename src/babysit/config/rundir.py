"""The run directory's bookkeeping: is there an earlier run, may this config resume it, start it over."""

from __future__ import annotations

from pathlib import Path

from babysit.config.loading import ConfigError, config_dict, read_yaml, validate
from babysit.errors import BabysitError

#: The files a run writes (shared layout, see docs/cli.md); --overwrite removes only these.
RUN_FILES = ("model.npz", "history.json", "history.csv", "findings.json", "monitors.json", "lr_find.json",
             "results.json", "config.yaml")
RUN_PATTERNS = ("checkpoints/last.npz", "checkpoints/last.prev.npz", "checkpoints/best.npz",
                "checkpoints/last_model.npz", "checkpoints/epoch_*.npz", "report/*.png", "report/index.html",
                "preprocessing/*.npz")
#: Keys a resumed run may change: more epochs continue training.
RESUMABLE_CHANGES = ("epochs",)


class RunDirError(BabysitError, ValueError):
    """The run directory holds an earlier run, or a different config than the one resumed."""


def earlier_run(out: Path) -> str | None:
    """What of an earlier run ``out`` holds (a checkpoint or a model), in words; ``None`` if nothing."""
    for name in ("checkpoints/last.npz", "checkpoints/last.prev.npz", "model.npz"):
        if (out / name).exists():
            return f"{name} is there"
    return None


def clear_run(out: Path) -> list[Path]:
    """Remove the files a run writes (and nothing else) from ``out``; returns what was removed."""
    found = [out / name for name in RUN_FILES] + [path for pattern in RUN_PATTERNS for path in out.glob(pattern)]
    removed = [path for path in found if path.is_file()]
    for path in removed:
        path.unlink()
    return removed


def check_resumable(out: Path, config) -> None:
    """Refuse to resume ``out`` with a config other than its own (``epochs`` may change)."""
    saved = out / "config.yaml"
    if not saved.is_file():
        return  # nothing to compare with; the trainer says whether there is a checkpoint
    try:
        previous = validate(read_yaml(saved.read_text(), saved), saved)
    except ConfigError as error:
        raise RunDirError(f"cannot resume {out}: its config.yaml is not valid ({error})") from error
    before, now = config_dict(previous), config_dict(config)
    changed = sorted(key for key in set(before) | set(now)
                     if key not in RESUMABLE_CHANGES and before.get(key) != now.get(key))
    if changed:
        raise RunDirError(f"cannot resume {out} with a different config: {', '.join(changed)} differ from its "
                          f"config.yaml (only {', '.join(RESUMABLE_CHANGES)} may change); start a new run instead")
