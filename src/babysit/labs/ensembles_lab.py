"""Ensembles lab: independent models vs their ensemble, snapshot ensembles, weight averaging.

CS231n "Training Neural Networks II", model ensembles: train several independent models and
average their predicted probabilities at test time for "1-2% extra performance". The
members make partly independent mistakes, so the ensemble beats the average member (and
usually the best one), and the gain grows with the number of members, quickly at first.
Tips of the same slide: a snapshot ensemble takes its members from one run with a cyclic
(warm-restart) schedule, one at the end of each cycle (Huang et al. 2017, "Snapshot
Ensembles: Train 1, get M for free"); and a running (Polyak / exponential moving) average of
the weights, used at test time, is a cheap ensemble of the iterates of one run (Polyak &
Juditsky 1992). Stochastic weight averaging (Izmailov et al. 2018) averages the weights at
the cycle ends instead of their predictions.

Data: MNIST-1D (4000 training, 1000 test signals); models: the published MNIST-1D CNN.
"""

from __future__ import annotations

import itertools

import numpy as np

from babysit.data import mnist1d
from babysit.evaluation import EMA, SWA, Ensemble, SnapshotCollector
from babysit.labs.mnist1d_nets import accuracy, as_signals, cnn, fit, steps_for
from babysit.report.plots import new_figure
from babysit.schedules import warm_restarts
from babysit.train.callbacks.base import Callback

#: Peak rate of the warm-restart run (Adam); each cycle anneals it to 0 (Huang et al. use a
#: high restart rate so consecutive snapshots land in different minima).
SNAPSHOT_LR = 3e-2
#: Subsets drawn per ensemble size for the accuracy-vs-members curve (all of them when fewer).
SUBSETS_PER_SIZE = 30

#: ``ema_decay``: the EMA covers about ``1 / (1 - decay)`` steps, two to three epochs here.
SETTINGS = {  # quick: fewer, shorter runs on half the training set
    False: {"train_size": 4000, "members": 8, "epochs": 30, "cycles": 6, "epochs_per_cycle": 8, "ema_decay": 0.99},
    True: {"train_size": 4000, "members": 4, "epochs": 10, "cycles": 4, "epochs_per_cycle": 6, "ema_decay": 0.99},
}


class _RunTracker(Callback):
    """EMA update after every step, an SWA update at every snapshot; test accuracy of the live
    and EMA weights after every epoch."""

    def __init__(self, collector, ema, swa, test):
        self.collector, self.ema, self.swa, self.test = collector, ema, swa, test
        self.lr, self.live, self.averaged = [], [], []

    def on_batch_end(self, trainer, logs):
        self.ema.update()
        if self.collector.taken_at and self.collector.taken_at[-1] == trainer.step:
            self.swa.update()  # the collector (earlier in the list) has just kept a cycle end

    def on_epoch_end(self, trainer, logs):
        self.lr.append(trainer.current_lr())
        self.live.append(accuracy(trainer.model, *self.test))
        with self.ema.average_parameters() as model:
            self.averaged.append(accuracy(model, *self.test))


def ensemble_curve(probabilities, y, rng, subsets: int = SUBSETS_PER_SIZE) -> dict:
    """Accuracy of the mean-probability ensemble of ``k`` members, for every ``k``.

    Parameters
    ----------
    probabilities : array (M, N, C)
        Every member's predicted probabilities on the test set.
    y : array (N,)
    rng : Generator
        Draws ``subsets`` member subsets per size when there are more.

    Returns
    -------
    dict
        ``sizes`` (1..M), and per size the ``mean``, ``low`` and ``high`` accuracy over the subsets.
    """
    members = len(probabilities)
    curve = {"sizes": list(range(1, members + 1)), "mean": [], "low": [], "high": []}
    for size in curve["sizes"]:
        combos = list(itertools.combinations(range(members), size))
        if len(combos) > subsets:
            combos = [combos[i] for i in rng.choice(len(combos), subsets, replace=False)]
        scores = [float((probabilities[list(c)].mean(axis=0).argmax(axis=1) == y).mean()) for c in combos]
        curve["mean"].append(float(np.mean(scores)))
        curve["low"].append(float(np.min(scores)))
        curve["high"].append(float(np.max(scores)))
    return curve


def run_ensembles_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """Train independent CNNs and one warm-restart run; compare members, ensembles and averages.

    Returns ``(results, summary)``. ``results["independent"]`` holds ``member_accuracy``
    (list), ``mean_member``, ``best_member``, ``ensemble`` (mean probabilities), ``vote``
    and ``curve`` (:func:`ensemble_curve`); ``results["snapshot"]`` holds ``final`` (the last
    weights of the run), ``snapshot_accuracy`` (each cycle end), ``ensemble`` (all
    snapshots), ``curve`` (ensemble of the last ``k`` snapshots, ``k`` = 1..cycles), ``so_far``
    (of the first ``k``), ``ema``, ``swa``, and the per-epoch ``lr``, ``live`` and ``ema_curve`` accuracies.
    """
    settings = SETTINGS[bool(quick)]
    data = mnist1d()
    size = settings["train_size"]
    train = (as_signals(data.x_train[:size]), data.y_train[:size])
    test = (as_signals(data.x_test), data.y_test)

    members = [fit(cnn(seed + 10 * i), train, settings["epochs"], seed=seed + i).model
               for i in range(settings["members"])]
    ensemble = Ensemble(members)
    probabilities = ensemble.member_probabilities(test[0])
    member_accuracy = [float((p.argmax(axis=1) == test[1]).mean()) for p in probabilities]
    independent = {
        "member_accuracy": member_accuracy, "mean_member": float(np.mean(member_accuracy)),
        "best_member": float(np.max(member_accuracy)), "ensemble": ensemble.evaluate(*test)[-1]["accuracy"],
        "vote": Ensemble(members, method="vote").evaluate(*test)[-1]["accuracy"],
        "curve": ensemble_curve(probabilities, test[1], np.random.default_rng(seed)),
    }

    snapshot = _snapshot_run(train, test, settings, seed)
    results = {"independent": independent, "snapshot": snapshot, **settings}
    _plot_members(results, out_dir / "ensembles_vs_members.png")
    _plot_snapshot_run(results, out_dir / "ensembles_snapshot_run.png")
    return results, _summary(results)


def _snapshot_run(train, test, settings, seed) -> dict:
    """One warm-restart run: snapshots at the cycle ends, EMA of every step, SWA of the snapshots."""
    cycles, per_cycle = settings["cycles"], settings["epochs_per_cycle"]
    schedule = warm_restarts(SNAPSHOT_LR, t0=steps_for(len(train[0]), per_cycle))
    model = cnn(seed + 1000)
    collector = SnapshotCollector(schedule)
    tracker = _RunTracker(collector, EMA(model, decay=settings["ema_decay"]), SWA(model), test)
    fit(model, train, cycles * per_cycle, SNAPSHOT_LR, schedule=schedule, callbacks=[collector, tracker],
        seed=seed + 1000)
    if len(collector.snapshots) != cycles:
        raise RuntimeError(f"snapshot run: expected {cycles} snapshots, got {len(collector.snapshots)}")
    probabilities = Ensemble(collector.snapshots).member_probabilities(test[0])

    def ensemble_accuracy(chosen):
        return float((chosen.mean(axis=0).argmax(axis=1) == test[1]).mean())

    # Huang et al. ensemble the *last* k snapshots: the early ones are the weakest.
    last_k = [ensemble_accuracy(probabilities[-k:]) for k in range(1, cycles + 1)]
    with tracker.ema.average_parameters() as averaged:
        ema = accuracy(averaged, *test)
    with tracker.swa.average_parameters() as averaged:
        swa = accuracy(averaged, *test)
    return {"final": accuracy(model, *test), "ensemble": last_k[-1], "curve": last_k,
            "so_far": [ensemble_accuracy(probabilities[:k]) for k in range(1, cycles + 1)],
            "snapshot_accuracy": [float((p.argmax(axis=1) == test[1]).mean()) for p in probabilities],
            "ema": ema, "swa": swa, "swa_updates": tracker.swa.num_updates,
            "lr": tracker.lr, "live": tracker.live, "ema_curve": tracker.averaged}


def _plot_members(results, path) -> None:
    independent, snapshot = results["independent"], results["snapshot"]
    figure, ax = new_figure(8.5, 5.2)
    curve = independent["curve"]
    ax.fill_between(curve["sizes"], curve["low"], curve["high"], color="C0", alpha=0.15,
                    label="range over member subsets")
    ax.plot(curve["sizes"], curve["mean"], "o-", color="C0",
            label=f"ensemble of k independent CNNs ({results['epochs']} epochs each)")
    ax.plot(np.ones(len(independent["member_accuracy"])), independent["member_accuracy"], "x", color="C0",
            markersize=8, label="each independent CNN alone")
    ax.axhline(independent["mean_member"], color="C0", linestyle="--", linewidth=1,
               label=f"mean single CNN ({independent['mean_member']:.3f})")
    ks = np.arange(1, len(snapshot["curve"]) + 1)
    ax.plot(ks, snapshot["curve"], "s-", color="C1",
            label=f"snapshot ensemble: last k cycle ends of one run ({results['cycles']} x "
                  f"{results['epochs_per_cycle']} epochs)")
    ax.axhline(snapshot["ema"], color="C2", linestyle=":", linewidth=1.5,
               label=f"EMA (Polyak) weights of that run ({snapshot['ema']:.3f})")
    ax.axhline(snapshot["final"], color="C1", linestyle="--", linewidth=1,
               label=f"final weights of that run ({snapshot['final']:.3f})")
    ax.set_xlabel("number of models in the ensemble (k)")
    ax.set_ylabel("test accuracy (1000 MNIST-1D signals)")
    ax.set_xticks(range(1, max(len(curve["sizes"]), len(ks)) + 1))
    ax.set_title(f"Ensembles of MNIST-1D CNNs ({results['train_size']} training signals): accuracy vs members")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    figure.savefig(path)


def _plot_snapshot_run(results, path) -> None:
    snapshot = results["snapshot"]
    epochs = np.arange(1, len(snapshot["lr"]) + 1)
    ends = np.arange(1, results["cycles"] + 1) * results["epochs_per_cycle"]
    figure, (lr_ax, acc_ax) = new_figure(9, 6.5, nrows=2, sharex=True, height_ratios=[1, 2])
    lr_ax.plot(epochs, snapshot["lr"], ".-", color="C7")
    lr_ax.plot(ends, np.asarray(snapshot["lr"])[ends - 1], "v", color="C1", markersize=9, label="snapshot taken")
    lr_ax.set_ylabel("learning rate\n(end of epoch)")
    lr_ax.set_title(f"One warm-restart run (Adam, peak rate {SNAPSHOT_LR:g}, {results['cycles']} cycles)")
    lr_ax.legend(fontsize=8, loc="upper right")
    lr_ax.grid(alpha=0.3)
    acc_ax.plot(epochs, snapshot["live"], ".-", color="C1", label="the run's current weights")
    acc_ax.plot(epochs, snapshot["ema_curve"], ".-", color="C2", label=f"EMA weights (decay {results['ema_decay']})")
    acc_ax.plot(ends, snapshot["so_far"], "s-", color="C3", markersize=7,
                label="ensemble of the snapshots so far")
    acc_ax.axhline(snapshot["swa"], color="C4", linestyle=":", linewidth=1.5,
                   label=f"SWA: mean weights of the {snapshot['swa_updates']} snapshots ({snapshot['swa']:.3f})")
    low = min(min(snapshot["live"][results["epochs_per_cycle"] - 1:]), snapshot["swa"]) - 0.05
    acc_ax.set_ylim(max(low, 0.0), min(1.0, max(max(snapshot["so_far"]), max(snapshot["ema_curve"])) + 0.03))
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("test accuracy")
    acc_ax.grid(alpha=0.3)
    acc_ax.legend(fontsize=8, loc="lower right")
    figure.savefig(path)


def _summary(results) -> str:
    independent, snapshot = results["independent"], results["snapshot"]
    members = ", ".join(f"{a:.3f}" for a in independent["member_accuracy"])
    gain = independent["ensemble"] - independent["mean_member"]
    curve = ", ".join(f"{k}: {a:.3f}" for k, a in zip(independent["curve"]["sizes"], independent["curve"]["mean"],
                                                       strict=True))
    last_k = ", ".join(f"{k}: {a:.3f}" for k, a in enumerate(snapshot["curve"], start=1))
    live, ema = snapshot["live"][results["epochs_per_cycle"]:], snapshot["ema_curve"][results["epochs_per_cycle"]:]
    return f"""What to look for: ensembles_vs_members.png (test accuracy against the number of models
averaged) and ensembles_snapshot_run.png (one warm-restart run: its rate, and the test accuracy of
its weights, of their EMA and of the snapshots' ensemble, epoch by epoch).
{results['train_size']} training signals, test accuracy on the 1000 MNIST-1D test signals.

- **Independent models**: {results['members']} CNNs ({results['epochs']} epochs each) score {members};
  mean {independent['mean_member']:.3f}, best {independent['best_member']:.3f}. Their ensemble (mean of
  the predicted probabilities) scores **{independent['ensemble']:.3f}**, {gain * 100:+.1f} points over the
  mean member (majority vote: {independent['vote']:.3f}). Mean accuracy of k-member ensembles: {curve}.
- **Snapshot ensemble** (one run, {results['cycles']} warm-restart cycles of {results['epochs_per_cycle']}
  epochs): the final weights score {snapshot['final']:.3f}; the cycle-end snapshots
  {', '.join(f'{a:.3f}' for a in snapshot['snapshot_accuracy'])}; their ensemble
  **{snapshot['ensemble']:.3f}** ({(snapshot['ensemble'] - snapshot['final']) * 100:+.1f} points over the final
  weights, for the price of one run). Ensembles of the last k snapshots: {last_k}.
- **Weight averaging** in the same run: the EMA (Polyak) weights (decay {results['ema_decay']}) score
  {snapshot['ema']:.3f} at the end ({(snapshot['ema'] - snapshot['final']) * 100:+.1f} points); SWA, the mean of
  the {snapshot['swa_updates']} snapshots' weights, scores {snapshot['swa']:.3f}. After the first cycle the
  run's current weights drop to {min(live):.3f} when the rate restarts high; the EMA weights' lowest is
  {min(ema):.3f}, and on average they score {(np.mean(ema) - np.mean(live)) * 100:+.1f} points over the current weights.
"""
