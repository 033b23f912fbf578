"""The ``babysit`` command."""

from __future__ import annotations

import time

import click

from babysit import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="babysit")
def main() -> None:
    """babysit: train neural networks from first principles, on NumPy, with a babysitter."""


@main.command()
@click.option("--epochs", default=60, show_default=True, help="Passes over the 4000 training examples.")
@click.option("--seed", default=0, show_default=True, help="Seed for init and shuffling (same seed, same result).")
@click.option("--quiet", is_flag=True, help="No progress bar or epoch lines.")
def demo(epochs: int, seed: int, quiet: bool) -> None:
    """Train the published MNIST-1D MLP (40-100-100-10, Adam) and report test accuracy."""
    from babysit.demo import run_demo  # noqa: PLC0415 - keep `babysit --help` fast

    started = time.perf_counter()
    result = run_demo(epochs=epochs, seed=seed, verbose=not quiet)
    click.echo(
        f"MNIST-1D test accuracy: {result['test_accuracy']:.3f} "
        f"(published MLP baseline 0.68, chance 0.10) in {time.perf_counter() - started:.1f} s"
    )
