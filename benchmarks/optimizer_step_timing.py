"""What an optimizer step costs next to the forward and backward pass it follows.

The benchmark MLP 3072-512-256-10 (1.7M parameters, float32, batch 256, ReLU, softmax
cross-entropy) is trained step by step; each round times the forward+backward pass and
then the optimizer step, as in training (the step finds the gradients and weights where
the backward pass left them in the caches). The variants take turns within every round,
so a change in machine load hits them alike. Reported: medians over the rounds, and the
median of the per-round share of the step in forward+backward and in the whole training
step; for every first-order optimizer, for Adam on whole arrays and on chunks of several
sizes (babysit.optim.foreach), and for PyTorch's Adam (for-loop, foreach and fused
kernels) on the same model when torch is installed.

Run: ``python benchmarks/optimizer_step_timing.py [--rounds 40]``
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from babysit import nn, optim
from babysit.optim import foreach

SIZES = (3072, 512, 256, 10)
BATCH = 256
WARMUP = 3  # rounds not counted: state allocation, first-touch page faults


def build_model(rng):
    layers = []
    for fan_in, fan_out in itertools.pairwise(SIZES):
        layers += [nn.Linear(fan_in, fan_out, rng=rng), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    model.needs_input_grad = False  # the data needs no gradient
    return model


def race(variants: dict, forward_backward, rounds: int) -> None:
    """``variants``: label -> (optimizer step function, setup before it); print one row each."""
    times = {label: ([], []) for label in variants}
    for round_ in range(rounds + WARMUP):
        for label, (step, setup) in variants.items():
            setup()
            start = time.perf_counter()
            forward_backward()
            middle = time.perf_counter()
            step()
            end = time.perf_counter()
            if round_ >= WARMUP:
                times[label][0].append(middle - start)
                times[label][1].append(end - middle)
    for label, (passes, steps) in times.items():
        passes, steps = np.array(passes), np.array(steps)
        print(f"{label:<30} fwd+bwd {1e3 * np.median(passes):7.2f} ms   step {1e3 * np.median(steps):6.2f} ms   "
              f"step/fwd+bwd {np.median(steps / passes):6.1%}   step/training step "
              f"{np.median(steps / (passes + steps)):6.1%}")


def babysit_rows(rounds: int, rng) -> None:
    x = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    loss = nn.SoftmaxCrossEntropy()
    model = build_model(rng)

    def forward_backward():
        model.zero_grad()
        loss(model(x), y)
        model.backward(loss.backward())

    count = sum(p.size for p in model.parameters())
    print(f"MLP {'-'.join(map(str, SIZES))}: {count:,} float32 parameters, batch {BATCH}, {rounds} rounds\n")
    default = foreach.CHUNK

    def chunk(size):
        def setup():
            foreach.CHUNK = size
        return setup

    adam = {}
    for label, size in [("whole arrays", 1 << 40), ("chunks of 2^13", 1 << 13), ("chunks of 2^15", 1 << 15),
                        ("chunks of 2^17", 1 << 17), ("chunks of 2^19", 1 << 19),
                        (f"chunks of 2^{default.bit_length() - 1} (default)", default)]:
        adam[f"Adam, {label}"] = (optim.Adam(model.parameters(), lr=1e-5).step, chunk(size))
    race(adam, forward_backward, rounds)
    print()
    others = {cls.__name__: (cls(model.parameters(), lr=1e-5).step, chunk(default))
              for name, cls in optim.OPTIMIZERS.items() if name != "lbfgs"}
    race(others, forward_backward, rounds)
    foreach.CHUNK = default


def torch_rows(rounds: int) -> None:
    try:
        import torch  # noqa: PLC0415 - optional reference
    except ImportError:
        print("\n(torch not installed: no PyTorch reference)")
        return
    layers = []
    for fan_in, fan_out in itertools.pairwise(SIZES):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    x, y = torch.randn(BATCH, SIZES[0]), torch.randint(0, SIZES[-1], (BATCH,))

    def forward_backward():
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()

    print(f"\nPyTorch {torch.__version__}, {torch.get_num_threads()} threads, same model and loop:")
    variants = {
        f"torch Adam, {label}": (torch.optim.Adam(model.parameters(), lr=1e-5, **kwargs).step, lambda: None)
        for label, kwargs in [("for-loop", {"foreach": False}), ("foreach", {"foreach": True}),
                              ("fused", {"fused": True})]
    }
    race(variants, forward_backward, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    babysit_rows(args.rounds, np.random.default_rng(0))
    torch_rows(args.rounds)


if __name__ == "__main__":
    main()
