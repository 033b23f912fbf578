"""What ``babysit train``, ``babysit check`` and ``babysit lr-find`` do, as functions.

``train`` is the whole job: build the run from its config, run the pre-flight checks
(and stop if one fails), train with the Babysitter watching, evaluate on the test set
once, and leave a run directory with the model, the findings and the report.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from babysit.atomic import write_json
from babysit.config.build import Setup, build, optimizer_factory
from babysit.config.loading import ConfigError, dump_config, load_config
from babysit.config.model import shapes
from babysit.config.rundir import RunDirError, check_resumable, clear_run, earlier_run
from babysit.data import save_preprocessor
from babysit.diagnostics.findings import Report
from babysit.diagnostics.lr_finder import LRFinderResult, find_lr
from babysit.diagnostics.monitor_base import jsonable
from babysit.diagnostics.preflight import check
from babysit.errors import BabysitError
from babysit.train import Callback, Trainer


class PreflightFailed(BabysitError):
    """A pre-flight check failed, so training did not start. ``report`` holds the findings."""

    def __init__(self, report: Report):
        self.report = report
        names = ", ".join(finding.name for finding in report.failed)
        super().__init__(f"pre-flight check failed ({names}): fix it, or train anyway with --force")


@dataclass
class RunResult:
    """What :func:`train` returns.

    Attributes
    ----------
    test : dict
        ``{"loss": ..., "accuracy": ...}`` on the test set, evaluated once at the end
        (empty when training diverged before any good step).
    preflight : Report or None
        The pre-flight findings (``None`` when the checks were skipped or the run resumed).
    findings : list of Finding
        The Babysitter's findings after training (empty when it was off).
    out_dir, report_path : Path or None
    seconds : float
        Wall time of the whole run: build, checks, training, evaluation, report.
    """

    model: object
    history: object
    test: dict
    preflight: Report | None = None
    findings: list = field(default_factory=list)
    out_dir: Path | None = None
    report_path: Path | None = None
    stop_reason: str | None = None
    seconds: float = 0.0


def run_checks(setup: Setup, *, verbose: bool = False) -> Report:
    """The config's pre-flight checks (its ``checks`` list) on the built model and the training data."""
    x, y = setup.data.train
    return check(setup.model, setup.loss, x, y, penalties=setup.penalties, optimizer=optimizer_factory(setup.config),
                 lr=setup.planned_lr, checks=setup.config.checks, rng=setup.check_rng, verbose=verbose)


def run_lr_find(setup: Setup, *, start_lr: float = 1e-7, end_lr: float = 10.0, steps: int = 200) -> LRFinderResult:
    """The learning-rate range test with the configured optimizer, batch size and training data."""
    x, y = setup.data.train
    return find_lr(setup.model, setup.loss, x, y, optimizer=optimizer_factory(setup.config), start_lr=start_lr,
                   end_lr=end_lr, steps=steps, batch_size=setup.config.batch_size, rng=setup.check_rng)


def train(config, out_dir=None, *, resume: bool = False, overwrite: bool = False, force: bool = False,
          checks: bool = True, report: bool = True, verbose: bool = True, config_text: str | None = None) -> RunResult:
    """Build, check, train, evaluate and report one run.

    Parameters
    ----------
    config : Config, dict, or path to a YAML file
    out_dir : str or Path, optional
        The run directory (see docs/cli.md for its files). Without it nothing is written.
    resume : bool
        Continue the run in ``out_dir`` from its last checkpoint. The config must be the
        one the run was started with (``epochs`` may grow, to train longer).
    overwrite : bool
        Replace an earlier run in ``out_dir`` (only babysit's own files are removed).
    force : bool
        Train even when a pre-flight check fails.
    checks : bool
        Run the config's pre-flight checks first (skipped when resuming: their findings
        are already in the run directory).
    report : bool
        Draw ``out_dir/report/`` at the end (``babysit report`` can do it later).
    config_text : str, optional
        The config file's text, copied verbatim to ``out_dir/config.yaml``.

    Raises
    ------
    ConfigError, PreflightFailed, RunDirError
    """
    started = time.perf_counter()
    config = load_config(config)
    out = None if out_dir is None else Path(out_dir)
    if out is None:
        _check_no_files_needed(config, resume)
    else:
        resume = resume and _resumable(out, config)
        _prepare_out_dir(out, config, config_text, resume, overwrite)
    setup = build(config, out_dir=out)
    _say(verbose, describe_model(setup))
    preflight = None
    if checks and config.checks and not resume:
        preflight = _preflight(setup, out, verbose, force)
    trainer = make_trainer(setup, out, verbose)
    history = trainer.fit(setup.data.train, setup.data.val, epochs=config.epochs, resume=resume)
    if trainer.stop_reason:
        _say(verbose, f"stopped early: {trainer.stop_reason}")
    test = _evaluate(trainer, setup)
    result = RunResult(setup.model, history, test, preflight, list(getattr(setup.babysitter, "findings", [])), out,
                       stop_reason=trainer.stop_reason)
    result.seconds = time.perf_counter() - started
    if out is not None:
        _write_outputs(out, setup, result, trainer)
        if report:
            result.report_path = _report(out)
    result.seconds = time.perf_counter() - started
    return result


def make_trainer(setup: Setup, out_dir=None, verbose: bool = True) -> Trainer:
    """The :class:`~babysit.train.Trainer` of a built run (the Babysitter speaking when ``verbose``)."""
    callbacks = list(setup.callbacks)
    if setup.babysitter is not None:
        setup.babysitter.verbose = verbose
        if verbose:  # a heading for the findings the Babysitter prints at the end, after the epoch lines
            callbacks.insert(callbacks.index(setup.babysitter), _Heading("findings after training:"))
    config = setup.config
    return Trainer(setup.model, setup.loss, setup.optimizer, schedule=setup.schedule, schedule_per=setup.schedule_per,
                   penalties=setup.penalties, transform=setup.transform, callbacks=callbacks,
                   batch_size=config.batch_size, rng=setup.trainer_rng,
                   out_dir=out_dir, checkpoint_every=config.checkpoint_every, verbose=verbose)


class _Heading(Callback):
    """Prints a line at the end of training (placed just before the Babysitter, which prints its findings)."""

    def __init__(self, text: str):
        self.text = text

    def on_train_end(self, trainer, logs):
        print(self.text, file=sys.stderr, flush=True)


def _resumable(out: Path, config) -> bool:
    """Whether there is a run to resume in ``out`` (if not, this is a fresh run, checks included)."""
    if earlier_run(out) is not None:
        return True
    warnings.warn(f"nothing to resume in {out} (no checkpoint there): starting a new run", UserWarning, stacklevel=3)
    return False


def _check_no_files_needed(config, resume: bool) -> None:
    if resume:
        raise RunDirError("resuming needs the run directory (out_dir, --out) that holds the run")
    for index, spec in enumerate(config.callbacks):
        if spec.type == "ModelCheckpoint" and spec.args.get("directory") is None:
            raise ConfigError(f"callbacks[{index}] (ModelCheckpoint) writes into the run directory: give an out_dir "
                              "(--out), or the callback a directory")


def describe_model(setup: Setup) -> str:
    """One line per layer with its output shape, and the parameter count."""
    sample = setup.data.x_train[:2]
    lines = [f"data: {setup.data!r}"]
    for index, (layer, shape) in enumerate(zip(setup.model, shapes(setup.model, sample), strict=True)):
        lines.append(f"  model[{index}] {layer.short_repr():<32} -> (N, {', '.join(map(str, shape))})")
    lines.append(f"  {setup.model.num_parameters():,} parameters")
    return "\n".join(lines)


def _preflight(setup: Setup, out: Path | None, verbose: bool, force: bool) -> Report:
    _say(verbose, "pre-flight checks:")
    report = run_checks(setup)
    _say(verbose, str(report))
    if out is not None:
        write_json(out / "findings.json", {"findings": [jsonable(f.to_dict()) for f in report.findings]})
        if "learning_rate" in report:
            write_json(out / "lr_find.json", jsonable(report["learning_rate"].data))
    if not report.passed and not force:
        raise PreflightFailed(report)
    return report


def _evaluate(trainer: Trainer, setup: Setup) -> dict:
    try:
        metrics = trainer.evaluate(*setup.data.test)
    except FloatingPointError:  # a diverged model: no test score to give
        return {}
    return {key: float(value) for key, value in metrics.items()}


def _write_outputs(out: Path, setup: Setup, result: RunResult, trainer: Trainer) -> None:
    for index, step in enumerate(setup.preprocessors):
        save_preprocessor(out / "preprocessing" / f"{index}_{setup.config.preprocessing[index].type}.npz", step)
    write_json(out / "results.json", jsonable({
        "test_loss": result.test.get("loss"), "test_accuracy": result.test.get("accuracy"),
        "epochs": trainer.epoch, "steps": trainer.step, "stop_reason": trainer.stop_reason,
        "seconds": result.seconds}))


def _report(out: Path) -> Path:
    from babysit.report import make_report  # noqa: PLC0415 - matplotlib is loaded only when a report is drawn

    return make_report(out)


def _prepare_out_dir(out: Path, config, config_text: str | None, resume: bool, overwrite: bool) -> None:
    if resume:
        check_resumable(out, config)
    else:
        found = earlier_run(out)
        if found and not overwrite:
            raise RunDirError(f"{out} holds an earlier run ({found}); pass --resume to continue it, --overwrite "
                              "to replace it, or choose another --out")
        if found:
            clear_run(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(config_text if config_text is not None else dump_config(config))


def _say(verbose: bool, message: str) -> None:
    if verbose:
        print(message, file=sys.stderr, flush=True)

