"""The search engine on objectives whose answer is known: random vs grid, coarse to fine, the
edge rule, early kill (report and Trainer callbacks), pruning, failing objectives."""

import math

import numpy as np
import pytest

from babysit import nn, optim
from babysit.search import (
    Choice,
    IntUniform,
    LogUniform,
    SuccessiveHalving,
    Trial,
    TrialDiverged,
    TrialPruned,
    coarse_to_fine,
    grid_search,
    random_search,
    run_trial,
)
from babysit.search.trial import TrialSpec, trial_seed
from babysit.train import Trainer

SPACE = {"lr": LogUniform(1e-6, 1e-1), "wd": LogUniform(1e-5, 1e1)}


def peak_at_1e3(trial):
    """Score 1 at lr = 1e-3, falling off quadratically in decades; wd does not matter."""
    return 1.0 - (math.log10(trial.params["lr"]) + 3) ** 2 / 25


def quiet(search, *args, **kwargs):
    return search(*args, verbose=False, **kwargs)


# ------------------------------------------------------------------ random vs grid, coarse to fine
def test_random_search_finds_the_peak_and_tries_more_distinct_lrs_than_a_grid():
    random = quiet(random_search, peak_at_1e3, SPACE, n_trials=25, epochs=1, seed=0)
    grid = quiet(grid_search, peak_at_1e3, SPACE, n_trials=25, epochs=1, seed=0)
    assert len(random.trials) == 25 and random.status_counts() == {"complete": 25}
    assert abs(math.log10(random.best.params["lr"]) + 3) < 0.5  # within half a decade of 1e-3
    # Bergstra & Bengio: the grid spends its budget on 5 lrs x 5 wds, random on 25 distinct lrs
    assert len({trial.params["lr"] for trial in random.trials}) == 25
    assert len({trial.params["lr"] for trial in grid.trials}) == 5
    assert len(grid.trials) == 25 and any("5 values per numeric dimension" in note for note in grid.notes)
    assert sorted({trial.params["lr"] for trial in grid.trials}) == pytest.approx(SPACE["lr"].grid(5))


def test_grid_gives_choices_their_share_of_the_budget():
    space = {"lr": LogUniform(1e-4, 1e-2), "act": Choice(["relu", "tanh"]), "hidden": IntUniform(8, 64, log=True)}
    result = quiet(grid_search, lambda trial: 0.5, space, n_trials=20, epochs=1)
    # floor((20 / 2) ** (1/2)) = 3 values of lr and hidden, x 2 activations
    assert len(result.trials) == 18
    assert {trial.params["act"] for trial in result.trials} == {"relu", "tanh"}
    assert sorted({trial.params["hidden"] for trial in result.trials}) == [8, 23, 64]
    with pytest.raises(ValueError, match="the Choice dimensions alone make 2 combinations, more than n_trials=1"):
        quiet(grid_search, lambda trial: 0.5, space, n_trials=1, epochs=1)


def test_trials_get_the_same_params_and_seed_from_the_same_seed():
    first = quiet(random_search, peak_at_1e3, SPACE, n_trials=6, epochs=1, seed=3)
    again = quiet(random_search, peak_at_1e3, SPACE, n_trials=6, epochs=1, seed=3)
    other = quiet(random_search, peak_at_1e3, SPACE, n_trials=6, epochs=1, seed=4)
    assert [trial.params for trial in first.trials] == [trial.params for trial in again.trials]
    assert [trial.seed for trial in first.trials] == [trial_seed(3, 1, number) for number in range(6)]
    assert [trial.params for trial in first.trials] != [trial.params for trial in other.trials]


def test_coarse_to_fine_narrows_around_the_optimum():
    result = quiet(coarse_to_fine, peak_at_1e3, SPACE, stages=[(30, 1), (10, 2)], keep_top=5, seed=1)
    assert [len(result.stage(stage)) for stage in (1, 2)] == [30, 10]
    assert {trial.epochs for trial in result.stage(2)} == {2}
    coarse, fine = result.spaces[0]["lr"], result.spaces[1]["lr"]
    assert fine.low < 1e-3 < fine.high
    assert math.log10(fine.high / fine.low) < math.log10(coarse.high / coarse.low) / 2
    top_lrs = [trial.params["lr"] for trial in result.ranked(stage=1)[:5]]
    assert (fine.low, fine.high) == pytest.approx((min(top_lrs), max(top_lrs)))
    assert all(fine.low <= trial.params["lr"] <= fine.high for trial in result.stage(2))
    assert result.best.stage == 2


def test_edge_rule_widens_past_the_edge_and_says_so():
    def peak_at_1(trial):  # the optimum (lr = 1) lies above the coarse range [1e-6, 1e-1]
        return -abs(math.log10(trial.params["lr"]))

    space = {"lr": LogUniform(1e-6, 1e-1)}
    result = quiet(coarse_to_fine, peak_at_1, space, stages=[(20, 1), (10, 1)], keep_top=3, seed=0)
    best = result.ranked(stage=1)[0].params["lr"]
    stage1_notes = [note for note in result.notes if note.startswith("stage 1:")]
    assert len(stage1_notes) == 1
    assert f"lr: the best value {best:.3g} is in the top 10% of [1e-06, 0.1] (log scale)" in stage1_notes[0]
    assert "widening the range upward to" in stage1_notes[0]
    widened = result.spaces[1]["lr"]
    assert widened.high == pytest.approx(10 ** 1.5)  # half the width (2.5 decades) past the old edge
    assert widened.low == pytest.approx(min(trial.params["lr"] for trial in result.ranked(stage=1)[:3]))
    assert max(trial.params["lr"] for trial in result.stage(2)) > 0.1  # stage 2 looked past the old edge
    assert abs(math.log10(result.best.params["lr"])) < 0.5 and result.best.stage == 2  # and found lr ~ 1
    assert not any(note.startswith("stage 2") for note in result.notes)  # 1 is inside stage 2's range


def test_no_edge_note_when_the_best_is_inside_and_a_note_for_a_single_stage_at_the_edge():
    inside = quiet(random_search, peak_at_1e3, {"lr": LogUniform(1e-6, 1e-1)}, n_trials=15, epochs=1)
    assert inside.notes == []
    edge = quiet(random_search, peak_at_1e3, {"lr": LogUniform(1e-2, 1e-1)}, n_trials=15, epochs=1)
    assert len(edge.notes) == 1 and "bottom 10% of [0.01, 0.1]" in edge.notes[0]
    assert "extended downward" in edge.notes[0]


# ------------------------------------------------------------------ early kill
def exploding_after_lr_1e2(trial):
    """Loss 1, 4, 16, ... per epoch when lr > 1e-2 (it crosses 3x at epoch 2), else 1, 0.9, ..."""
    lr = trial.params["lr"]
    for epoch in range(1, trial.epochs + 1):
        loss = 4.0 ** (epoch - 1) if lr > 1e-2 else 0.9 ** (epoch - 1)
        trial.report(epoch, score=1 - loss / 10, loss=loss)
    return 0.9


def test_a_loss_that_grows_4x_is_diverged_at_epoch_2_with_its_params():
    result = quiet(random_search, exploding_after_lr_1e2, {"lr": LogUniform(1e-4, 1.0)}, n_trials=12, epochs=5,
                   pruner=None)
    diverged = [trial for trial in result.trials if trial.status == "diverged"]
    assert diverged and all(trial.params["lr"] > 1e-2 for trial in diverged)
    assert all(trial.status == "complete" for trial in result.trials if trial.params["lr"] <= 1e-2)
    for trial in diverged:
        assert trial.epochs_run == 2 and [row["loss"] for row in trial.curve] == [1.0, 4.0]
        assert "loss 4 at epoch 2 exceeds 3 x the first loss 1" in trial.error
    assert result.seconds_saved() > 0
    assert quiet(random_search, exploding_after_lr_1e2, {"lr": LogUniform(1e-4, 1.0)}, n_trials=12, epochs=5,
                 pruner=None, kill_factor=None).status_counts() == {"complete": 12}


def test_nan_loss_or_nan_result_is_diverged():
    def nan_loss(trial):
        trial.report(1, score=0.5, loss=2.0)
        trial.report(2, score=0.5, loss=float("nan"))
        return 0.5

    record = run_trial(nan_loss, TrialSpec(number=0, stage=1, params={"lr": 1.0}, epochs=4, seed=0))
    assert record.status == "diverged" and record.epochs_run == 2
    assert "loss nan at epoch 2 is not finite" in record.error
    nan_result = TrialSpec(number=1, stage=1, params={"lr": 1.0}, epochs=4, seed=0)
    record = run_trial(lambda trial: float("nan"), nan_result)
    assert record.status == "diverged" and record.params == {"lr": 1.0} and record.error == "the objective returned nan"


def test_report_raises_for_the_objective_to_see():
    trial = Trial(TrialSpec(number=0, stage=1, params={}, epochs=9, seed=0, thresholds={3: 0.5}))
    trial.report(1, score=0.1, loss=2.0)  # rung 3 is not reached yet: no pruning at epoch 1
    with pytest.raises(TrialPruned, match=r"score 0\.3 is not in the top of rung 3"):
        trial.report(3, score=0.3, loss=1.0)
    assert trial.status == "pruned"
    trial = Trial(TrialSpec(number=0, stage=1, params={}, epochs=9, seed=0, kill_factor=2.0))
    trial.report(1, loss=1.0)
    with pytest.raises(TrialDiverged, match="exceeds 2 x the first loss"):
        trial.report(2, loss=2.5)
    with pytest.raises(ValueError, match="epochs must increase, got 2 after 2"):
        trial.report(2, loss=1.0)


def blobs(seed, n=200):
    centers = np.random.default_rng(5).standard_normal((3, 6)) * 3
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.standard_normal((n, 6))).astype(np.float32), y


def train_blobs(trial):
    """A plain objective: Trainer with the trial's callbacks, returns the best validation accuracy."""
    rng = np.random.default_rng(trial.seed)
    model = nn.Sequential(nn.Linear(6, 32, rng=rng), nn.ReLU(), nn.Linear(32, 3, rng=rng))
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=trial.params["lr"],
                                                                 momentum=0.9),
                      batch_size=20, rng=rng, verbose=False, callbacks=trial.callbacks())
    history = trainer.fit(blobs(0), val=blobs(1), epochs=trial.epochs)
    return max([accuracy for accuracy in history.metric("val_accuracy") if accuracy is not None], default=0.0)


@pytest.mark.filterwarnings("ignore:training stopped")
def test_trainer_callbacks_record_a_real_explosion_as_diverged_without_raising():
    spec = TrialSpec(number=0, stage=1, params={"lr": 10.0}, epochs=3, seed=0)
    record = run_trial(train_blobs, spec)
    assert record.status == "diverged", record.error
    assert record.epochs_run <= 1 and record.params == {"lr": 10.0}
    assert "explosion guard" in record.error or "non-finite" in record.error
    good = run_trial(train_blobs, TrialSpec(number=1, stage=1, params={"lr": 0.01}, epochs=3, seed=0))
    assert good.status == "complete" and good.score > 0.8 and good.epochs_run == 3
    assert [row["epoch"] for row in good.curve] == [1, 2, 3] and all(row["loss"] > 0 for row in good.curve)


def test_trainer_callbacks_prune_and_stop_the_trainer():
    spec = TrialSpec(number=0, stage=1, params={"lr": 0.01}, epochs=4, seed=0, thresholds={1: 1.01})
    record = run_trial(train_blobs, spec)
    assert record.status == "pruned" and record.epochs_run == 1 and "pruned at epoch 1" in record.error
    assert record.score == record.curve[0]["score"]


def test_trainer_callbacks_need_the_monitored_metric():
    def no_val(trial):
        model = nn.Sequential(nn.Linear(6, 3, rng=np.random.default_rng(0)))
        Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.01), verbose=False,
                callbacks=trial.callbacks()).fit(blobs(0), epochs=1)
        return 0.5

    record = run_trial(no_val, TrialSpec(number=0, stage=1, params={}, epochs=1, seed=0))
    assert record.status == "failed" and "monitor 'val_accuracy' is not in the epoch row" in record.error


# ------------------------------------------------------------------ pruning
def ranked_by_lr(trial):
    """Deterministic: a higher lr scores higher at every epoch (the rungs' order is the final order)."""
    for epoch in range(1, trial.epochs + 1):
        trial.report(epoch, score=math.log10(trial.params["lr"]) + epoch / 100)
    return math.log10(trial.params["lr"]) + trial.epochs / 100


def test_successive_halving_prunes_bad_trials_at_the_first_rung_and_completes_good_ones():
    result = quiet(grid_search, ranked_by_lr, {"lr": LogUniform(1e-6, 1e-1)}, n_trials=30, epochs=3,
                   pruner=SuccessiveHalving(min_epochs=1, reduction_factor=3, min_trials=5))  # one rung: epoch 1
    pruned = [trial for trial in result.trials if trial.status == "pruned"]
    assert pruned and all(trial.epochs_run == 1 for trial in pruned)
    # once 5 trials have reached rung 1, only a trial in the top third of it goes on
    for trial in pruned:
        assert trial.number >= 5 and "rung 1" in trial.error
    best = max(result.trials, key=lambda trial: trial.params["lr"])
    assert best.status == "complete" and result.best.number == best.number
    worst = min(result.trials[5:], key=lambda trial: trial.params["lr"])
    assert worst.status == "pruned"
    assert result.seconds_saved() > 0
    assert quiet(grid_search, ranked_by_lr, {"lr": LogUniform(1e-6, 1e-1)}, n_trials=30, epochs=3,
                 pruner=None).status_counts() == {"complete": 30}


def test_thresholds_follow_the_asha_rule():
    records = quiet(random_search, ranked_by_lr, {"lr": LogUniform(1e-6, 1e-1)}, n_trials=8, epochs=9,
                    pruner=None).trials
    pruner = SuccessiveHalving(min_epochs=1, reduction_factor=3, min_trials=5)
    assert pruner.rungs(9) == [1, 3] and pruner.rungs(10) == [1, 3, 9]
    bars = pruner.thresholds(records, epochs=9)
    at_rung_1 = sorted((trial.curve[0]["score"] for trial in records), reverse=True)
    assert bars[1] == at_rung_1[(8 + 1) // 3 - 1]  # the 3rd best of 8: a 9th trial must be in the top 3 of 9
    assert pruner.thresholds(records[:4], epochs=9) == {}  # fewer than min_trials reached the rung
    assert SuccessiveHalving(min_trials=5).thresholds(records, 9, "minimize")[1] == sorted(at_rung_1)[2]
    with pytest.raises(ValueError, match="reduction_factor must be an int >= 2, got 1"):
        SuccessiveHalving(reduction_factor=1)


# ------------------------------------------------------------------ failures
def crash_on_high_lr(trial):
    if trial.params["lr"] > 1e-2:
        raise RuntimeError(f"cannot train with lr {trial.params['lr']:.3g}")
    return 0.5


def test_a_crashing_objective_is_failed_with_its_message_and_the_search_goes_on():
    result = quiet(random_search, crash_on_high_lr, {"lr": LogUniform(1e-4, 1.0)}, n_trials=12, epochs=1)
    failed = [trial for trial in result.trials if trial.status == "failed"]
    assert failed and len(result.trials) == 12
    assert all(trial.params["lr"] > 1e-2 for trial in failed)
    for trial in failed:
        assert trial.error.startswith(f"RuntimeError: cannot train with lr {trial.params['lr']:.3g}")
        assert "crash_on_high_lr" in trial.error  # the traceback's last lines say where
    assert result.status_counts()["complete"] == 12 - len(failed)
    assert any(note.startswith(f"{len(failed)} trial(s) failed") for note in result.notes)


def test_an_objective_returning_no_number_is_failed():
    record = run_trial(lambda trial: None, TrialSpec(number=0, stage=1, params={}, epochs=1, seed=0))
    assert record.status == "failed" and "returned NoneType None" in record.error


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="direction must be 'maximize' or 'minimize', got 'max'"):
        random_search(peak_at_1e3, SPACE, 2, 1, direction="max")
    with pytest.raises(ValueError, match="kill_factor must be a finite number > 1"):
        random_search(peak_at_1e3, SPACE, 2, 1, kill_factor=0.5)
    with pytest.raises(ValueError, match="n_trials must be an int >= 1, got 0"):
        random_search(peak_at_1e3, SPACE, 0, 1)
    with pytest.raises(ValueError, match="search space 'lr': expected LogUniform"):
        random_search(peak_at_1e3, {"lr": (1e-6, 1e-1)}, 2, 1)
    with pytest.raises(ValueError, match="stages must be a list of"):
        coarse_to_fine(peak_at_1e3, SPACE, stages=[5])


def test_the_progress_bar_shows_the_best_score_and_the_early_stops(capsys):
    from babysit.search.runner import Progress

    result = random_search(exploding_after_lr_1e2, {"lr": LogUniform(1e-4, 1.0)}, n_trials=12, epochs=5,
                           pruner=None, verbose=True)  # verbose, on a non-terminal: no bar, no crash
    progress = Progress(12, result.trials, "maximize", "search", verbose=False)
    diverged = result.status_counts()["diverged"]
    assert progress.summary() == f"best {0.9:.4g}  diverged {diverged}"
    assert Progress(3, [], "minimize", "search", verbose=False).summary() == "best -"
