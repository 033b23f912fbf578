"""The lecture's MNIST-1D search (examples/search_mnist1d.yaml) with and without early stops.

Runs the same coarse-to-fine search three times with the same workers: with neither the
early kill nor the pruner, with the kill only (cost > 3x its first value, or NaN), and with
both (the default: kill + successive halving). Prints each one's wall time, its statuses,
its best validation accuracy and the top rows of the default run's table. Run it on a quiet
machine:

    python benchmarks/search_early_stop.py [--jobs 2] [--config examples/search_mnist1d.yaml]
"""

from __future__ import annotations

import argparse
import copy
import os
import time
import warnings

import yaml

from babysit.search.config_search import run_config_search

VARIANTS = {
    "neither": {"kill_factor": None, "pruner": False},
    "kill only": {"kill_factor": 3.0, "pruner": False},
    "kill + halving (default)": {"kill_factor": 3.0, "pruner": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "examples",
                                                        "search_mnist1d.yaml"))
    parser.add_argument("--only", choices=list(VARIANTS), help="run one variant only")
    args = parser.parse_args()
    with open(args.config, encoding="utf-8") as stream:
        base = yaml.safe_load(stream)
    warnings.simplefilter("ignore")
    print(f"{os.path.basename(args.config)}, {args.jobs} worker processes, {os.cpu_count()} cores")
    for name, overrides in VARIANTS.items():
        if args.only and name != args.only:
            continue
        config = copy.deepcopy(base)
        config["search"].update(overrides)
        started = time.perf_counter()
        run = run_config_search(config, n_jobs=args.jobs, verbose=False, plots=False)
        wall = time.perf_counter() - started
        result = run.result
        print(f"\n{name}: {wall:.1f} s wall; {result.status_counts()}; best val accuracy {result.best.score:.4f}; "
              f"trial time saved by early stops {result.seconds_saved():.1f} s", flush=True)
        if overrides["pruner"]:
            print(result.table(top=5, stage=len(result.spaces)))
            for note in result.notes:
                print("note:", note)


if __name__ == "__main__":
    main()
