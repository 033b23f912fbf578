"""The ``babysit`` command: demo, train, check, lr-find, search, ensemble, report, lab.

Progress (pre-flight findings, the progress bar, epoch lines, live findings) goes to
stderr; the results a script would read (test accuracy, the report's path, the check
report of ``babysit check``) go to stdout. Exit codes: 0 done, 1 a pre-flight check
failed, 2 a config or run-directory problem (with a message naming the key).
"""

from __future__ import annotations

from pathlib import Path

import click

from babysit import __version__

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class _BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="babysit")
def main() -> None:
    """babysit: train neural networks from first principles, on NumPy, with a babysitter."""


config_argument = click.argument("config_path", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))


@main.command(short_help="The MNIST-1D MLP: pre-flight checks, training, findings, test accuracy, report.")
@click.option("--epochs", default=60, show_default=True, help="Passes over the 4000 training examples.")
@click.option("--seed", default=0, show_default=True, help="Seed for init and shuffling (same seed, same result).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/demo"), show_default=True,
              help="Run directory (model, findings, report); an earlier demo there is replaced.")
@click.option("--no-checks", is_flag=True, help="Skip the pre-flight checks.")
@click.option("--quiet", is_flag=True, help="No progress bar, epoch lines or findings.")
def demo(epochs: int, seed: int, out: Path, no_checks: bool, quiet: bool) -> None:
    """Train the published MNIST-1D MLP (40-100-100-10, Adam), babysat: checks, findings, report."""
    from babysit.demo import run_demo  # noqa: PLC0415 - keep `babysit --help` fast

    result = _guarded(lambda: run_demo(epochs=epochs, seed=seed, verbose=not quiet, out_dir=out, checks=not no_checks))
    click.echo(f"MNIST-1D test accuracy: {result['test_accuracy']:.3f} "
               f"(published MLP baseline 0.68, chance 0.10) in {result['seconds']:.1f} s")
    if result.get("report_path") is not None:
        click.echo(f"report: {result['report_path']}")


@main.command(short_help="Check, train, evaluate and report the run a config describes.")
@config_argument
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory [default: runs/<config name>].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run in --out.")
@click.option("--force", is_flag=True, help="Train even if a pre-flight check fails.")
@click.option("--no-checks", is_flag=True, help="Skip the pre-flight checks.")
@click.option("--no-report", is_flag=True, help="Do not draw the report (`babysit report DIR` draws it later).")
@click.option("--quiet", is_flag=True, help="No progress bar, epoch lines or findings.")
def train(config_path: Path, out: Path | None, resume: bool, overwrite: bool, force: bool, no_checks: bool,
          no_report: bool, quiet: bool) -> None:
    """Train the run CONFIG.yaml describes: pre-flight checks, training, findings, test accuracy, report."""
    from babysit.config.run import train as train_run  # noqa: PLC0415

    config, text = _load(config_path)
    out = out if out is not None else Path("runs") / config_path.stem
    result = _guarded(lambda: train_run(config, out, resume=resume, overwrite=overwrite, force=force,
                                        checks=not no_checks, report=not no_report, verbose=not quiet,
                                        config_text=text))
    if result.test.get("accuracy") is not None:
        click.echo(f"test accuracy: {result.test['accuracy']:.4f}  (test loss {result.test['loss']:.4f}, "
                   f"{len(result.history.epochs)} epochs, {result.seconds:.1f} s)")
    elif result.test:
        click.echo(f"test loss: {result.test['loss']:.4f}  ({result.seconds:.1f} s)")
    else:
        click.echo(f"no test score: {result.stop_reason}")
    click.echo(f"run directory: {out}")
    if result.report_path is not None:
        click.echo(f"report: {result.report_path}")


@main.command(short_help="Pre-flight checks of a config's model (exit code 1 if one fails).")
@config_argument
def check(config_path: Path) -> None:
    """Run the pre-flight checks on the model CONFIG.yaml builds; exit code 1 if one fails."""
    from babysit.config.build import build  # noqa: PLC0415
    from babysit.config.run import run_checks  # noqa: PLC0415

    config, _ = _load(config_path)
    report = _guarded(lambda: run_checks(build(config)))
    click.echo(str(report))
    if not report.passed:
        raise SystemExit(EXIT_CHECK_FAILED)


@main.command("lr-find", short_help="Learning-rate range test with a config's model, optimizer and data.")
@config_argument
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write lr_find.json here (`babysit report DIR` plots it).")
@click.option("--start-lr", default=1e-7, show_default=True, type=float)
@click.option("--end-lr", default=10.0, show_default=True, type=float)
@click.option("--steps", default=200, show_default=True, type=int, help="Rates tried, geometrically spaced.")
def lr_find(config_path: Path, out: Path | None, start_lr: float, end_lr: float, steps: int) -> None:
    """The learning-rate range test with CONFIG.yaml's model, optimizer and batch size."""
    from babysit.atomic import write_json  # noqa: PLC0415
    from babysit.config.build import build  # noqa: PLC0415
    from babysit.config.run import run_lr_find  # noqa: PLC0415

    config, _ = _load(config_path)
    setup = _guarded(lambda: build(config))
    result = _guarded(lambda: run_lr_find(setup, start_lr=start_lr, end_lr=end_lr, steps=steps))
    click.echo(_describe_range(result, config.optimizer.type, setup.planned_lr))
    if out is not None:
        write_json(out / "lr_find.json", result.to_dict())
        click.echo(f"wrote {out / 'lr_find.json'}")


@main.command(short_help="Evaluate several runs' models and their ensemble on the test set.")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--method", type=click.Choice(["mean", "vote"]), default="mean", show_default=True,
              help="Average the predicted probabilities, or take the majority vote.")
@click.option("--save", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also save the ensemble here (babysit.evaluation.load_ensemble reads it).")
def ensemble(run_dirs: tuple[Path, ...], method: str, save: Path | None) -> None:
    """Test accuracy of each RUN_DIR's model.npz and of their ensemble, side by side.

    The test data and its preprocessing come from the first run's config.yaml; every run
    must have been trained on the same data (the `data` and `preprocessing` sections agree).
    """
    import babysit  # noqa: PLC0415
    from babysit.config.build import build  # noqa: PLC0415
    from babysit.evaluation import Ensemble, format_table  # noqa: PLC0415

    configs = [_load(run_dir / "config.yaml")[0] for run_dir in run_dirs]
    for run_dir, config in zip(run_dirs[1:], configs[1:], strict=True):
        if (config.data, config.preprocessing) != (configs[0].data, configs[0].preprocessing):
            raise _BadInput(f"{run_dir}: trained on other data or preprocessing than {run_dirs[0]}; "
                            "an ensemble's members must share their test set")
    setup = _guarded(lambda: build(configs[0]))
    models = [_guarded(lambda run_dir=run_dir: babysit.load(run_dir / "model.npz")) for run_dir in run_dirs]
    members = Ensemble(models, method=method)
    rows = members.evaluate(*setup.data.test)
    for row, run_dir in zip(rows, run_dirs, strict=False):
        row["model"] = str(run_dir)
    click.echo(format_table(rows))
    if save is not None:
        members.save(save)
        click.echo(f"saved the ensemble in {save}")


@main.command(short_help="Draw a run directory's plots and report/index.html.")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def report(run_dir: Path) -> None:
    """Draw RUN_DIR's plots and write RUN_DIR/report/index.html."""
    from babysit.report import ReportError, make_report  # noqa: PLC0415

    try:
        click.echo(str(make_report(run_dir)))
    except ReportError as error:
        raise _BadInput(str(error)) from error


@main.command(short_help="Hyperparameter search over a config's search: ranges (random/grid, coarse to fine).")
@config_argument
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results: results.csv, plots, best.yaml, search.db [default: runs/<config name>].")
@click.option("--storage", default=None, help="Database URL or SQLite file for the trials [default: OUT/search.db].")
@click.option("--jobs", type=int, default=None, help="Trials in parallel [default: 1; with --scheduler: the cluster's "
              "threads].")
@click.option("--resume", is_flag=True, help="Continue the search stored there: finished trials are kept.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Run the trials on a Dask cluster "
              "(e.g. tcp://10.0.0.1:8786).")
@click.option("--top", default=10, show_default=True, help="Rows of the results table to print.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def search(config_path: Path, out: Path | None, storage: str | None, jobs: int | None, resume: bool,
           scheduler: str | None, top: int, quiet: bool) -> None:
    """Search the hyperparameters CONFIG.yaml's search: section names; print the best trials.

    Writes OUT/results.csv, OUT/scores.png, OUT/command_center.png (OUT/stages.png for a
    coarse-to-fine search) and OUT/best.yaml (the best trial, for `babysit train`). A search
    killed at any point continues with --resume. See docs/search.md.
    """
    from babysit.search.cli_search import run_search_command  # noqa: PLC0415 - optuna loads only for a search

    out = out if out is not None else Path("runs") / config_path.stem
    run = _guarded(lambda: run_search_command(config_path, out, storage=storage, jobs=jobs, resume=resume,
                                              scheduler=scheduler, verbose=not quiet))
    click.echo(run.summary(top=top))
    for name, path in run.files.items():
        click.echo(f"{name}: {path}")
    click.echo(f"search done in {run.seconds:.1f} s")


def _lab_help() -> str:
    from babysit.labs.registry import DESCRIPTIONS  # noqa: PLC0415 - the registry imports no lab

    width = max(map(len, DESCRIPTIONS))
    names = "\n".join(f"  {name:<{width}}  {text}" for name, text in DESCRIPTIONS.items())
    return ("Reproduce one lecture experiment: write its PNG plots and summary.md into --out.\n\n"
            f"\b\nNAME is one of:\n{names}\n  {'all':<{width}}  every lab in turn, each into --out/NAME "
            "[default: runs/labs]")


@main.command(short_help="Reproduce a lecture experiment (plots + summary.md).", help=_lab_help())
@click.argument("name", metavar="NAME")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the plots and summary.md [default: runs/labs/NAME].")
@click.option("--quick", is_flag=True, help="A smaller version (seconds) that still shows the lecture's result.")
def lab(name: str, out: Path | None, quick: bool) -> None:
    """Run the lab NAME."""
    from babysit.labs.registry import LABS, run, run_all  # noqa: PLC0415

    if name == "all":
        out = out if out is not None else Path("runs") / "labs"

        def done(lab_name, result):
            click.echo(f"lab {lab_name}: {len(result['plots'])} plots in {out / lab_name} ({result['seconds']:.1f} s)")

        run_all(out, quick=quick, on_done=done)
        click.echo(f"index: {out / 'index.md'}")
        return
    if name not in LABS:
        raise _BadInput(f"unknown lab {name!r}; available: {', '.join(LABS)}")
    out = out if out is not None else Path("runs") / "labs" / name
    result = run(name, out, quick=quick)
    click.echo(f"lab {name}: {len(result['plots'])} plots in {out} ({result['seconds']:.1f} s)")
    click.echo(f"summary: {result['summary_path']}")


def _load(config_path: Path):
    """The validated config and its text (copied into the run directory)."""
    from babysit.config import load_config  # noqa: PLC0415

    config = _guarded(lambda: load_config(config_path))
    return config, config_path.read_text()


def _guarded(action):
    """Run ``action``; a config, run-directory or check failure becomes a clean message and exit code."""
    from babysit.config.loading import ConfigError  # noqa: PLC0415
    from babysit.config.run import PreflightFailed  # noqa: PLC0415
    from babysit.config.rundir import RunDirError  # noqa: PLC0415
    from babysit.errors import CheckpointError  # noqa: PLC0415

    try:
        return action()
    except (ConfigError, RunDirError, FileNotFoundError, FileExistsError, CheckpointError) as error:
        raise _BadInput(str(error)) from error
    except PreflightFailed as error:
        click.echo(str(error), err=True)
        raise SystemExit(EXIT_CHECK_FAILED) from error


def _describe_range(result, optimizer: str, planned: float) -> str:
    if result.usable_range is None:
        return (f"{optimizer}: the loss never fell clearly between {result.lrs[0]:.1e} and {result.lrs[-1]:.1e}"
                if result.lrs else f"{optimizer}: the loss blew up at once")
    low, high = result.usable_range
    lines = [f"{optimizer}: the loss falls from lr {low:.1e}, is lowest at {high:.1e}"
             + (f", blows up from {result.diverges_at:.1e}" if result.diverges_at else ""),
             f"usable range: {low:.1e} .. {high:.1e}; suggested lr {result.suggested_lr:.1e} "
             f"(this config: {planned:.1e})"]
    return "\n".join(lines)

