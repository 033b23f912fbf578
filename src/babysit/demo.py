"""The README's main job: the published MNIST-1D MLP baseline, trained with babysit, babysat.

``babysit demo`` runs :func:`run_demo`: the pre-flight checks, training with a progress bar
and the epoch lines, the Babysitter's findings, the test accuracy, and a report. The run is
the config :func:`demo_config` returns, through the same path as ``babysit train``.
"""

from __future__ import annotations

import numpy as np

from babysit import nn


def mnist1d_mlp(rng=None, hidden: int = 100) -> nn.Sequential:
    """The MNIST-1D paper's MLP: 40 -> 100 -> 100 -> 10 with ReLU."""
    rng = np.random.default_rng(rng)
    return nn.Sequential(
        nn.Linear(40, hidden, rng=rng), nn.ReLU(),
        nn.Linear(hidden, hidden, rng=rng), nn.ReLU(),
        nn.Linear(hidden, 10, rng=rng),
    )


def demo_config(epochs: int = 60, seed: int = 0) -> dict:
    """The demo's config: :func:`mnist1d_mlp`'s network, Adam at 1e-2, batches of 100, as published.

    The whole 4000-example training set is used (no validation split), as in the paper,
    and the test set is looked at once, at the end.
    """
    return {
        "seed": seed,
        "data": {"name": "mnist1d"},
        "model": [{"type": "Linear", "out_features": 100}, "ReLU", {"type": "Linear", "out_features": 100}, "ReLU",
                  {"type": "Linear", "out_features": 10}],
        "optimizer": {"type": "adam", "lr": 1e-2},
        "epochs": epochs,
        "batch_size": 100,
    }


def run_demo(epochs: int = 60, seed: int = 0, verbose: bool = True, out_dir=None, checks: bool = True) -> dict:
    """Check, train and evaluate the demo run; returns its results.

    Parameters
    ----------
    epochs, seed : int
    verbose : bool
        Pre-flight report, progress bar, epoch lines and findings on stderr.
    out_dir : str or Path, optional
        Run directory (model, history, findings, report); an earlier run there is replaced.
    checks : bool
        Run the pre-flight checks first. The demo trains even if one fails, to show what follows.

    Returns
    -------
    dict
        ``test_accuracy``, ``test_loss``, ``history``, ``model``, ``preflight`` (Report or
        None), ``findings`` (the Babysitter's), ``report_path`` (or None), ``seconds``.
    """
    from babysit.config.run import train  # noqa: PLC0415 - the config package imports every part of babysit

    result = train(demo_config(epochs, seed), out_dir, overwrite=True, force=True, checks=checks, verbose=verbose)
    return {"test_accuracy": result.test["accuracy"], "test_loss": result.test["loss"], "history": result.history,
            "model": result.model, "preflight": result.preflight, "findings": result.findings,
            "report_path": result.report_path, "seconds": result.seconds}
