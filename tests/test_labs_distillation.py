"""The distillation lab on --quick reproduces Hinton et al.: the distilled student beats the label-only one."""

import numpy as np
import pytest

from babysit.labs.distillation_lab import softened
from babysit.labs.registry import run


@pytest.mark.slow
def test_distillation_lab_reproduces_the_lecture(tmp_path):
    results = run("distillation", tmp_path, quick=True)
    assert results["teacher"] > 0.85  # a CNN ensemble, far above any MLP student
    width = results["sweep_width"]
    labels, distilled = np.mean(results["labels"][width]), np.mean(results["distilled"][width])
    assert distilled > labels + 0.02
    assert results["teacher"] > distilled + 0.1  # the student stays a small MLP
    by_t = results["by_temperature"]
    assert np.mean(by_t[4.0]) > np.mean(by_t[1.0]) + 0.005  # softening the targets is what helps
    assert {p.rsplit("/", 1)[-1] for p in results["plots"]} == {"distillation_student_sizes.png",
                                                                 "distillation_temperature.png"}


def test_softened_flattens_with_temperature_and_keeps_the_order():
    scores = np.array([[4.0, 1.0, 0.0]])
    cold, hot = softened(scores, 1.0)[0], softened(scores, 10.0)[0]
    assert np.allclose(cold.sum(), 1.0) and np.allclose(hot.sum(), 1.0)
    assert np.all(np.argsort(cold) == np.argsort(hot))
    assert hot.max() < cold.max() and hot.min() > cold.min()
    assert np.allclose(softened(scores, 2.0), softened(scores / 2.0, 1.0))
