"""The batchnorm lab on --quick reproduces the lecture: BatchNorm makes a deep net robust to the
init scale and lets it train at learning rates where the plain net diverges."""

import math

import numpy as np
import pytest

from babysit.labs.batchnorm_lab import deep_mlp, hidden_activation_std
from babysit.labs.registry import run


def check_lecture_result(results):
    """The lecture's qualitative result, from the numbers (also run on other seeds by hand)."""
    plain, bn = results["runs"]["plain"], results["runs"]["BatchNorm"]
    rates = results["learning_rates"]
    assert results["init_scales"] == [0.1, 1.0, 10.0] and rates == [0.03, 0.3, 3.0]
    for lr in rates:
        # init x0.1: the plain net's signal vanishes, its loss stays at chance, ln 10
        assert not plain[0.1][lr]["diverged"] and plain[0.1][lr]["final_loss"] > math.log(10) - 0.05, lr
        assert plain[0.1][lr]["final_val_accuracy"] < 0.15, lr
        assert plain[10.0][lr]["diverged"], lr  # init x10: it explodes at any rate
        assert not bn[0.1][lr]["diverged"] and bn[0.1][lr]["final_loss"] < 2.0, lr  # BatchNorm learns from x0.1
    assert min(run_["final_loss"] for run_ in bn[10.0].values()) < 2.2  # ... and from x10 at a suited rate
    # a higher learning rate: lr 3 diverges without BatchNorm, trains with it
    assert plain[1.0][3.0]["diverged"] and not bn[1.0][3.0]["diverged"] and bn[1.0][3.0]["final_loss"] < 2.0
    assert not plain[1.0][0.3]["diverged"] and plain[1.0][0.3]["final_loss"] < 2.0  # the usual cell trains both ways
    assert results["learned"]["plain"] <= 2 and results["learned"]["BatchNorm"] >= 5


@pytest.mark.slow
def test_batchnorm_lab_reproduces_the_lecture(tmp_path):
    results = run("batchnorm", tmp_path, quick=True)
    check_lecture_result(results)
    names = {path.rsplit("/", 1)[-1] for path in results["plots"]}
    assert names == {"batchnorm_grid.png", "batchnorm_curves.png", "batchnorm_activations.png"}
    assert "with BatchNorm in" in (tmp_path / "summary.md").read_text()


def test_batchnorm_keeps_every_layer_at_the_same_scale_whatever_the_init():
    x = np.random.default_rng(0).standard_normal((256, 40)).astype(np.float32)
    shrinking, exploding = (hidden_activation_std(deep_mlp(False, scale), x) for scale in (0.1, 10.0))
    assert shrinking[-1] < 1e-6 * shrinking[0] and exploding[-1] > 1e6 * exploding[0]
    for scale in (0.1, 1.0, 10.0):
        stds = hidden_activation_std(deep_mlp(True, scale), x)
        assert len(stds) == 9 and all(0.5 < std < 0.7 for std in stds), (scale, stds)  # ReLU of N(0, 1): 0.58


def test_deep_mlp_layout():
    plain, normed = deep_mlp(False, depth=4), deep_mlp(True, depth=4)
    assert [type(layer).__name__ for layer in normed] == ["Linear", "BatchNorm1d", "ReLU"] * 3 + ["Linear"]
    assert normed[0].bias is None and plain[0].bias is not None  # BatchNorm's beta replaces the bias
    scaled = deep_mlp(False, init_scale=3.0, depth=4)
    np.testing.assert_allclose(scaled[0].weight.data, 3.0 * plain[0].weight.data, rtol=1e-6)
