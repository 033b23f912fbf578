"""Config-file searches: dotted paths, the search: section's syntax and errors, the picklable objective."""

from __future__ import annotations

import copy
import math
import pickle
import re

import pytest

from babysit.config import ConfigError, load_config
from babysit.search.config_paths import PathError, check_path, set_path, split_path
from babysit.search.config_search import ConfigObjective, cached_data
from babysit.search.config_section import split_config, substitute
from babysit.search.spaces import Choice, IntUniform, LogUniform, Uniform
from babysit.search.trial import TrialSpec, run_trial

BASE = {
    "seed": 0,
    "data": {"name": "spirals", "val_size": 0.2},
    "model": [{"type": "Linear", "out_features": 32}, "ReLU", "Dropout",
              {"type": "Linear", "args": {"out_features": 3}}],
    "penalties": [{"type": "L2Penalty", "strength": 1e-4}],
    "optimizer": {"type": "adam", "lr": 1e-2},
    "schedule": "cosine",
    "epochs": 4,
    "batch_size": 32,
    "callbacks": ["ExplosionGuard", {"type": "CSVLogger", "path": "log.csv"}],
}
SEARCH = {
    "strategy": "random",
    "params": {
        "optimizer.lr": {"log_uniform": [1e-6, 1e-1]},
        "penalties.0.strength": {"log_uniform": [1e-5, 10]},
        "model[0].out_features": {"int_uniform": [8, 64], "log": True},
        "model.2.p": {"uniform": [0.0, 0.5]},
        "optimizer.type": {"choice": ["adam", "sgd"]},
    },
    "stages": [[6, 2], [3, 4]],
    "keep_top": 2,
    "metric": "val_accuracy",
}


def search_config(**changes) -> dict:
    config = copy.deepcopy(BASE)
    config["search"] = {**copy.deepcopy(SEARCH), **changes}
    return config


def problems_of(config) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        split_config(config)
    return caught.value.problems


# ---------------------------------------------------------------------------------------------- paths
def test_split_path_reads_dots_and_brackets_alike():
    assert split_path("model[0].out_features") == split_path("model.0.out_features") == ["model", 0, "out_features"]
    with pytest.raises(PathError, match="not a dotted path"):
        split_path("model..out_features")


def test_check_path_finds_values_args_and_unwritten_arguments():
    assert check_path(BASE, "optimizer.lr") == 1e-2
    assert check_path(BASE, "model.3.out_features") == 3           # written under args:
    assert check_path(BASE, "model.2.p") is None                   # `- Dropout`: p left at its default
    assert check_path(BASE, "optimizer.weight_decay") is None      # an argument not written yet


@pytest.mark.parametrize(("path", "message"), [
    ("optimiser.lr", "the config has no key 'optimiser'; keys there: .*optimizer"),
    ("model.9.out_features", "model has 4 entries \\(indices 0..3\\), got index 9"),
    ("model.out_features", "model is a list: index it with a number"),
    ("optimizer.lr.x", "optimizer.lr is 0.01, not a mapping"),
    ("epochs", "budget"),
    ("seed", "search.seed"),
])
def test_check_path_errors_say_what_is_there(path, message):
    with pytest.raises(PathError, match=message):
        check_path(BASE, path, top_keys=["seed", "penalties"])


def test_set_path_copies_and_opens_bare_names():
    config = set_path(BASE, "model.2.p", 0.3)
    assert config["model"][2] == {"type": "Dropout", "p": 0.3}
    assert BASE["model"][2] == "Dropout"  # the original is untouched
    assert set_path(BASE, "model.3.out_features", 5)["model"][3] == {"type": "Linear", "args": {"out_features": 5}}
    assert set_path(BASE, "optimizer.momentum", 0.9)["optimizer"] == {"type": "adam", "lr": 1e-2, "momentum": 0.9}


# ---------------------------------------------------------------------------------------------- the section
def test_split_config_builds_the_space_and_plan():
    base, plan = split_config(search_config())
    assert "search" not in base
    assert plan.space["optimizer.lr"] == LogUniform(1e-6, 1e-1)
    assert isinstance(plan.space["model[0].out_features"], IntUniform) and plan.space["model[0].out_features"].log
    assert isinstance(plan.space["model.2.p"], Uniform)
    assert plan.space["optimizer.type"] == Choice(["adam", "sgd"])
    assert plan.stages == [(6, 2), (3, 4)] and plan.keep_top == 2 and plan.direction == "maximize"
    assert split_config(search_config(metric="val_loss"))[1].direction == "minimize"


def test_trials_shorthand_takes_the_configs_epochs():
    section = {key: value for key, value in SEARCH.items() if key != "stages"}
    config = copy.deepcopy(BASE)
    config["search"] = {**section, "trials": 7}
    assert split_config(config)[1].stages == [(7, BASE["epochs"])]
    config["search"]["epochs"] = 2
    assert split_config(config)[1].stages == [(7, 2)]


def test_a_range_from_zero_never_widens_below_zero():
    _, plan = split_config(search_config())
    assert plan.space["model.2.p"].widened("low").low == 0.0
    assert plan.space["model[0].out_features"].widened("low").low >= 1
    custom = search_config(params={"model.2.p": {"uniform": [0.1, 0.5], "limits": [0, 0.9]}})
    assert split_config(custom)[1].space["model.2.p"].widened("high").high == pytest.approx(0.7)


@pytest.mark.parametrize(("changes", "message"), [
    ({"strategy": "bayes"}, "search.strategy: must be random or grid, got 'bayes'"),
    ({"colour": 1}, "search: unknown key 'colour'; allowed: strategy, params"),
    ({"params": {"optimizer.lr": {"log_uniform": [1e-1, 1e-6]}}},
     "search.params.optimizer.lr: LogUniform: low must be < high"),
    ({"params": {"optimizer.lr": {"log_uniform": [0, 1e-1]}}}, "search.params.optimizer.lr: LogUniform: a log-scale"),
    ({"params": {"optimizer.lr": [1e-6, 1e-1]}}, "search.params.optimizer.lr: a range is one of"),
    ({"params": {"optimiser.lr": {"log_uniform": [1e-6, 1e-1]}}}, "keys there: .*optimizer"),
    ({"params": {"model": {"uniform": [0, 1]}}}, "holds a list in the config; a uniform range needs a number"),
    ({"params": {}}, "search.params: give at least one parameter"),
    ({"stages": [[5, 0]]}, "search.stages\\[0\\]: a pair \\[trials, epochs\\] of whole numbers >= 1, got \\[5, 0\\]"),
    ({"trials": 5}, "either stages"),
    ({"metric": "test_accuracy"}, "search.metric: must be one of val_accuracy, val_loss"),
    ({"pruner": {"eta": 3}}, "search.pruner: true, false, or a mapping of min_epochs"),
    ({"kill_factor": 1}, "search.kill_factor: must be a number > 1"),
])
def test_section_errors_name_the_key(changes, message):
    problems = problems_of(search_config(**changes))
    assert any(re.search(message, problem) for problem in problems), problems


def test_the_metric_needs_a_validation_split():
    config = search_config()
    del config["data"]["val_size"]
    assert any("set data.val_size" in problem and "never chosen on the test set" in problem
               for problem in problems_of(config))


def test_range_ends_are_validated_by_the_config():
    """A choice the optimizer registry does not know, an argument the class lacks: found before any trial."""
    unknown = problems_of(search_config(params={"optimizer.type": {"choice": ["adam", "adamm"]}}))
    assert any("optimizer.type=" in problem and "unknown optimizer 'adamm'" in problem for problem in unknown)
    misspelt = problems_of(search_config(params={"optimizer.lrr": {"log_uniform": [1e-4, 1e-1]}}))
    assert any("has no argument 'lrr'" in problem and "did you mean 'lr'" in problem for problem in misspelt)


def test_training_config_problems_come_first():
    config = search_config()
    config["optimizer"]["type"] = "adamm"
    assert any(problem.startswith("optimizer.type: unknown optimizer") for problem in problems_of(config))


def test_train_accepts_a_config_with_a_search_section():
    config = load_config(search_config())
    assert config.search["metric"] == "val_accuracy"


def test_substitute_gives_plain_python_numbers():
    import numpy as np

    config = substitute(BASE, {"optimizer.lr": np.float64(0.5), "model.0.out_features": np.int64(7)})
    assert type(config["optimizer"]["lr"]) is float and type(config["model"][0]["out_features"]) is int
    load_config(config)


# ---------------------------------------------------------------------------------------------- the objective
def objective_and_plan():
    base, plan = split_config(search_config())
    return ConfigObjective(base, plan.metric), plan


def test_trial_config_sets_budget_seed_and_turns_off_checks():
    objective, _ = objective_and_plan()
    config = objective.trial_config({"optimizer.lr": 3e-3, "model.2.p": 0.25}, epochs=2, seed=11)
    assert config["epochs"] == 2 and config["seed"] == 11 and config["optimizer"]["lr"] == 3e-3
    assert config["checks"] is False and config["babysitter"] is False
    assert config["data"] == BASE["data"]  # same data seed: every trial meets the same validation split
    assert config["callbacks"] == ["ExplosionGuard"]  # no CSVLogger writing into the working directory


def test_objective_is_picklable_and_trains_a_trial():
    objective, _ = objective_and_plan()
    objective = pickle.loads(pickle.dumps(objective))
    params = {"optimizer.lr": 1e-2, "penalties.0.strength": 1e-4, "model[0].out_features": 16, "model.2.p": 0.1,
              "optimizer.type": "adam"}
    record = run_trial(objective, TrialSpec(number=0, stage=1, params=params, epochs=3, seed=5))
    assert record.status == "complete", record.error
    assert [row["epoch"] for row in record.curve] == [1, 2, 3]
    best = max(row["score"] for row in record.curve)
    assert record.score == pytest.approx(best) and 0.3 < record.score <= 1.0
    again = run_trial(objective, TrialSpec(number=0, stage=1, params=params, epochs=3, seed=5))
    assert again.score == record.score  # same seed, same trial


def test_objective_kills_a_trial_whose_loss_explodes():
    objective, _ = objective_and_plan()
    params = {"optimizer.lr": 50.0, "penalties.0.strength": 1e-4, "model[0].out_features": 64, "model.2.p": 0.0,
              "optimizer.type": "sgd"}
    record = run_trial(objective, TrialSpec(number=1, stage=1, params=params, epochs=4, seed=0))
    assert record.status == "diverged", (record.status, record.error)
    assert record.epochs_run < 4


def test_objective_reports_a_bad_value_as_a_failed_trial():
    objective, _ = objective_and_plan()
    record = run_trial(objective, TrialSpec(number=2, stage=1, params={"optimizer.lr": -1.0}, epochs=1, seed=0))
    assert record.status == "failed" and "lr must be a number > 0" in record.error


def test_data_are_loaded_once_per_process():
    objective, _ = objective_and_plan()
    config = load_config(objective.trial_config({}, epochs=1, seed=0))
    assert cached_data(config) is cached_data(config)
    other = load_config({**objective.trial_config({}, epochs=1, seed=0), "data": {"name": "spirals", "val_size": 0.3}})
    assert cached_data(other) is not cached_data(config)
    assert math.isclose(len(cached_data(other).x_val), 90)
