"""The labs by name: ``run(name, out_dir, quick)`` reproduces one lecture experiment.

Each lab is a function ``lab(out_dir, quick) -> (results, summary)``: it writes its PNG
plots into ``out_dir`` and returns its measured numbers (a dict) and a short markdown
page saying what the plots show. :func:`run` adds the list of plots, writes
``out_dir/summary.md`` and returns the results.

>>> results = run("init", "runs/labs/init", quick=True)     # doctest: +SKIP
>>> results["layer_std"]["0.01 + tanh"][-1] < 1e-3 * results["layer_std"]["0.01 + tanh"][0]   # doctest: +SKIP
True
"""

from __future__ import annotations

import time
from pathlib import Path


def _init(out_dir, quick):
    from babysit.labs.init_lab import run_init_lab  # noqa: PLC0415 - each lab loads only when it runs

    return run_init_lab(out_dir, quick)


def _babysitting(out_dir, quick):
    from babysit.labs.babysitting_lab import run_babysitting_lab  # noqa: PLC0415

    return run_babysitting_lab(out_dir, quick)


def _schedules(out_dir, quick):
    from babysit.labs.schedules_lab import run_schedules_lab  # noqa: PLC0415

    return run_schedules_lab(out_dir, quick)


def _optimizers(out_dir, quick):
    from babysit.labs.optimizers_lab import run_optimizers_lab  # noqa: PLC0415

    return run_optimizers_lab(out_dir, quick)


def _activations(out_dir, quick):
    from babysit.labs.activations_lab import run_activations_lab  # noqa: PLC0415

    return run_activations_lab(out_dir, quick)


def _preprocessing(out_dir, quick):
    from babysit.labs.preprocessing_lab import run_preprocessing_lab  # noqa: PLC0415

    return run_preprocessing_lab(out_dir, quick)


def _ensembles(out_dir, quick):
    from babysit.labs.ensembles_lab import run_ensembles_lab  # noqa: PLC0415

    return run_ensembles_lab(out_dir, quick)


def _transfer(out_dir, quick):
    from babysit.labs.transfer_lab import run_transfer_lab  # noqa: PLC0415

    return run_transfer_lab(out_dir, quick)


def _distillation(out_dir, quick):
    from babysit.labs.distillation_lab import run_distillation_lab  # noqa: PLC0415

    return run_distillation_lab(out_dir, quick)


def _search(out_dir, quick):
    from babysit.labs.search_lab import run_search_lab  # noqa: PLC0415

    return run_search_lab(out_dir, quick)


#: Every lab by name, with the one-line description ``babysit lab --help`` lists.
LABS = {
    "activations": _activations,
    "preprocessing": _preprocessing,
    "init": _init,
    "search": _search,
    "babysitting": _babysitting,
    "schedules": _schedules,
    "optimizers": _optimizers,
    "ensembles": _ensembles,
    "transfer": _transfer,
    "distillation": _distillation,
}

DESCRIPTIONS = {
    "search": "random vs grid search with one budget; coarse-to-fine in log space with early kill",
    "activations": "sigmoid to maxout on MNIST-1D: curves, vanishing gradients, the zig-zag of positive inputs",
    "preprocessing": "raw vs centered vs standardized vs PCA-whitened inputs: convergence and the data cloud",
    "init": "10-layer tanh/ReLU net: activations for init 0.01, 1.0, Xavier, He",
    "babysitting": "the lecture's sanity checks and learning-rate search on a 2-layer net",
    "schedules": "every learning-rate schedule, and its effect on one training run",
    "optimizers": "every optimizer on 2-D loss surfaces and on MNIST-1D",
    "ensembles": "independent CNNs vs their ensemble; snapshot ensembles, EMA and SWA from one run",
    "transfer": "pretrain on digits 0-4, then scratch vs frozen body vs fine-tuning on few 5-9s",
    "distillation": "a CNN-ensemble teacher's softened outputs vs labels alone for small MLP students",
}


def run(name: str, out_dir, quick: bool = False) -> dict:
    """Run lab ``name``, writing its PNGs and ``summary.md`` into ``out_dir``.

    Parameters
    ----------
    name : str
        One of :data:`LABS`.
    out_dir : str or Path
        Created if missing; files of the same names are replaced.
    quick : bool
        A smaller version (seconds) that still shows the lecture's result.

    Returns
    -------
    dict
        The lab's measured numbers, plus ``"plots"`` (paths of the PNGs), ``"summary_path"``
        and ``"seconds"``.
    """
    if name not in LABS:
        raise ValueError(f"unknown lab {name!r}; expected one of {sorted(LABS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results, summary = LABS[name](out_dir, bool(quick))
    seconds = time.perf_counter() - started
    plots = sorted(out_dir.glob("*.png"))
    images = "\n".join(f"![{path.stem}]({path.name})" for path in plots)
    mode = "quick" if quick else "full"
    page = (f"# Lab: {name}\n\n{summary.strip()}\n\n## Plots\n\n{images}\n\n"
            f"_{mode} run, {seconds:.1f} s. See docs/labs/{name}.md for the lecture's point._\n")
    summary_path = out_dir / "summary.md"
    summary_path.write_text(page, encoding="utf-8")
    return {**results, "plots": [str(path) for path in plots], "summary_path": str(summary_path), "seconds": seconds}
