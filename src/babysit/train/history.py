"""History: what happened during training, per batch and per epoch, saved as JSON or CSV."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class History:
    """``batch_loss`` holds every mini-batch loss; ``epochs`` one dict of metrics per epoch
    (``epoch``, ``loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``)."""

    batch_loss: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)

    def metric(self, name: str) -> list:
        """One metric over the epochs, e.g. ``history.metric("val_accuracy")``."""
        return [row.get(name) for row in self.epochs]

    def best(self, name: str = "val_accuracy", mode: str = "max") -> dict | None:
        rows = [row for row in self.epochs if row.get(name) is not None]
        if not rows:
            return None
        return (max if mode == "max" else min)(rows, key=lambda row: row[name])

    def to_dict(self) -> dict:
        return {"batch_loss": list(self.batch_loss), "epochs": [dict(row) for row in self.epochs]}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(batch_loss=list(data.get("batch_loss", [])), epochs=[dict(row) for row in data.get("epochs", [])])

    def save_json(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load_json(cls, path) -> History:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def save_csv(self, path) -> None:
        """Per-epoch metrics, one row per epoch (the per-batch losses stay in the JSON)."""
        columns = list(dict.fromkeys(key for row in self.epochs for key in row))
        with open(path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.epochs)
