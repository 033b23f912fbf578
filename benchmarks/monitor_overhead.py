"""What the Babysitter's live monitors cost: MNIST-1D MLP training with and without them.

The paper's MLP (40-100-100-10, ReLU, babysit.demo.mnist1d_mlp) is trained with Adam
(lr 1e-2), batch 100, for a few epochs on MNIST-1D's 4000 training signals with the test
set as validation, once plainly and once with ``Babysitter()`` at its default sampling
(every 10 steps) or ``--every``. The two runs take turns within every round and swap
order each round, so a change in machine load hits both alike; the first rounds are
warm-up. Reported: median seconds per run, the overhead of the medians, and the median of
the per-round overheads (the number quoted). The target is under 10% of training time.

Run: ``python benchmarks/monitor_overhead.py [--rounds 15] [--epochs 5] [--every 10] [--threads 1]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from babysit import nn, optim
from babysit.data import mnist1d
from babysit.demo import mnist1d_mlp
from babysit.diagnostics.monitors import Babysitter
from babysit.train import Trainer

WARMUP = 2


def train_once(data, epochs: int, every: int | None) -> tuple[float, int]:
    """Seconds for one ``fit`` (the same seed every time), and the number of steps."""
    model = mnist1d_mlp(0)
    callbacks = [] if every is None else [Babysitter(every)]
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=1e-2), batch_size=100,
                      callbacks=callbacks, rng=0, verbose=False)
    start = time.perf_counter()
    trainer.fit((data.x_train, data.y_train), val=(data.x_test, data.y_test), epochs=epochs)
    return time.perf_counter() - start, trainer.step


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--every", type=int, default=10, help="the Babysitter's sampling period")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl)")
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - optional (bench extra)

        threadpool_limits(args.threads)
    except ImportError:
        print("threadpoolctl not installed: BLAS uses its default number of threads")
    data = mnist1d()
    plain, watched, overheads = [], [], []
    steps = 0
    for round_ in range(args.rounds + WARMUP):
        order = (None, args.every) if round_ % 2 == 0 else (args.every, None)
        seconds = {}
        for every in order:
            seconds[every], steps = train_once(data, args.epochs, every)
        if round_ >= WARMUP:
            plain.append(seconds[None])
            watched.append(seconds[args.every])
            overheads.append(seconds[args.every] / seconds[None] - 1)
    result = {
        "epochs": args.epochs, "steps": steps, "every": args.every, "rounds": args.rounds, "threads": args.threads,
        "plain_median_s": statistics.median(plain), "babysitter_median_s": statistics.median(watched),
        "overhead_of_medians": statistics.median(watched) / statistics.median(plain) - 1,
        "median_round_overhead": statistics.median(overheads),
        "round_overhead_quartiles": [float(q) for q in np.percentile(overheads, [25, 75])],
    }
    print(f"MNIST-1D MLP, Adam, batch 100, {args.epochs} epochs ({steps} steps), {args.rounds} rounds, "
          f"{args.threads} BLAS thread(s)")
    print(f"  plain      median {result['plain_median_s'] * 1e3:8.1f} ms")
    print(f"  Babysitter median {result['babysitter_median_s'] * 1e3:8.1f} ms  (every {args.every} steps)")
    low, high = result["round_overhead_quartiles"]
    print(f"  overhead: {result['median_round_overhead']:+.1%} median of rounds (quartiles {low:+.1%}, {high:+.1%}); "
          f"{result['overhead_of_medians']:+.1%} of the medians; target < 10%")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
