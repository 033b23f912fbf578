"""Conv/pool layer timing: babysit against PyTorch CPU, side by side, plus a per-layer breakdown.

    python benchmarks/cnn_layers_timing.py                    # both models, 2 threads
    python benchmarks/cnn_layers_timing.py --model cifar --windows 40 --breakdown

One training step = forward, softmax cross-entropy, backward, plain SGD update
(``p -= lr * grad``), float32. Each framework runs in its own long-lived process with the
same thread count (OpenBLAS for babysit, ``torch.set_num_threads`` for PyTorch). The two
take turns in short windows, so that a machine shared with other work slows both alike;
the reported ratio is the median over adjacent pairs of windows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # the benchmark driver beside this file

MODELS = {"cifar": dict(batch=64, input=(3, 32, 32), target=0.9), "mnist1d": dict(batch=100, input=(1, 40), target=2.0)}


# The same two models as benchmarks/run.py's "cnn" and "mnist1d_cnn" cases.
RUN_CASES = {"cifar": "cnn", "mnist1d": "mnist1d_cnn"}


def babysit_model(name):
    return run.babysit_model(RUN_CASES[name])


def torch_model(name):
    return run.torch_model(RUN_CASES[name])


def babysit_step(name, lr=0.01):
    import numpy as np  # noqa: PLC0415

    from babysit import nn  # noqa: PLC0415

    spec = MODELS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((spec["batch"], *spec["input"])).astype(np.float32)
    y = rng.integers(0, 10, spec["batch"])
    model, loss = babysit_model(name), nn.SoftmaxCrossEntropy()
    model.needs_input_grad = False  # the data needs no gradient
    params = model.parameters()

    def step():
        loss(model(x), y)
        model.zero_grad()
        model.backward(loss.backward())
        for p in params:
            p.data -= lr * p.grad

    return step, model, x, loss, y


def torch_step(name, threads, lr=0.01):
    import torch  # noqa: PLC0415

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = MODELS[name]
    x = torch.randn(spec["batch"], *spec["input"])
    y = torch.randint(0, 10, (spec["batch"],))
    model, loss = torch_model(name), torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss(model(x), y).backward()
        optimizer.step()

    return step


def breakdown(name, steps=100):
    """Median milliseconds per layer, forward and backward, timed inside real babysit steps."""
    step, model, *_ = babysit_step(name)
    times = {}

    def timed(layer, index):
        forward, backward = layer.forward, layer.backward

        def run(kind, function, argument):
            start = time.perf_counter()
            result = function(argument)
            times.setdefault((index, kind), []).append(time.perf_counter() - start)
            return result

        layer.forward = lambda x: run("forward", forward, x)
        layer.backward = lambda dout: run("backward", backward, dout)

    for _ in range(5):
        step()
    for index, layer in enumerate(model):
        timed(layer, index)
    for _ in range(steps):
        step()
    return [(layer.short_repr(), 1e3 * statistics.median(times[index, "forward"]),
             1e3 * statistics.median(times[index, "backward"])) for index, layer in enumerate(model)]


def worker(name, framework, threads):
    """Serve ``seconds`` lines on stdin: run steps for that long, answer steps/s (a JSON line)."""
    step = babysit_step(name)[0] if framework == "babysit" else torch_step(name, threads)
    for _ in range(5):
        step()
    for line in sys.stdin:
        seconds, count, start = float(line), 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            step()
            count += 1
        print(json.dumps({"steps_per_s": count / elapsed}), flush=True)


def environment(threads):
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[key] = str(threads)
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # timing runs: the machine's own kernels
        env.pop(key, None)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def compare(name, windows, seconds, threads):
    """Alternate windows of babysit and torch; return median rates and the median pair ratio."""
    workers = {
        framework: subprocess.Popen(
            [sys.executable, __file__, "--worker", name, framework, "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment(threads))
        for framework in ("babysit", "torch")
    }
    rates = {framework: [] for framework in workers}
    try:
        for index in range(windows):
            order = ("babysit", "torch") if index % 2 == 0 else ("torch", "babysit")
            for framework in order:
                process = workers[framework]
                process.stdin.write(f"{seconds}\n")
                process.stdin.flush()
                answer = process.stdout.readline()
                if not answer:
                    raise RuntimeError(f"worker {name}/{framework} died")
                rates[framework].append(json.loads(answer)["steps_per_s"] * MODELS[name]["batch"])
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait()
    ratios = [ours / theirs for ours, theirs in zip(rates["babysit"], rates["torch"], strict=True)]
    return {framework: statistics.median(values) for framework, values in rates.items()}, statistics.median(ratios)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--windows", type=int, default=20, help="windows per framework")
    parser.add_argument("--seconds", type=float, default=0.5, help="seconds per window")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--breakdown", action="store_true", help="also print babysit's per-layer milliseconds")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.update({k: v for k, v in environment(args.threads).items() if k.endswith("THREADS")})
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    if args.worker:
        worker(*args.worker, args.threads)
        return
    for name in args.model:
        rates, ratio = compare(name, args.windows, args.seconds, args.threads)
        print(f"{name:8s} batch {MODELS[name]['batch']:3d}: babysit {rates['babysit']:9.0f}  torch "
              f"{rates['torch']:9.0f} samples/s (medians)  ratio {ratio:.2f}x "
              f"(target >= {MODELS[name]['target']}x)", flush=True)
        if args.breakdown:
            for label, forward, backward in breakdown(name):
                print(f"    {label:55s} forward {forward:7.3f} ms  backward {backward:7.3f} ms")


if __name__ == "__main__":
    main()
