"""History: what happened during training, per batch and per epoch, saved as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from babysit.atomic import write_text


@dataclass
class History:
    """What a run did.

    ``batch_loss`` holds every mini-batch loss; ``epochs`` one dict of metrics per epoch
    (``epoch``, ``loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``, ``lr``,
    ``seconds``); ``stop_reason`` says why training stopped before its last epoch (early
    stopping, explosion guard, a non-finite loss), or is ``None``.
    """

    batch_loss: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    stop_reason: str | None = None

    def metric(self, name: str) -> list:
        """One metric over the epochs, e.g. ``history.metric("val_accuracy")``."""
        return [row.get(name) for row in self.epochs]

    def best(self, name: str = "val_accuracy", mode: str = "max") -> dict | None:
        """The epoch row where ``name`` is highest (``mode="max"``) or lowest (``"min"``)."""
        rows = [row for row in self.epochs if row.get(name) is not None]
        if not rows:
            return None
        return (max if mode == "max" else min)(rows, key=lambda row: row[name])

    def to_dict(self) -> dict:
        return {"batch_loss": list(self.batch_loss), "epochs": [dict(row) for row in self.epochs],
                "stop_reason": self.stop_reason}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(batch_loss=list(data.get("batch_loss", [])), epochs=[dict(row) for row in data.get("epochs", [])],
                   stop_reason=data.get("stop_reason"))

    def save_json(self, path) -> None:
        """Write the whole history (per-batch losses included) atomically."""
        write_text(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load_json(cls, path) -> History:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_csv(self, separator: str = ",") -> str:
        """Per-epoch metrics as CSV text, one row per epoch (the per-batch losses stay in the JSON)."""
        columns = list(dict.fromkeys(key for row in self.epochs for key in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, delimiter=separator, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.epochs)
        return buffer.getvalue()

    def save_csv(self, path, separator: str = ",") -> None:
        """Write :meth:`to_csv` atomically."""
        write_text(path, self.to_csv(separator))

