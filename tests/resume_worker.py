"""A training run for the kill-and-resume test: run as a script, killed with SIGKILL, resumed.

    python tests/resume_worker.py OUT_DIR [--resume] [--sleep SECONDS] [--epochs N]

The model has Dropout (its masks come from an rng that must be restored) and trains with
Adam under a warm-up + cosine schedule (moments, step counts and the schedule's position
must be restored), checkpointing every few steps so that a kill lands mid-epoch.
``--sleep`` pauses after each batch so the test has time to kill the run; it changes
nothing in the numbers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from babysit import nn, optim, schedules
from babysit.train import Callback, Trainer

SEED = 1234
BATCHES_PER_EPOCH = 20
BATCH_SIZE = 25


class Pause(Callback):
    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_batch_end(self, trainer, logs):
        time.sleep(self.seconds)


def data(seed: int):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(99).standard_normal((4, 12)) * 2
    y = rng.integers(0, 4, BATCHES_PER_EPOCH * BATCH_SIZE)
    return (centers[y] + rng.standard_normal((len(y), 12))).astype(np.float32), y


def build(out_dir, epochs: int, sleep: float) -> Trainer:
    rng = np.random.default_rng(SEED)
    model = nn.Sequential(
        nn.Linear(12, 32, rng=rng), nn.ReLU(), nn.Dropout(0.3, rng=np.random.default_rng(SEED + 1)),
        nn.Linear(32, 32, rng=rng), nn.ReLU(), nn.Dropout(0.3, rng=rng),  # shares the trainer's generator
        nn.Linear(32, 4, rng=rng),
    )
    total = epochs * BATCHES_PER_EPOCH
    schedule = schedules.linear_warmup(schedules.cosine(3e-3, total), 10, start_factor=0.1)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    callbacks = [Pause(sleep)] if sleep > 0 else []
    return Trainer(model, nn.SoftmaxCrossEntropy(), optimizer, schedule=schedule, callbacks=callbacks,
                   batch_size=BATCH_SIZE, rng=rng, out_dir=out_dir, checkpoint_every=3, verbose=False)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    trainer = build(args.out_dir, args.epochs, args.sleep)
    trainer.fit(data(0), val=data(1), epochs=args.epochs, resume=args.resume)


if __name__ == "__main__":
    main()
