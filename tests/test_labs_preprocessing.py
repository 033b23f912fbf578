"""The preprocessing lab on --quick reproduces the lecture: each step (center, normalize, whiten)
makes the same net and optimizer converge faster (robust over seeds 0-2 with these margins)."""

import math

import numpy as np
import pytest

from babysit.labs.preprocessing_lab import make_raw, second_moment_spectrum, sensor_calibration
from babysit.labs.registry import run


@pytest.mark.slow
def test_preprocessing_lab_reproduces_the_lecture(tmp_path):
    results = run("preprocessing", tmp_path, quick=True)
    inputs = results["inputs"]
    raw, centered = inputs["raw"], inputs["zero-centered"]
    standardized, whitened = inputs["standardized"], inputs["PCA-whitened"]
    # Each step converges further at its own best rate.
    assert raw["final_loss"] > math.log(10) - 0.3  # raw data barely gets below chance
    assert centered["final_loss"] < raw["final_loss"] - 0.5
    assert standardized["final_loss"] < 0.6 * centered["final_loss"]
    assert whitened["final_loss"] < 0.6 * standardized["final_loss"]
    # Raw data: from lr 1e-3 up the first huge updates kill the ReLUs and the net sits at chance;
    # standardized data learns best at a rate 100x larger than that.
    for lr, loss in raw["final_by_lr"].items():
        if lr >= 1e-3:
            assert abs(loss - math.log(10)) < 0.05, lr
    assert standardized["best_lr"] >= 0.03 and whitened["best_lr"] >= 0.03
    # The curvature explains it: the condition number falls at every step.
    assert raw["condition"] > 1e9 > centered["condition"] > 1e4 > standardized["condition"] > 10 > whitened["condition"]
    assert standardized["test_accuracy"] > raw["test_accuracy"] + 0.1
    assert {p.rsplit("/", 1)[-1] for p in results["plots"]} == {"preprocessing_cloud.png",
                                                                 "preprocessing_convergence.png"}


def test_raw_data_is_offset_and_unevenly_scaled():
    offset, gain = sensor_calibration(40)
    assert np.all((offset >= 20) & (offset <= 80)) and gain.max() / gain.min() > 30
    x = np.random.default_rng(0).standard_normal((2000, 40)).astype(np.float32)
    raw = make_raw(x, offset, gain)
    assert raw.dtype == np.float32
    np.testing.assert_allclose(raw.mean(axis=0), offset, atol=0.5)
    np.testing.assert_allclose(raw.std(axis=0) / gain, 1.0, atol=0.1)


def test_second_moment_spectrum_of_white_data_is_flat():
    rng = np.random.default_rng(1)
    white = rng.standard_normal((20000, 5))
    spectrum = second_moment_spectrum(white)
    assert spectrum.shape == (6,) and spectrum[0] / spectrum[-1] < 1.1
    shifted = second_moment_spectrum(white + 10.0)  # an offset adds one huge direction
    assert shifted[0] / shifted[-1] > 100
