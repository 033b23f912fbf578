"""The activations lab on --quick reproduces the lecture: sigmoid's vanishing gradients and slow
convergence, and the zig-zag of all-positive inputs (robust over seeds 0-2 with these margins)."""

import itertools
import math

import numpy as np
import pytest

from babysit.labs.registry import run
from babysit.labs.zigzag import W_OPTIMUM, best_steps, inputs, run_zigzag, sgd_path


@pytest.mark.slow
def test_activations_lab_reproduces_the_lecture(tmp_path):
    results = run("activations", tmp_path, quick=True)
    shallow, deep = results["runs"]["shallow"], results["runs"]["deep"]
    assert set(shallow) == {"sigmoid", "tanh", "ReLU", "leaky ReLU", "PReLU", "ELU", "maxout"}

    # Vanishing gradients: the deep sigmoid net's first layer gets ~1e-5 of the output layer's gradient
    # and the net stays at chance; with ReLU the gradient reaches the first layer and the net learns.
    sigmoid = deep["sigmoid"]["grad_norm_start"]
    assert len(sigmoid) == 9 and sigmoid[0] < 1e-3 * sigmoid[-1]
    assert all(a < b for a, b in itertools.pairwise(sigmoid))  # shrinks layer by layer
    assert abs(deep["sigmoid"]["train_loss"][-1] - math.log(10)) < 0.05
    assert deep["sigmoid"]["test_accuracy"] < 0.15
    for name in ("tanh", "ReLU", "leaky ReLU", "PReLU", "ELU", "maxout"):
        profile = deep[name]["grad_norm_start"]
        assert profile[0] > 0.1 * profile[-1], name
        assert deep[name]["train_loss"][-1] < deep["sigmoid"]["train_loss"][-1] - 0.4, name
        # Sigmoid converges slowest even in the shallow net.
        assert shallow[name]["train_loss"][-1] < shallow["sigmoid"]["train_loss"][-1] - 0.4, name
    assert shallow["ReLU"]["train_loss"][-1] < shallow["tanh"]["train_loss"][-1]

    # Sigmoid outputs are all positive: many one-signed weight-gradient rows; tanh's are zero-centered.
    assert shallow["sigmoid"]["same_sign"] > 0.2 > 0.02 > shallow["tanh"]["same_sign"]

    positive, centered = results["zigzag"]["all positive"], results["zigzag"]["zero-centered"]
    assert positive["same_sign"] == 1.0 and 0.3 < centered["same_sign"] < 0.7
    assert positive["path_ratio"] > 1.5 * centered["path_ratio"]
    assert best_steps(centered)[1] < 0.75 * best_steps(positive)[1]
    assert positive["condition"] > 4 > 1.2 > centered["condition"]
    assert {p.rsplit("/", 1)[-1] for p in results["plots"]} == {
        "activations_curves.png", "activations_gradients.png", "activations_zigzag.png"}


def test_positive_inputs_give_one_signed_updates_every_step():
    x = inputs(500, np.random.default_rng(3))
    assert x["all positive"].min() > 0 and abs(x["zero-centered"].mean()) < 0.05
    path = sgd_path(x["all positive"], 0.5, 100, np.random.default_rng(4))["path"]
    steps = np.diff(path, axis=0)
    moving = np.abs(steps).sum(axis=1) > 0
    assert np.all(steps[moving, 0] * steps[moving, 1] > 0)  # only quadrants I and III
    centered = np.diff(sgd_path(x["zero-centered"], 0.5, 100, np.random.default_rng(4))["path"], axis=0)
    assert np.mean(centered[:, 0] * centered[:, 1] < 0) > 0.2


def test_zigzag_converges_and_reports_divergence():
    results = run_zigzag(lrs=(1.0, 50.0), path_lr=1.0, steps=300, seed=0, n=1000)
    for result in results.values():
        assert np.linalg.norm(result["path"][-1] - W_OPTIMUM) < 0.1
        assert result["steps_by_lr"][50.0] is None  # far past 2 / curvature: diverges
        assert result["steps_by_lr"][1.0] is not None
