"""Search lab: random beats grid search, and a coarse-to-fine search in log space (MNIST-1D).

CS231n "Training Neural Networks II", hyperparameter optimization:

1. *Random vs grid* (Bergstra & Bengio 2012, "Random search for hyper-parameter
   optimization"): when one hyperparameter matters (the learning rate) and another barely
   does, a grid of ``n`` trials tries only ``sqrt(n)`` values of the important one, while
   random search tries ``n``, and so lands closer to its best value with the same budget.
2. *Coarse to fine*: a first stage of short trials over wide log ranges (lr 1e-6..1e-1, L2
   1e-5..1e1) finds the region that works; trials whose cost explodes are killed at once and
   hopeless ones pruned; the next stage searches the span of the best trials, longer.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

import numpy as np

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.search import LogUniform, coarse_to_fine, grid_search, random_search
from babysit.search.plots import plot_command_center, plot_random_vs_grid, plot_scores
from babysit.search.plots_stages import plot_stages
from babysit.train import Trainer

BATCH_SIZE = 100
#: The important parameter (the rate of SGD with momentum) and one that barely matters here
#: (an L2 strength too small to change a few epochs of training).
RANDOM_VS_GRID_SPACE = {"lr": LogUniform(1e-4, 1.0), "l2": LogUniform(1e-7, 1e-4)}
#: The lecture's coarse ranges.
COARSE_SPACE = {"lr": LogUniform(1e-6, 1e-1), "l2": LogUniform(1e-5, 10.0)}


@cache
def _data(train_size: int):
    """MNIST-1D's first ``train_size`` training signals for training, the last 1000 for validation."""
    data = mnist1d()
    x, y = data.x_train.astype(np.float32), data.y_train
    return (x[:train_size], y[:train_size]), (x[-1000:], y[-1000:])


class TwoLayerObjective:
    """Train the lecture's 2-layer net (40-``hidden``-10, ReLU) with SGD + momentum 0.9 and
    an L2 penalty; the score is the best validation accuracy over the epochs.

    The Trainer reports every epoch to the trial (``trial.callbacks()``), so a trial whose
    cost explodes is killed and a hopeless one pruned from inside ``fit``.
    """

    def __init__(self, train_size: int = 3000, hidden: int = 100):
        self.train_size, self.hidden = train_size, hidden

    def __call__(self, trial) -> float:
        train, val = _data(self.train_size)
        rng = np.random.default_rng(trial.seed)
        model = nn.Sequential(nn.Linear(40, self.hidden, init="he", rng=rng), nn.ReLU(),
                              nn.Linear(self.hidden, 10, rng=rng))
        trainer = Trainer(model, nn.SoftmaxCrossEntropy(),
                          optim.SGD(model.parameters(), lr=trial.params["lr"], momentum=0.9),
                          penalties=[nn.L2Penalty(trial.params["l2"])], callbacks=trial.callbacks(),
                          batch_size=BATCH_SIZE, rng=trial.seed, verbose=False)
        with np.errstate(all="ignore"):  # an exploding trial is a result here: the trial records it
            history = trainer.fit(train, val=val, epochs=trial.epochs)
        scores = [row["val_accuracy"] for row in history.epochs if row.get("val_accuracy") is not None]
        return max(scores) if scores else float("nan")


def run_search_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """Random vs grid with the same budget, then a two-stage coarse-to-fine search.

    Returns ``(results, summary)``: ``results["random"]``/``["grid"]`` hold each strategy's
    ``distinct_lr`` (values of the important parameter tried) and ``best``; ``results["stages"]``
    holds per stage its ranges (``lr``, ``l2`` as ``(low, high)``), ``best``, and status counts.
    """
    n_trials, epochs = (16, 6) if quick else (16, 15)
    objective = TwoLayerObjective()
    common = dict(seed=seed, verbose=False, pruner=None)
    random = random_search(objective, RANDOM_VS_GRID_SPACE, n_trials, epochs, **common)
    grid = grid_search(objective, RANDOM_VS_GRID_SPACE, n_trials, epochs, **common)
    plot_random_vs_grid(random, grid, "lr", "l2", out_dir / "search_random_vs_grid.png", metric="val accuracy")

    stages = [(24, 2), (8, 10)] if quick else [(50, 3), (20, 30)]
    search = coarse_to_fine(objective, COARSE_SPACE, stages, keep_top=5, seed=seed, verbose=False)
    plot_stages(search, out_dir / "search_stages.png", metric="val accuracy")
    plot_scores(search, out_dir / "search_scores.png", metric="val accuracy")
    plot_command_center(search, out_dir / "search_command_center.png", metric="val accuracy")
    results = {
        "random": _strategy_numbers(random), "grid": _strategy_numbers(grid), "budget": n_trials,
        "stages": [_stage_numbers(search, stage + 1) for stage in range(len(stages))],
        "stage_plan": stages, "notes": list(search.notes), "seconds_saved": search.seconds_saved(),
        "table": search.table(top=5), "diverged_lr": [trial.params["lr"] for trial in search.trials
                                                      if trial.status == "diverged"],
    }
    return results, _summary(results)


def _strategy_numbers(result) -> dict:
    return {"distinct_lr": len({trial.params["lr"] for trial in result.trials}), "best": result.best.score,
            "best_lr": result.best.params["lr"]}


def _stage_numbers(result, stage: int) -> dict:
    space = result.spaces[stage - 1]
    counts = dict(Counter(trial.status for trial in result.stage(stage)))
    complete = [trial for trial in result.ranked(stage) if trial.status == "complete"]
    return {"ranges": {name: (dim.low, dim.high) for name, dim in space.items()}, "counts": counts,
            "best": complete[0].score if complete else None,
            "best_params": complete[0].params if complete else None}


def _decades(bounds) -> float:
    low, high = bounds
    return float(np.log10(high / low))


def _summary(results) -> str:
    random, grid = results["random"], results["grid"]
    lines = []
    for index, stage in enumerate(results["stages"], start=1):
        trials, epochs = results["stage_plan"][index - 1]
        ranges = ", ".join(f"{name} {low:.2g}..{high:.2g} ({_decades((low, high)):.1f} decades)"
                           for name, (low, high) in stage["ranges"].items())
        counts = ", ".join(f"{count} {status}" for status, count in sorted(stage["counts"].items()))
        best = "none" if stage["best"] is None else f"{stage['best']:.3f}"
        lines.append(f"| {index} | {trials} x {epochs} | {ranges} | {counts} | {best} |")
    diverged = results["diverged_lr"]
    diverged_text = (f"The {len(diverged)} diverged trials all had lr >= {min(diverged):.2g}: the cost exploded "
                     "and the trial stopped at once." if diverged else "No trial diverged.")
    notes = "\n".join(f"- {note}" for note in results["notes"]) or "- (none)"
    return f"""What to look for: search_random_vs_grid.png (the same budget of {results['budget']} trials:
the grid tries {grid['distinct_lr']} values of the learning rate, random search {random['distinct_lr']});
search_stages.png (each stage's ranges, narrowing); search_scores.png (validation accuracy
against each hyperparameter, log axes; diverged trials as red x's); search_command_center.png
(every trial's validation curve on one plot).

- **Random vs grid**: best validation accuracy {random['best']:.3f} (random, lr {random['best_lr']:.2g}) against
  {grid['best']:.3f} (grid, lr {grid['best_lr']:.2g}); the L2 strength barely matters, so the grid spends
  its budget repeating {grid['distinct_lr']} learning rates.
- **Coarse to fine**: {diverged_text} Early stops saved about {results['seconds_saved']:.1f} s of trial time.

| stage | trials x epochs | ranges | statuses | best val accuracy |
|---|---|---|---|---|
{chr(10).join(lines)}

What the search said:
{notes}

Top trials:

```
{results['table']}
```
"""
