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

import importlib
import time
from pathlib import Path

#: Every lab by name, in the lectures' order: the module and function that run it, and the
#: one-line description ``babysit lab --help`` lists. A lab's module loads only when it runs.
_LABS = {
    "init": ("babysit.labs.init_lab", "run_init_lab",
            "10-layer tanh/ReLU net: activations for init 0.01, 1.0, Xavier, He"),
    "activations": ("babysit.labs.activations_lab", "run_activations_lab",
            "sigmoid to maxout on MNIST-1D: curves, vanishing gradients, the zig-zag of positive inputs"),
    "preprocessing": ("babysit.labs.preprocessing_lab", "run_preprocessing_lab",
            "raw vs centered vs standardized vs PCA-whitened inputs: convergence and the data cloud"),
    "batchnorm": ("babysit.labs.batchnorm_lab", "run_batchnorm_lab",
            "10-layer net with and without BatchNorm over learning rates and init scales"),
    "babysitting": ("babysit.labs.babysitting_lab", "run_babysitting_lab",
            "the lecture's sanity checks and learning-rate search on a 2-layer net"),
    "optimizers": ("babysit.labs.optimizers_lab", "run_optimizers_lab",
            "every optimizer on 2-D loss surfaces and on MNIST-1D"),
    "schedules": ("babysit.labs.schedules_lab", "run_schedules_lab",
            "every learning-rate schedule, and its effect on one training run"),
    "search": ("babysit.labs.search_lab", "run_search_lab",
            "random vs grid search with one budget; coarse-to-fine in log space with early kill"),
    "regularization": ("babysit.labs.regularization_lab", "run_regularization_lab",
            "none vs L2 vs dropout vs augmentation vs early stopping: the train/val gap"),
    "ensembles": ("babysit.labs.ensembles_lab", "run_ensembles_lab",
            "independent CNNs vs their ensemble; snapshot ensembles, EMA and SWA from one run"),
    "transfer": ("babysit.labs.transfer_lab", "run_transfer_lab",
            "pretrain on digits 0-4, then scratch vs frozen body vs fine-tuning on few 5-9s"),
    "distillation": ("babysit.labs.distillation_lab", "run_distillation_lab",
            "a CNN-ensemble teacher's softened outputs vs labels alone for small MLP students"),
}

LABS = {name: f"{module}:{function}" for name, (module, function, _) in _LABS.items()}
DESCRIPTIONS = {name: description for name, (_, _, description) in _LABS.items()}


def lab_function(name: str):
    """The function ``(out_dir, quick) -> (results, summary)`` of lab ``name``."""
    module, function, _ = _LABS[name]
    return getattr(importlib.import_module(module), function)

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
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - loaded with the labs only

    started = time.perf_counter()
    # The labs' networks multiply small matrices: a second BLAS thread gains little there and,
    # on a busy machine, loses several times over to threads waiting for each other.
    with threadpool_limits(limits=1):
        results, summary = lab_function(name)(out_dir, bool(quick))
    seconds = time.perf_counter() - started
    plots = sorted(out_dir.glob("*.png"))
    images = "\n".join(f"![{path.stem}]({path.name})" for path in plots)
    mode = "quick" if quick else "full"
    page = (f"# Lab: {name}\n\n{summary.strip()}\n\n## Plots\n\n{images}\n\n"
            f"_{mode} run, {seconds:.1f} s. See docs/labs/{name}.md for the lecture's point._\n")
    summary_path = out_dir / "summary.md"
    summary_path.write_text(page, encoding="utf-8")
    return {**results, "plots": [str(path) for path in plots], "summary_path": str(summary_path), "seconds": seconds}


def run_all(out_dir, quick: bool = False, names=None, on_done=None) -> dict:
    """Run every lab (or ``names``, in the lectures' order) into ``out_dir/NAME``, and write
    ``out_dir/index.md`` linking each lab's summary with its time.

    ``on_done(name, result)`` is called after each lab (progress). Returns ``{name: result}``.
    """
    names = list(LABS) if names is None else list(names)
    unknown = sorted(set(names) - set(LABS))
    if unknown:
        raise ValueError(f"unknown labs {unknown}; expected names from {list(LABS)}")
    out_dir = Path(out_dir)
    results = {}
    for name in [lab for lab in LABS if lab in names]:
        results[name] = run(name, out_dir / name, quick=quick)
        if on_done is not None:
            on_done(name, results[name])
    rows = "\n".join(f"| [{name}]({name}/summary.md) | {DESCRIPTIONS[name]} | {len(result['plots'])} | "
                      f"{result['seconds']:.1f} s |" for name, result in results.items())
    mode = "quick runs (`--quick`)" if quick else "default runs"
    (out_dir / "index.md").write_text(f"# The labs ({mode})\n\n| lab | what it shows | plots | time |\n"
                                      f"|---|---|---:|---:|\n{rows}\n", encoding="utf-8")
    return results
