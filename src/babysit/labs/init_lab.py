"""Init lab: the lecture's 10-layer, 500-unit net on unit-Gaussian input (1000 x 500).

CS231n "Training Neural Networks I", weight initialization: forward the same input
through ten ``Linear(500, 500)`` layers (no bias) with tanh or ReLU, and watch each
layer's activations. With ``0.01 * randn`` they shrink layer by layer to zero (tanh) or
near zero (ReLU): the gradients on the weights vanish with them. With ``1.0 * randn`` tanh
units saturate at +-1 (local gradient zero) and ReLU activations explode. Xavier
(``std = 1/sqrt(fan_in)``) keeps tanh healthy; with ReLU it halves the variance per
layer; He (``std = sqrt(2/fan_in)``) keeps ReLU healthy.
"""

from __future__ import annotations

import numpy as np

from babysit import init, nn
from babysit.report.plots import new_figure

WIDTH, DEPTH, BATCH = 500, 10, 1000

#: The initializers of the lecture, by the label used in plots and results.
INITS = {"0.01": init.normal(std=0.01), "1.0": init.normal(std=1.0), "Xavier": init.xavier_normal(),
         "He": init.he_normal()}
ACTIVATIONS = {"tanh": nn.Tanh, "ReLU": nn.ReLU}

#: A tanh unit with |a| above this has a local gradient 1 - a^2 below 0.1: saturated.
SATURATED = 0.95


def layer_activations(initializer, activation: str, x: np.ndarray, depth: int = DEPTH, rng=None) -> list[np.ndarray]:
    """Forward ``x`` through ``depth`` bias-free ``Linear`` + ``activation`` layers of width
    ``x.shape[1]`` whose weights come from ``initializer``; return each layer's output."""
    rng = np.random.default_rng(rng)
    width = x.shape[1]
    outputs, h = [], x
    for _ in range(depth):
        layer = nn.Sequential(nn.Linear(width, width, init=initializer, bias=False, rng=rng, dtype=np.float64),
                              ACTIVATIONS[activation]())
        h = layer(h)
        outputs.append(h)
    return outputs


def run_init_lab(out_dir, quick: bool = False, seed: int = 0) -> tuple[dict, str]:
    """Every (init, activation) pair on the lecture's net; plots and the per-layer numbers.

    Returns ``(results, summary)``: ``results["layer_mean"|"layer_std"|"saturated"][label]``
    are lists over the layers (``saturated``, tanh only: the fraction of units with |a| > 0.95),
    labels like ``"Xavier + tanh"``. ``quick`` uses 200 input rows instead of 1000.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((200 if quick else BATCH, WIDTH))
    means, stds, saturated, activations = {}, {}, {}, {}
    for activation in ACTIVATIONS:
        for name, initializer in INITS.items():
            label = f"{name} + {activation}"
            outputs = layer_activations(initializer, activation, x, rng=rng)
            activations[label] = outputs
            means[label] = [float(a.mean()) for a in outputs]
            stds[label] = [float(a.std()) for a in outputs]
            if activation == "tanh":  # saturation is tanh's failure; ReLU's is explosion or death
                saturated[label] = [float(np.mean(np.abs(a) > SATURATED)) for a in outputs]
    _plot_statistics(means, stds, out_dir / "init_layer_stats.png")
    for label, outputs in activations.items():
        _plot_histograms(label, outputs, out_dir / f"init_hist_{_slug(label)}.png")
    results = {"layer_mean": means, "layer_std": stds, "saturated": saturated}
    return results, _summary(stds, saturated)


def _slug(label: str) -> str:
    return label.replace(" + ", "_").replace(".", "p").lower()


def _plot_statistics(means: dict, stds: dict, path) -> None:
    figure, axes = new_figure(11, 7.5, nrows=2, ncols=2)
    layers = np.arange(1, DEPTH + 1)
    for column, activation in enumerate(ACTIVATIONS):
        for label in (key for key in stds if key.endswith(activation)):
            axes[0, column].semilogy(layers, stds[label], "o-", label=label.split(" + ")[0])
            axes[1, column].plot(layers, means[label], "o-", label=label.split(" + ")[0])
        axes[0, column].set_title(f"{activation}: std of each layer's activations (log scale)")
        axes[1, column].set_title(f"{activation}: mean of each layer's activations")
        for row in range(2):
            axes[row, column].set_xlabel("layer")
            axes[row, column].set_xticks(layers)
            axes[row, column].grid(alpha=0.3)
            axes[row, column].legend(title="init", fontsize=9)
    axes[1, 1].set_yscale("log")  # ReLU outputs are >= 0, and span twenty decades here
    axes[1, 1].set_title("ReLU: mean of each layer's activations (log scale)")
    figure.suptitle("Weight init on a 10-layer, 500-unit net, unit-Gaussian input")
    figure.savefig(path)


def _plot_histograms(label: str, outputs: list[np.ndarray], path) -> None:
    figure, axes = new_figure(13, 5, nrows=2, ncols=5, sharey=True)
    if label.endswith("tanh"):
        edges = np.linspace(-1.0, 1.0, 51)  # the lecture's fixed window: collapse and saturation both show
    else:  # ReLU: a window set by the first layer, so growth and shrinkage show against it
        edges = np.linspace(0.0, max(float(np.percentile(outputs[0], 99.5)), 1e-12), 51)
    for index, (ax, a) in enumerate(zip(axes.flat, outputs, strict=True)):
        values = np.clip(a.ravel(), edges[0], edges[-1])  # out-of-window values pile up in the end bins
        counts, _ = np.histogram(values, edges)
        ax.bar(edges[:-1], counts / values.size, width=np.diff(edges), align="edge", color="tab:blue")
        ax.set_title(f"layer {index + 1}: std {a.std():.2g}", fontsize=10)
        ax.set_xlim(edges[0], edges[-1])
        ax.tick_params(labelsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("fraction of units")
    figure.suptitle(f"Activations per layer, init {label} (values outside the window fall in the end bins)")
    figure.savefig(path)


def _summary(stds: dict, saturated: dict) -> str:
    def ratio(label):
        return stds[label][-1] / stds[label][0]

    rows = "\n".join(f"| {label} | {stds[label][0]:.3g} | {stds[label][-1]:.3g} | {ratio(label):.3g} | "
                     + (f"{saturated[label][-1]:.0%} |" if label in saturated else "n/a (ReLU) |") for label in stds)
    return f"""What to look for: the std of each layer's activations (init_layer_stats.png) and their
histograms (init_hist_*.png).

- **0.01**: activations shrink to zero layer after layer (last/first std {ratio('0.01 + tanh'):.2g} with tanh).
- **1.0 + tanh**: {saturated['1.0 + tanh'][-1]:.0%} of the last layer's units are saturated (|a| > 0.95):
  their local gradient is ~0. With ReLU the activations explode instead.
- **Xavier + tanh** and **He + ReLU** stay healthy (last/first std {ratio('Xavier + tanh'):.2g} and
  {ratio('He + ReLU'):.2g}).
- **Xavier + ReLU** halves the variance per layer (last/first std {ratio('Xavier + ReLU'):.2g}).

| init + activation | std layer 1 | std layer 10 | last/first | saturated in layer 10 |
|---|---|---|---|---|
{rows}
"""
