"""Searches described by a config file: a training config plus a ``search:`` section.

:class:`ConfigObjective` is the objective such a search runs: given a trial, it sets the
trial's parameters into the training config, builds the run (:func:`babysit.config.build`),
trains ``trial.epochs`` epochs with the Trainer and the trial's callbacks (the lecture's
early kill and the pruner's rungs) and returns the best validation score. It is picklable,
so it goes to worker processes and Dask workers as it is. :func:`run_config_search` runs the
whole search and writes ``results.csv``, the plots and ``best.yaml`` (the winner, ready for
``babysit train``). See docs/search.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from babysit.atomic import write_text
from babysit.config.loading import ConfigError, dump_config, read_yaml, validate
from babysit.search.config_section import SearchPlan, split_config, substitute

#: Callbacks that write files: left out of the trials unless each trial keeps a run directory.
FILE_CALLBACKS = ("ModelCheckpoint", "CSVLogger")
#: Preprocessed data sets kept per process (a worker trains many trials on the same data).
_DATA_CACHE: OrderedDict = OrderedDict()
_DATA_CACHE_SIZE = 2
_DATA_LOCK = threading.Lock()


class ConfigObjective:
    """Train the config's run with a trial's parameters; return its best validation score.

    Parameters
    ----------
    config : dict
        The training config, without its ``search:`` section.
    metric : str
        ``val_accuracy`` (higher is better) or ``val_loss`` (lower is better), per epoch.
    runs_dir : str or Path, optional
        Give each trial a run directory here (``stage1/trial007``); by default nothing is written.

    Notes
    -----
    Per trial the config gets the trial's parameters, ``epochs = trial.epochs`` (a cosine
    schedule spans the trial's budget) and ``seed = trial.seed``; the data set's own seed
    (``data.seed``) is kept, so every trial is scored on the same validation split. No
    pre-flight checks and no Babysitter run (they cost time per trial; run ``babysit train``
    on the winner for them). The data are loaded and preprocessed once per process and
    reused while the ``data`` and ``preprocessing`` sections stay the same.
    """

    def __init__(self, config: dict, metric: str = "val_accuracy", runs_dir=None):
        self.config = config
        self.metric = metric
        self.mode = "min" if metric.endswith("loss") else "max"
        self.runs_dir = None if runs_dir is None else str(runs_dir)

    @property
    def fingerprint(self) -> str:
        """A digest of the training config and the metric: the search's storage keeps it, so a
        resume with an edited config (another model, optimizer, data...) is refused."""
        text = json.dumps({"config": self.config, "metric": self.metric}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def trial_config(self, params: dict, epochs: int | None = None, seed: int | None = None) -> dict:
        """The training config of one trial (a plain dict)."""
        config = substitute(self.config, params)
        config.update(checks=False, babysitter=False)
        if epochs is not None:
            config["epochs"] = int(epochs)
        if seed is not None:
            config["seed"] = int(seed)
        if self.runs_dir is None:
            config["callbacks"] = [spec for spec in config.get("callbacks", []) if _callback_type(spec)
                                   not in FILE_CALLBACKS]
        return config

    def __call__(self, trial) -> float:
        from babysit.config.build import build  # noqa: PLC0415 - keeps the module light to pickle and import
        from babysit.config.run import make_trainer  # noqa: PLC0415

        config = validate(self.trial_config(trial.params, trial.epochs, trial.seed))
        out_dir = None
        if self.runs_dir is not None:
            out_dir = Path(self.runs_dir) / f"stage{trial.stage}" / f"trial{trial.number:03d}"
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "config.yaml").write_text(dump_config(config))
        data = cached_data(config)
        setup = build(config.model_copy(update={"preprocessing": []}), out_dir=out_dir, data=data)
        setup.callbacks.extend(trial.callbacks(monitor=self.metric))
        trainer = make_trainer(setup, out_dir, verbose=False)
        with warnings.catch_warnings():
            # a diverged trial is the search's business (recorded as diverged), not a warning per trial
            warnings.simplefilter("ignore", UserWarning)
            history = trainer.fit(setup.data.train, setup.data.val, epochs=config.epochs)
        best = history.best(self.metric, self.mode)
        return float("nan") if best is None else float(best[self.metric])


def cached_data(config):
    """The config's data, loaded and preprocessed once per process (fitted on the training split only)."""
    from babysit.config.build import load_data, preprocess  # noqa: PLC0415

    key = json.dumps({"data": config.data.model_dump(mode="json"),
                      "preprocessing": [spec.model_dump(mode="json") for spec in config.preprocessing]},
                     sort_keys=True)
    with _DATA_LOCK:  # Dask runs trials in threads of one worker process too
        if key in _DATA_CACHE:
            _DATA_CACHE.move_to_end(key)
            return _DATA_CACHE[key]
    data, _ = preprocess(load_data(config.data), config)
    with _DATA_LOCK:
        _DATA_CACHE[key] = data
        while len(_DATA_CACHE) > _DATA_CACHE_SIZE:
            _DATA_CACHE.popitem(last=False)
    return data


def _callback_type(spec) -> str | None:
    return spec if isinstance(spec, str) else spec.get("type") if isinstance(spec, dict) else None


@dataclass
class ConfigSearchRun:
    """What :func:`run_config_search` returns: the search's result, its plan, and the files written."""

    result: object
    plan: SearchPlan
    files: dict = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self, top: int = 10) -> str:
        """The table's top rows, the notes, the time the early stops saved, and the best parameters."""
        result = self.result
        counts = ", ".join(f"{count} {status}" for status, count in result.status_counts().items())
        lines = [f"{len(result.trials)} trials ({counts}) in {result.seconds:.1f} s; ranked by {self.plan.metric}",
                 result.table(top=top)]
        if result.notes:
            lines += ["notes:", *(f"  - {note}" for note in result.notes)]
        lines.append(f"early stops (diverged, pruned) saved about {result.seconds_saved():.1f} s of training")
        try:
            best = result.best
            values = ", ".join(f"{name}={_short(value)}" for name, value in best.params.items())
            lines.append(f"best: stage {best.stage} trial {best.number}, {self.plan.metric} {best.score:.4f}: {values}")
        except ValueError as error:
            lines.append(f"no best trial: {error}")
        return "\n".join(lines)


def run_config_search(source, out_dir=None, *, storage=None, study_name: str | None = None, resume: bool = False,
                      n_jobs: int = 1, executor=None, verbose: bool = True, plots: bool = True) -> ConfigSearchRun:
    """Run the search a config's ``search:`` section describes.

    Parameters
    ----------
    source : str, Path or dict
        A YAML file (or a dict) holding a training config and a ``search:`` section.
    out_dir : str or Path, optional
        Where to write ``results.csv``, ``scores.png``, ``command_center.png``,
        ``stages.png`` (coarse to fine), ``best.yaml``, ``index.html`` (all of it on one page)
        and, with ``keep_runs``, ``trials/``.
    storage : None, path or database URL
        Where the trials are recorded (``None``: in memory; a path: SQLite).
    study_name : str, optional
        The study's name in the storage (default: the config file's name, or ``search``).
    resume : bool
        Continue the study of that name: finished trials are kept, interrupted ones re-run.
    n_jobs : int
        Trials in flight at once (worker processes, or tasks on ``executor``).
    executor : concurrent.futures.Executor, optional
        Runs the trials (``dask.distributed.Client(address).get_executor()`` for a cluster).
    verbose : bool
        The progress bar (on a terminal).
    plots : bool
        Draw the PNGs into ``out_dir``.

    Raises
    ------
    ConfigError
        The training config or the ``search:`` section is invalid (every problem listed).
    """
    started = time.perf_counter()
    data, name = _read(source)
    config, plan = split_config(data, None if isinstance(source, dict) else source)
    study_name = study_name or name
    out = None if out_dir is None else Path(out_dir)
    runs_dir = out / "trials" if out is not None and plan.keep_runs else None
    objective = ConfigObjective(config, plan.metric, runs_dir)
    result = _search(objective, plan, storage=storage, study_name=study_name, resume=resume, n_jobs=n_jobs,
                     executor=executor, verbose=verbose)
    run = ConfigSearchRun(result, plan)
    if out is not None:
        run.files = write_outputs(run, out, objective, plots=plots)
    run.seconds = time.perf_counter() - started
    return run


def _search(objective, plan: SearchPlan, **options):
    from babysit.search.pruning import SuccessiveHalving  # noqa: PLC0415 - the engine loads optuna

    pruner = None if plan.pruner is None else SuccessiveHalving(**plan.pruner)
    common = dict(seed=plan.seed, pruner=pruner, kill_factor=plan.kill_factor, direction=plan.direction, **options)
    if len(plan.stages) == 1:
        from babysit.search.strategies import grid_search, random_search  # noqa: PLC0415

        strategy = random_search if plan.strategy == "random" else grid_search
        (n_trials, epochs), = plan.stages
        return strategy(objective, plan.space, n_trials, epochs, **common)
    from babysit.search.coarse_to_fine import coarse_to_fine  # noqa: PLC0415

    return coarse_to_fine(objective, plan.space, stages=plan.stages, keep_top=plan.keep_top, strategy=plan.strategy,
                          **common)


def write_outputs(run: ConfigSearchRun, out: Path, objective: ConfigObjective, *, plots: bool = True) -> dict:
    """``results.csv``, ``best.yaml`` and the plots into ``out``; returns ``{name: path}``."""
    out.mkdir(parents=True, exist_ok=True)
    result, metric = run.result, run.plan.metric
    files = {"results": out / "results.csv"}
    result.to_csv(files["results"])
    try:
        best = result.best
    except ValueError:
        best = None
    if best is not None:
        # the winner as it was measured (its parameters, budget and seed), ready for a full babysat run
        winner = substitute(objective.config, best.params)
        winner.update(epochs=best.epochs, seed=best.seed)
        files["best"] = out / "best.yaml"
        header = (f"# best trial of the search: stage {best.stage}, trial {best.number}, {metric} {best.score:.4f} "
                  f"in {best.epochs} epochs.\n# babysit train {files['best']} re-trains it (same seed) with the "
                  "checks and the Babysitter, and scores it on the test set once.\n")
        write_text(files["best"], header + dump_config(validate(winner)))
    if plots and result.trials:
        from babysit.search.plots import plot_command_center, plot_scores  # noqa: PLC0415 - matplotlib
        from babysit.search.plots_stages import plot_stages  # noqa: PLC0415

        files["scores"] = plot_scores(result, out / "scores.png", metric=metric)
        files["command_center"] = plot_command_center(result, out / "command_center.png", metric=metric)
        if len(result.spaces) > 1:
            files["stages"] = plot_stages(result, out / "stages.png", metric=metric)
    from babysit.search.html_page import write_search_page  # noqa: PLC0415 - only when writing

    files["page"] = write_search_page(run, files, out / "index.html")
    return files


def _read(source) -> tuple[dict, str]:
    if isinstance(source, dict):
        return source, "search"
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist")
    try:
        return read_yaml(path.read_text(), path), path.stem
    except ConfigError:
        raise
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error}") from error


def _short(value) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.3g}"
    return str(value)
