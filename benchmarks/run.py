"""Training throughput of babysit against PyTorch (CPU) and scikit-learn, side by side.

    python benchmarks/run.py                 # every case, 2 threads, a table with ratios
    python benchmarks/run.py --cases mlp cnn --rounds 3 --seconds 4

Each (case, framework) runs in its own worker process, so peak memory (max RSS, read
with ``os.wait4``) is per benchmark; frameworks alternate within each round, and the
table reports the median over rounds. Same threads everywhere (``--threads``), float32
(scikit-learn: its default float64, as a user would run it). The MLP's achieved GFLOP/s
counts FLOPs per layer (a first layer computes no input gradient) and is compared with a
plain NumPy float32 GEMM measured in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {
    # name: (layer sizes or "cnn", batch, optimizer, input shape, frameworks)
    "mlp": dict(batch=256, optimizer="sgd", input=(3072,), frameworks=("babysit", "torch", "sklearn")),
    "cnn": dict(batch=64, optimizer="sgd", input=(3, 32, 32), frameworks=("babysit", "torch")),
    "mnist1d_mlp": dict(batch=100, optimizer="adam", input=(40,), frameworks=("babysit", "torch")),
    "mnist1d_cnn": dict(batch=100, optimizer="adam", input=(1, 40), frameworks=("babysit", "torch")),
}
TARGETS = {"mlp": 1.0, "cnn": 0.9, "mnist1d_mlp": 2.0, "mnist1d_cnn": 2.0}
MLP_SIZES = {"mlp": (3072, 512, 256, 10), "mnist1d_mlp": (40, 100, 100, 10)}
NUM_CLASSES = 10


# ---------------------------------------------------------------------------- models
def babysit_model(case: str):
    from babysit import nn  # noqa: PLC0415 - imported in the worker only

    rng = 0
    if case in MLP_SIZES:
        sizes = MLP_SIZES[case]
        layers = []
        for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(fan_in, fan_out, rng=rng + index))
            if index < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)
    if case == "cnn":
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1, rng=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, rng=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4096, 10, rng=3),
        )
    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1, rng=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, rng=2), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, rng=3), nn.ReLU(),
        nn.Flatten(), nn.Linear(125, 10, rng=4),
    )


def torch_model(case: str):
    import torch  # noqa: PLC0415

    nn = torch.nn
    if case in MLP_SIZES:
        sizes = MLP_SIZES[case]
        layers = []
        for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(fan_in, fan_out))
            if index < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)
    if case == "cnn":
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4096, 10),
        )
    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(125, 10),
    )


# --------------------------------------------------------------------------- workers
def time_steps(step, seconds: float, windows: int = 5) -> float:
    """Median steps/s over ``windows`` windows of about ``seconds / windows`` each."""
    for _ in range(5):
        step()
    rates = []
    for _ in range(windows):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / windows:
            step()
            count += 1
        rates.append(count / elapsed)
    return statistics.median(rates)


def run_babysit(case: str, seconds: float) -> float:
    import numpy as np  # noqa: PLC0415

    from babysit import nn, optim  # noqa: PLC0415

    spec = CASES[case]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((spec["batch"], *spec["input"])).astype(np.float32)
    y = rng.integers(0, NUM_CLASSES, spec["batch"])
    model = babysit_model(case)
    model.needs_input_grad = False  # the data needs no gradient (PyTorch: requires_grad=False)
    loss = nn.SoftmaxCrossEntropy()
    if spec["optimizer"] == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        optimizer = optim.Adam(model.parameters(), lr=1e-3)

    def step():  # the same loop as PyTorch's below: the optimizer clears the gradients it owns
        loss(model(x), y)
        optimizer.zero_grad()
        model.backward(loss.backward())
        optimizer.step()

    return time_steps(step, seconds) * spec["batch"]


def run_torch(case: str, seconds: float, threads: int) -> float:
    import torch  # noqa: PLC0415

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = CASES[case]
    x = torch.randn(spec["batch"], *spec["input"])
    y = torch.randint(0, NUM_CLASSES, (spec["batch"],))
    model = torch_model(case)
    loss = torch.nn.CrossEntropyLoss()
    if spec["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss(model(x), y).backward()
        optimizer.step()

    return time_steps(step, seconds) * spec["batch"]


def run_sklearn(case: str, seconds: float) -> float:
    import warnings  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    from sklearn.exceptions import ConvergenceWarning  # noqa: PLC0415
    from sklearn.neural_network import MLPClassifier  # noqa: PLC0415

    spec = CASES[case]
    batch, batches = spec["batch"], 8
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch * batches, *spec["input"]))  # float64: scikit-learn's default
    y = rng.integers(0, NUM_CLASSES, batch * batches)
    hidden = MLP_SIZES[case][1:-1]
    model = MLPClassifier(hidden, solver="sgd", learning_rate_init=0.01, momentum=0.9, nesterovs_momentum=False,
                          batch_size=batch, random_state=0)
    classes = np.arange(NUM_CLASSES)
    warnings.simplefilter("ignore", ConvergenceWarning)
    # One partial_fit is one epoch over `batches` mini-batches.
    return time_steps(lambda: model.partial_fit(x, y, classes=classes), seconds) * batch * batches


def worker(case: str, framework: str, seconds: float, threads: int) -> None:
    if framework == "babysit":
        rate = run_babysit(case, seconds)
    elif framework == "torch":
        rate = run_torch(case, seconds, threads)
    else:
        rate = run_sklearn(case, seconds)
    print(json.dumps({"samples_per_s": rate}))


# ---------------------------------------------------------------------------- driver
def spawn(case: str, framework: str, seconds: float, threads: int) -> tuple[float, float]:
    """Run one worker; return (samples/s, peak RSS in MiB)."""
    command = [sys.executable, __file__, "--worker", case, framework, "--seconds", str(seconds),
               "--threads", str(threads)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=thread_env(threads))
    _, status, usage = os.wait4(process.pid, 0)
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"worker {case}/{framework} failed:\n{err}")
    return json.loads(out.strip().splitlines()[-1])["samples_per_s"], usage.ru_maxrss / 1024


def thread_env(threads: int) -> dict:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def gemm_gflops(size: int = 2048, repeats: int = 20) -> float:
    """Best of ``repeats`` float32 GEMMs: the machine's attainable rate, the bar for the MLP."""
    import numpy as np  # noqa: PLC0415

    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    b = a.copy()
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times) / 1e9


def mlp_flops_per_sample(sizes) -> int:
    """Forward 2*in*out per layer, backward 2*in*out for dW plus 2*in*out for dx (not for layer 1)."""
    pairs = list(itertools.pairwise(sizes))
    return sum((4 if index == 0 else 6) * fan_in * fan_out for index, (fan_in, fan_out) in enumerate(pairs))


def drive(cases, rounds: int, seconds: float, threads: int) -> dict:
    results = {case: {fw: [] for fw in CASES[case]["frameworks"]} for case in cases}
    memory = {case: {fw: 0.0 for fw in CASES[case]["frameworks"]} for case in cases}
    for round_index in range(rounds):
        for case in cases:
            frameworks = CASES[case]["frameworks"]
            order = frameworks if round_index % 2 == 0 else tuple(reversed(frameworks))
            for framework in order:
                rate, rss = spawn(case, framework, seconds, threads)
                results[case][framework].append(rate)
                memory[case][framework] = max(memory[case][framework], rss)
                print(f"  round {round_index + 1}: {case:<12} {framework:<8} {rate:10.0f} samples/s  "
                      f"{rss:7.0f} MiB", file=sys.stderr, flush=True)
    # Ratios are taken round by round (the frameworks of a round ran back to back, under the
    # same load), then the median over rounds: robust to a round slowed by other work.
    ratios = {c: {f: statistics.median(o / t for o, t in zip(fw["babysit"], v, strict=True))
                  for f, v in fw.items() if f != "babysit"} for c, fw in results.items()}
    return {"rates": {c: {f: statistics.median(v) for f, v in fw.items()} for c, fw in results.items()},
            "ratios": ratios, "memory": memory}


def table(summary: dict, gemm: float, threads: int) -> str:
    rates, ratios, memory = summary["rates"], summary["ratios"], summary["memory"]
    lines = [
        f"Training throughput, float32, {threads} threads (samples/s, median over rounds; higher is better)",
        "",
        "Ratios: median over rounds of the per-round ratio (frameworks alternate within each round).",
        "",
        "| case | babysit | PyTorch | vs PyTorch (target) | scikit-learn | vs sklearn | peak MiB babysit / torch |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, rate in rates.items():
        ours, theirs = rate["babysit"], rate.get("torch")
        ratio = ratios[case]["torch"]
        verdict = "ok" if ratio >= TARGETS[case] else "below"
        sk = rate.get("sklearn")
        sk_cells = f"{sk:,.0f} | {ratios[case]['sklearn']:.2f}x (>= 3x)" if sk else "- | -"
        mem = memory[case]
        lines.append(
            f"| {case} | {ours:,.0f} | {theirs:,.0f} | {ratio:.2f}x (>= {TARGETS[case]}x, {verdict}) | {sk_cells} | "
            f"{mem['babysit']:.0f} / {mem['torch']:.0f} ({mem['babysit'] / mem['torch']:.2f}x) |"
        )
    if "mlp" in rates:
        achieved = rates["mlp"]["babysit"] * mlp_flops_per_sample(MLP_SIZES["mlp"]) / 1e9
        lines += ["", f"MLP 3072-512-256-10: {achieved:.1f} GFLOP/s achieved = {100 * achieved / gemm:.0f}% of a "
                      f"plain NumPy float32 GEMM (2048^3) measured in this run at {gemm:.1f} GFLOP/s (target >= 65%)"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per worker")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "FRAMEWORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        os.environ.update({k: v for k, v in thread_env(args.threads).items() if k.endswith("THREADS")})
        worker(*args.worker, args.seconds, args.threads)
        return
    os.environ.update({k: v for k, v in thread_env(args.threads).items() if k.endswith("THREADS")})
    summary = drive(args.cases, args.rounds, args.seconds, args.threads)
    print(table(summary, gemm_gflops(), args.threads))


if __name__ == "__main__":
    main()
