"""The search's pictures, on results built by hand: what each panel shows, in which scale, and the PNGs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from babysit.search.plots import (
    command_center_figure,
    plot_command_center,
    plot_random_vs_grid,
    plot_scores,
    random_vs_grid_figure,
    scores_figure,
)
from babysit.search.plots_stages import plot_stages, stages_figure
from babysit.search.records import SearchResult, TrialRecord
from babysit.search.spaces import Choice, IntUniform, LogUniform, Uniform

SPACE = {"lr": LogUniform(1e-6, 1e-1), "dropout": Uniform(0.0, 0.5), "hidden": IntUniform(16, 256, log=True),
         "act": Choice(["relu", "tanh"])}
FINE = {"lr": LogUniform(1e-4, 1e-2), "dropout": Uniform(0.1, 0.3), "hidden": IntUniform(64, 256, log=True),
        "act": Choice(["relu"])}


def accuracy(lr: float) -> float:
    """A known answer: best at lr = 1e-3, falling by 0.05 per decade squared."""
    return max(0.75 - 0.05 * (math.log10(lr) + 3) ** 2, 0.1)


def record(number, stage, lr, status="complete", epochs=3, run=None, **params):
    run = epochs if run is None else run
    params = {"lr": lr, "dropout": 0.2, "hidden": 64, "act": "relu", **params}
    if status == "diverged":
        curve = [{"epoch": 1, "score": None, "loss": 40.0}]
        return TrialRecord(number, stage, params, status, None, epochs, curve, number, 0.1, "loss > 3x")
    if status == "failed":
        return TrialRecord(number, stage, params, status, None, epochs, [], number, 0.0, "ValueError: bad")
    curve = [{"epoch": e, "score": accuracy(lr) * (1 - 0.5 ** e), "loss": 2.3 * 0.7 ** e} for e in range(1, run + 1)]
    return TrialRecord(number, stage, params, status, curve[-1]["score"], epochs, curve, number, 0.1 * run)


def coarse_to_fine_result() -> SearchResult:
    rng = np.random.default_rng(0)
    trials = [record(k, 1, float(10 ** rng.uniform(-6, -1.5)), act=["relu", "tanh"][k % 2],
                     hidden=int(rng.integers(16, 256)), dropout=float(rng.uniform(0, 0.5))) for k in range(12)]
    trials += [record(12, 1, 0.09, "diverged"), record(13, 1, 0.06, "diverged"), record(14, 1, 2e-6, "pruned", run=1),
               record(15, 1, 1e-3, "failed")]
    trials += [record(k, 2, float(10 ** rng.uniform(-4, -2)), epochs=8, hidden=128) for k in range(6)]
    return SearchResult(trials, [SPACE, FINE], notes=["lr: the best value is ..."])


def collections_labelled(axis, prefix):
    return [c for c in axis.collections if str(c.get_label()).startswith(prefix)]


def test_scores_figure_has_a_log_axis_for_log_dims_and_categories_for_choices():
    figure = scores_figure(coarse_to_fine_result(), metric="val_accuracy")
    axes = {axis.get_title(): axis for axis in figure.axes if axis.get_visible()}
    assert set(axes) == {"lr", "dropout", "hidden", "act"}
    assert axes["lr"].get_xscale() == "log" and axes["hidden"].get_xscale() == "log"
    assert axes["dropout"].get_xscale() == "linear"
    assert [tick.get_text() for tick in axes["act"].get_xticklabels()] == ["relu", "tanh"]
    assert axes["lr"].get_ylabel() == "val_accuracy"


def test_scores_figure_marks_diverged_trials_at_their_value_below_the_scores():
    result = coarse_to_fine_result()
    axis = next(axis for axis in scores_figure(result).axes if axis.get_title() == "lr")
    (diverged,) = collections_labelled(axis, "diverged (2")
    xs, ys = diverged.get_offsets().T
    assert sorted(xs) == [0.06, 0.09]  # where the learning rate was too high
    lowest = min(trial.score for trial in result.trials if trial.score is not None)
    assert np.all(ys < lowest) and axis.get_ylim()[0] < ys.min()  # in the band under every score, on the axis
    (pruned,) = collections_labelled(axis, "stage 1 (3 epochs), pruned")
    assert len(pruned.get_facecolors()) == 0 or pruned.get_facecolors()[0][3] == 0  # hollow
    assert collections_labelled(axis, "failed (1")
    (best,) = collections_labelled(axis, "best")
    assert best.get_offsets()[0][0] == pytest.approx(result.best.params["lr"])


def test_command_center_draws_every_curve_with_the_best_in_black():
    result = coarse_to_fine_result()
    figure = command_center_figure(result, metric="val_accuracy")
    score_axis, loss_axis = figure.axes
    scored = [trial for trial in result.trials if any(row["score"] is not None for row in trial.curve)]
    assert len(score_axis.lines) == len(scored)
    black = [line for line in score_axis.lines if line.get_color() == "black"]
    assert len(black) == 1 and list(black[0].get_ydata()) == [row["score"] for row in result.best.curve]
    faint = [line for line in score_axis.lines if line.get_alpha() is not None and line.get_alpha() < 0.3]
    assert len(faint) == 1  # the pruned trial
    red_x = [c for c in score_axis.collections if c.get_offsets().shape[0] and tuple(c.get_edgecolors()[0][:3])
             in ((1.0, 0.0, 0.0),)]
    assert len(red_x) == 2  # each diverged trial ends in an x
    assert loss_axis.get_yscale() == "log"  # 40 against 0.1: decades apart
    assert "Command center: 22 trials" in figure._suptitle.get_text()


def test_command_center_without_losses_has_one_panel():
    trials = [TrialRecord(0, 1, {"lr": 0.01}, "complete", 0.5, 2, [{"epoch": 1, "score": 0.4, "loss": None},
                                                                    {"epoch": 2, "score": 0.5, "loss": None}])]
    assert len(command_center_figure(SearchResult(trials, [{"lr": LogUniform(1e-4, 1e-1)}])).axes) == 1


def test_random_vs_grid_counts_distinct_values_of_the_important_parameter():
    space = {"lr": LogUniform(1e-6, 1e-1), "wd": LogUniform(1e-5, 10)}
    grid_values = [(lr, wd) for lr in np.logspace(-6, -1, 3) for wd in np.logspace(-5, 1, 3)]
    grid = SearchResult([TrialRecord(k, 1, {"lr": lr, "wd": wd}, "complete", accuracy(lr), 3)
                         for k, (lr, wd) in enumerate(grid_values)], [space])
    rng = np.random.default_rng(1)
    random = SearchResult([TrialRecord(k, 1, {"lr": float(10 ** rng.uniform(-6, -1)),
                                              "wd": float(10 ** rng.uniform(-5, 1))}, "complete", 0.0, 3)
                           for k in range(9)], [space])
    for trial in random.trials:
        trial.score = accuracy(trial.params["lr"])
    figure = random_vs_grid_figure(random, grid, "lr", "wd", metric="val_accuracy")
    titles = [axis.get_title() for axis in figure.axes]
    assert "grid: 9 trials, 3 distinct values of lr" in titles
    assert "random: 9 trials, 9 distinct values of lr" in titles
    layout = figure.axes[0]
    assert layout.get_xscale() == "log" and layout.get_yscale() == "log"
    with pytest.raises(ValueError, match="parameter 'momentum' is not in the random, grid search"):
        random_vs_grid_figure(random, grid, "momentum", "wd")


def test_stages_figure_shows_the_ranges_narrowing():
    figure = stages_figure(coarse_to_fine_result(), metric="val_accuracy")
    axis = next(axis for axis in figure.axes if axis.get_title() == "lr")
    bars = sorted(axis.patches, key=lambda bar: bar.get_y())  # stage 1 on row 0
    coarse, fine = ((bar.get_x(), bar.get_x() + bar.get_width()) for bar in bars)
    assert coarse == pytest.approx((1e-6, 1e-1)) and fine == pytest.approx((1e-4, 1e-2))
    assert axis.get_xscale() == "log"
    assert [label.get_text().split("\n")[0] for label in axis.get_yticklabels()] == ["stage 1", "stage 2"]
    choice_axis = next(axis for axis in figure.axes if axis.get_title() == "act")
    widths = [bar.get_width() for bar in sorted(choice_axis.patches, key=lambda bar: bar.get_y())]
    assert widths[0] > widths[1]  # two options, then one


def test_plots_write_pngs(tmp_path):
    from matplotlib.image import imread

    result = coarse_to_fine_result()
    paths = [plot_scores(result, tmp_path / "scores.png"), plot_command_center(result, tmp_path / "cc.png"),
             plot_stages(result, tmp_path / "sub" / "stages.png"),
             plot_random_vs_grid(result, result, "lr", "dropout", tmp_path / "rvg.png")]
    for path in paths:
        image = imread(path)
        assert image.shape[0] > 300 and image.shape[1] > 500
        assert image[..., :3].std() > 0.05  # not a blank canvas


def test_a_search_without_trials_is_refused():
    with pytest.raises(ValueError, match="no trial with parameters"):
        scores_figure(SearchResult([], []))
