"""Cost of the normalization layers on a conv-sized batch, in units of one elementwise pass.

BatchNorm2d, InstanceNorm2d, GroupNorm and LayerNorm on float32 (64, 32, 32, 32), forward
and backward, in train and eval mode, for the standard NCHW layout and for the
batch-innermost (C, H, W, N) memory our conv stack produces; PyTorch's BatchNorm2d on
the same data when torch is installed. Best of 15 calls in one process: on a shared
machine the minimum is the least noisy figure.

Run: ``python benchmarks/normalization_speed.py``
"""

from __future__ import annotations

import timeit

import numpy as np

from babysit import nn

SHAPE = (64, 32, 32, 32)


def best_ms(fn, repeat: int = 15) -> float:
    fn()
    return 1e3 * min(timeit.repeat(fn, number=1, repeat=repeat))


def layouts(rng):
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    batch_innermost = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 0, -1)), -1, 0)
    return {"NCHW": x, "CHWN": batch_innermost}


def torch_times(name, x, dout, repeat):
    """Forward and backward of ``torch.nn.<name>`` on a C-contiguous copy of x, or None without torch."""
    try:
        import torch  # optional reference
    except ImportError:
        return None
    layer = getattr(torch.nn, name)(x.shape[1])
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_()
    dt = torch.from_numpy(np.ascontiguousarray(dout))
    forward = best_ms(lambda: layer(xt), repeat)
    out = layer(xt)
    return forward, best_ms(lambda: out.backward(dt, retain_graph=True), repeat)


def small_batches(rng) -> None:
    """The MLP regime (MNIST-1D sizes), where per-call overhead matters more than bandwidth."""
    print("\nBatchNorm1d on MLP-sized batches, forward / backward in microseconds (best of 200)")
    for shape in ((64, 100), (256, 512)):
        x = rng.standard_normal(shape, dtype=np.float32)
        dout = np.ones_like(x)
        bn, linear = nn.BatchNorm1d(shape[1]), nn.Linear(shape[1], shape[1])
        ours = [1e3 * t for t in _fwd_bwd(bn, x, dout, 200)]
        lin = [1e3 * t for t in _fwd_bwd(linear, x, dout, 200)]
        line = f"  {shape}: BatchNorm1d {ours[0]:5.0f} / {ours[1]:5.0f}   Linear {lin[0]:5.0f} / {lin[1]:5.0f}"
        reference = torch_times("BatchNorm1d", x, dout, 200)
        if reference is not None:
            line += f"   torch BatchNorm1d {1e3 * reference[0]:5.0f} / {1e3 * reference[1]:5.0f}"
        print(line)


def _fwd_bwd(layer, x, dout, repeat):
    forward = best_ms(lambda: layer(x), repeat)
    layer(x)
    return forward, best_ms(lambda: layer.backward(dout), repeat)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"float32 {SHAPE}; times in ms (best of 15), and in elementwise passes (x * 2)")
    for name, x in layouts(rng).items():
        dout = np.empty_like(x)
        dout[...] = rng.standard_normal(SHAPE, dtype=np.float32)
        unit = best_ms(lambda x=x: x * 2)
        print(f"\n{name} layout: one elementwise pass = {unit:.2f} ms")
        layers = {
            "BatchNorm2d train": nn.BatchNorm2d(32),
            "BatchNorm2d eval": nn.BatchNorm2d(32).eval(),
            "InstanceNorm2d": nn.InstanceNorm2d(32, affine=True),
            "GroupNorm(8)": nn.GroupNorm(8, 32),
            "LayerNorm(C,H,W)": nn.LayerNorm(SHAPE[1:]),
        }
        for label, layer in layers.items():
            fwd, bwd = _fwd_bwd(layer, x, dout, 15)
            print(f"  {label:<18} forward {fwd:5.2f} ms ({fwd / unit:4.1f} passes)   "
                  f"backward {bwd:5.2f} ms ({bwd / unit:4.1f} passes)")
        reference = torch_times("BatchNorm2d", x, dout, 15)
        if reference is not None:
            print(f"  torch BatchNorm2d  forward {reference[0]:5.2f} ms   backward {reference[1]:5.2f} ms (NCHW copy)")
    small_batches(rng)


if __name__ == "__main__":
    main()
