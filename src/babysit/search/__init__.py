"""Hyperparameter search as the lecture teaches it: random search in log space, coarse to fine,
edge warnings, early kill, successive halving, resumable storage (Optuna) and parallel trials."""

from babysit.search.coarse_to_fine import coarse_to_fine, next_stage_space
from babysit.search.plots import plot_command_center, plot_random_vs_grid, plot_scores
from babysit.search.plots_stages import plot_stages
from babysit.search.pruning import SuccessiveHalving
from babysit.search.records import SearchResult, TrialRecord
from babysit.search.spaces import Choice, IntUniform, LogUniform, Uniform, space_from_config, space_to_config
from babysit.search.storage import load_search
from babysit.search.strategies import grid_search, random_search
from babysit.search.trial import Trial, TrialDiverged, TrialPruned, run_trial

__all__ = [
    "Choice", "IntUniform", "LogUniform", "SearchResult", "SuccessiveHalving", "Trial", "TrialDiverged",
    "TrialPruned", "TrialRecord", "Uniform", "coarse_to_fine", "grid_search", "load_search", "next_stage_space",
    "random_search", "run_trial", "space_from_config", "space_to_config",
    # config-file searches and pictures
    "ConfigObjective", "plot_command_center", "plot_random_vs_grid", "plot_scores", "plot_stages",
    "run_config_search",
]


def __getattr__(name):
    # config-file searches load the config machinery (pydantic), which plain searches do not need
    if name in ("ConfigObjective", "run_config_search"):
        from babysit.search import config_search  # noqa: PLC0415

        return getattr(config_search, name)
    raise AttributeError(f"module 'babysit.search' has no attribute {name!r}")
