"""What the Babysitter's live monitors cost: MNIST-1D MLP training with and without them.

The paper's MLP (40-100-100-10, ReLU, babysit.demo.mnist1d_mlp) is trained with Adam
(lr 1e-2), batch 100, for a few epochs on MNIST-1D's 4000 training signals with the test
set as validation, once plainly and once with ``Babysitter()`` at its default sampling
(one step in 20) or ``--every``. The two runs take turns within every round and swap
order each round, so a change in machine load hits both alike; the first rounds are
warm-up. Reported: median seconds per run, wall-clock and CPU time of this process (the
latter barely moves when other programs share the machine), the overhead of the medians,
and the median of the per-round overheads. The target is under 10% of training time.

Run: ``python benchmarks/monitor_overhead.py [--rounds 21] [--epochs 5] [--every K] [--threads 1]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

WARMUP = 2


def train_once(data, epochs: int, every: int | None) -> tuple[float, float, int]:
    """Wall and CPU seconds for one ``fit`` (the same seed every time), and the number of steps."""
    from babysit import nn, optim  # noqa: PLC0415 - after the thread settings (see main)
    from babysit.demo import mnist1d_mlp  # noqa: PLC0415
    from babysit.diagnostics.monitors import Babysitter  # noqa: PLC0415
    from babysit.train import Trainer  # noqa: PLC0415

    model = mnist1d_mlp(0)
    callbacks = [] if every is None else [Babysitter() if every == 0 else Babysitter(every)]
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=1e-2), batch_size=100,
                      callbacks=callbacks, rng=0, verbose=False)
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.fit((data.x_train, data.y_train), val=(data.x_test, data.y_test), epochs=epochs)
    return time.perf_counter() - wall, time.process_time() - cpu, trainer.step


def summarize(plain: list[float], watched: list[float]) -> dict:
    overheads = sorted(w / p - 1 for p, w in zip(plain, watched, strict=True))
    quarter = len(overheads) // 4
    return {"plain_median_s": statistics.median(plain), "babysitter_median_s": statistics.median(watched),
            "overhead_of_medians": statistics.median(watched) / statistics.median(plain) - 1,
            "median_round_overhead": statistics.median(overheads),
            "round_overhead_quartiles": [overheads[quarter], overheads[-1 - quarter]]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--every", type=int, default=0, help="the Babysitter's sampling period (0: its default)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args(argv)
    # Set before NumPy loads its BLAS: idle BLAS threads that spin would count as CPU time.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    from babysit.data import mnist1d  # noqa: PLC0415
    from babysit.diagnostics.monitor_base import DEFAULT_EVERY  # noqa: PLC0415

    data = mnist1d()
    times = {"plain": ([], []), "babysitter": ([], [])}
    steps = 0
    for round_ in range(args.rounds + WARMUP):
        order = ("plain", "babysitter") if round_ % 2 == 0 else ("babysitter", "plain")
        for label in order:
            wall, cpu, steps = train_once(data, args.epochs, None if label == "plain" else args.every)
            if round_ >= WARMUP:
                times[label][0].append(wall)
                times[label][1].append(cpu)
    result = {"epochs": args.epochs, "steps": steps, "every": args.every or DEFAULT_EVERY, "rounds": args.rounds,
              "threads": args.threads, "load_average": os.getloadavg()[0],
              "wall": summarize(times["plain"][0], times["babysitter"][0]),
              "cpu": summarize(times["plain"][1], times["babysitter"][1])}
    print(f"MNIST-1D MLP, Adam, batch 100, {args.epochs} epochs ({steps} steps), {args.rounds} rounds, "
          f"{args.threads} BLAS thread(s), load average {result['load_average']:.1f}")
    for clock in ("wall", "cpu"):
        row = result[clock]
        low, high = row["round_overhead_quartiles"]
        print(f"  {clock:4s}: plain {row['plain_median_s'] * 1e3:7.1f} ms, Babysitter (every {result['every']}) "
              f"{row['babysitter_median_s'] * 1e3:7.1f} ms; overhead {row['median_round_overhead']:+.1%} median "
              f"of rounds (quartiles {low:+.1%}, {high:+.1%}), {row['overhead_of_medians']:+.1%} of the medians")
    print("  target: < 10%")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
