"""Evidence for the after-training toolbox on MNIST-1D (SPEC §10, §11), in one table.

    python benchmarks/after_training_evidence.py [--seed 0]

Runs in about 1.5 minutes on 2 cores. Experiments (test accuracy on the 1000 test signals):

1. ensemble: 5 CNNs (the published MNIST-1D CNN, different seeds) vs their best member.
2. snapshots: a CNN run with 6 warm-restart cycles of 8 epochs (peak rate 3e-2); the
   ensemble of the 6 cycle-end snapshots vs the final model of the same run; plus EMA
   (Polyak) weights and the average of the last 3 epoch checkpoints; mean of 3 runs.
3. transfer: a CNN pretrained on digits 0-4, new head, fine-tuned on 50 labelled examples
   per class of digits 5-9 (lower rate for the pretrained layers), vs the same CNN trained
   from scratch on those 250 examples, and vs training the new head only; mean over 3
   draws of the examples.
4. distillation: an MLP (the MNIST-1D 40-100-100-10, and a tiny 40-32-10) distilled from
   the CNN ensemble (T=4, alpha=0.9) vs the same MLP trained on labels alone.
5. why deep: an MLP of 3 hidden layers of 64 vs one hidden layer of the same parameter count.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.evaluation import (
    EMA,
    Ensemble,
    SnapshotCollector,
    average_checkpoints,
    distill,
    fine_tune_param_groups,
    freeze_all_but,
    replace_head,
)
from babysit.labs.mnist1d_nets import mlp  # the labs build their MLPs the same way
from babysit.schedules import cosine, warm_restarts
from babysit.train import Trainer
from babysit.train.callbacks.base import Callback

BATCH = 100


def cnn(seed: int, classes: int = 10) -> nn.Sequential:
    """The published MNIST-1D CNN (examples/mnist1d_cnn.yaml without dropout); input (N, 1, 40)."""
    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1, rng=seed), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, rng=seed + 1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, rng=seed + 2), nn.ReLU(),
        nn.Flatten(), nn.Linear(125, classes, rng=seed + 3),
    )


def accuracy(model, x, y) -> float:
    return float((Ensemble([model]).predict(x) == y).mean())


def steps(train, epochs) -> int:
    return epochs * -(-len(train[0]) // BATCH)


def fit(model, train, epochs, lr=1e-2, *, schedule="cosine", callbacks=(), seed=0, optimizer=None):
    """Adam with a cosine decay by default; ``schedule=None`` leaves the optimizer's group rates alone."""
    schedule = cosine(lr, steps(train, epochs)) if schedule == "cosine" else schedule
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optimizer or optim.Adam(model.parameters(), lr=lr),
                      schedule=schedule, callbacks=callbacks,
                      batch_size=BATCH, rng=seed, verbose=False)
    trainer.fit(train, epochs=epochs)
    return model


class _EMAUpdates(Callback):
    def __init__(self, ema):
        self.ema = ema

    def on_batch_end(self, trainer, logs):
        self.ema.update()


class _SaveEachEpoch(Callback):
    def __init__(self, folder):
        self.folder, self.paths = Path(folder), []

    def on_epoch_end(self, trainer, logs):
        self.paths.append(self.folder / f"epoch_{trainer.epoch}.npz")
        trainer.model.save(self.paths[-1])


def ensembles(data, seed, rows):
    members = [fit(cnn(seed + 10 * i), data["train"], epochs=30, seed=seed + i) for i in range(5)]
    table = Ensemble(members).evaluate(*data["test"])
    best = max(row["accuracy"] for row in table[:-1])
    rows.append(("ensemble", "best of 5 CNNs", best))
    rows.append(("ensemble", "mean of member accuracies", float(np.mean([r["accuracy"] for r in table[:-1]]))))
    rows.append(("ensemble", "ensemble of 5 CNNs (mean prob.)", table[-1]["accuracy"]))
    vote = Ensemble(members, method="vote").evaluate(*data["test"])[-1]["accuracy"]
    rows.append(("ensemble", "ensemble of 5 CNNs (majority vote)", vote))
    return members


def snapshots(data, seed, rows, runs=3):
    cycles, epochs_per_cycle = 6, 8
    schedule = warm_restarts(3e-2, t0=steps(data["train"], epochs_per_cycle))
    results = {"final": [], "snapshots": [], "ema": [], "last3": []}
    for run in range(runs):
        model = cnn(seed + 100 + 10 * run)
        collector, ema = SnapshotCollector(schedule), EMA(model, decay=0.99)
        with tempfile.TemporaryDirectory() as folder:
            saver = _SaveEachEpoch(folder)
            fit(model, data["train"], cycles * epochs_per_cycle, schedule=schedule,
                callbacks=[collector, _EMAUpdates(ema), saver], seed=seed + run)
            averaged = cnn(0)
            averaged.load_state_dict(average_checkpoints(saver.paths[-3:]))
        assert len(collector.snapshots) == cycles
        results["final"].append(accuracy(model, *data["test"]))
        results["snapshots"].append(Ensemble(collector.snapshots).evaluate(*data["test"])[-1]["accuracy"])
        with ema.average_parameters():
            results["ema"].append(accuracy(model, *data["test"]))
        results["last3"].append(accuracy(averaged, *data["test"]))
    for key, name in (("final", "final model of the run"), ("snapshots", f"snapshot ensemble ({cycles} cycle ends)"),
                      ("ema", "EMA weights of the run (decay 0.99)"), ("last3", "average of last 3 epoch checkpoints")):
        values = results[key]
        rows.append(("snapshots", f"{name} [mean of {runs}: {' '.join(f'{v:.3f}' for v in values)}]",
                     float(np.mean(values))))


def transfer(data, seed, rows):
    x, y = data["train"]
    low = y < 5
    pretrained = fit(cnn(seed + 200, classes=5), (x[low], y[low]), epochs=30, seed=seed)
    x_test, y_test = data["test"]
    high_test = y_test >= 5
    test = (x_test[high_test], y_test[high_test] - 5)
    scratch_acc, transfer_acc, probe_acc = [], [], []
    for draw in range(3):
        rng = np.random.default_rng(seed + draw)
        index = np.concatenate([rng.choice(np.flatnonzero(y == c), 50, replace=False) for c in range(5, 10)])
        few = (x[index], y[index] - 5)
        scratch_acc.append(accuracy(fit(cnn(seed + 300 + draw, classes=5), few, epochs=60, seed=draw), *test))
        model = cnn(0, classes=5)
        model.load_state_dict(pretrained.state_dict())
        replace_head(model, 5, rng=seed + 400 + draw)
        groups = fine_tune_param_groups(model, 2, base_lr=1e-2, pretrained_lr_factor=0.1)
        # Each group decays its own rate (a Trainer schedule would set every group's alike).
        for group in groups:
            group["lr"] = cosine(group["lr"], steps(few, 60))
        fit(model, few, epochs=60, optimizer=optim.Adam(groups), schedule=None, seed=draw)
        transfer_acc.append(accuracy(model, *test))
        probe = cnn(0, classes=5)
        probe.load_state_dict(pretrained.state_dict())
        replace_head(probe, 5, rng=seed + 400 + draw)
        fit(probe, few, epochs=60, optimizer=optim.Adam(freeze_all_but(probe, 1), lr=1e-2), seed=draw)
        probe_acc.append(accuracy(probe, *test))
    for name, values in (("from scratch, 50 per class", scratch_acc),
                         ("pretrained, new head only (frozen body)", probe_acc),
                         ("pretrained, fine-tuned (top 2 at lr, rest 0.1 lr)", transfer_acc)):
        rows.append(("transfer 0-4 -> 5-9", f"{name} [{' '.join(f'{v:.3f}' for v in values)}]", float(np.mean(values))))


def distillation(data, teachers, seed, rows):
    flat_train, flat_test = (data["train"][0].reshape(-1, 40), data["train"][1]), (
        data["test"][0].reshape(-1, 40), data["test"][1])
    teacher = Ensemble(teachers)
    rows.append(("distillation", "teacher: CNN ensemble", teacher.evaluate(*data["test"])[-1]["accuracy"]))
    for sizes in ((40, 100, 100, 10), (40, 32, 10)):
        name = "MLP " + "-".join(map(str, sizes))
        alone = fit(mlp(sizes, seed + 500), flat_train, epochs=60, seed=seed)
        student = mlp(sizes, seed + 500)
        # The CNN teacher reads (N, 1, 40), the MLP student (N, 40).
        distill(teacher, student, flat_train, temperature=4.0, alpha=0.9, lr=1e-2, epochs=60, batch_size=BATCH,
                schedule=cosine(1e-2, steps(flat_train, 60)), rng=seed, teacher_view=lambda x: x.reshape(-1, 1, 40))
        rows.append(("distillation", f"{name} on labels alone", accuracy(alone, *flat_test)))
        rows.append(("distillation", f"{name} distilled (T=4, alpha=0.9)", accuracy(student, *flat_test)))


def why_deep(data, seed, rows):
    flat_train = (data["train"][0].reshape(-1, 40), data["train"][1])
    flat_test = (data["test"][0].reshape(-1, 40), data["test"][1])
    deep = mlp((40, 64, 64, 64, 10), seed + 600)
    width = round((deep.num_parameters() - 10) / (40 + 1 + 10))  # 51 * width + 10 parameters
    shallow = mlp((40, width, 10), seed + 600)
    for name, model in ((f"deep MLP 40-64-64-64-10 ({deep.num_parameters()} params)", deep),
                        (f"shallow MLP 40-{width}-10 ({shallow.num_parameters()} params)", shallow)):
        rows.append(("why deep", name, accuracy(fit(model, flat_train, epochs=60, seed=seed), *flat_test)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dataset = mnist1d()
    data = {"train": (dataset.x_train.reshape(-1, 1, 40), dataset.y_train),
            "test": (dataset.x_test.reshape(-1, 1, 40), dataset.y_test)}
    rows, started = [], time.perf_counter()
    members = ensembles(data, args.seed, rows)
    snapshots(data, args.seed, rows)
    transfer(data, args.seed, rows)
    distillation(data, members, args.seed, rows)
    why_deep(data, args.seed, rows)
    print(f"{'experiment':<20} {'model':<64} {'test acc':>8}")
    for experiment, name, value in rows:
        print(f"{experiment:<20} {name:<64} {value:>8.4f}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
