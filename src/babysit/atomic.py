"""Atomic file writes: write beside the target, then rename over it.

A reader, or a run killed mid-write, never sees half a file: it sees the old file or the
new one. Every file babysit writes into a run directory goes through here.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_open(path, mode: str = "w", *, permissions: int = 0o644, **open_kwargs):
    """Open a temporary file next to ``path``; on a clean exit flush it to disk and rename it
    into place, on an exception remove it and leave ``path`` untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode, **open_kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, permissions)  # mkstemp makes files private; run files are meant to be read
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as stream:
        stream.write(text)


def write_json(path, data) -> None:
    """Strict JSON (NaN refused: pass values through a converter first), written atomically."""
    with atomic_open(path, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=1, allow_nan=False)
