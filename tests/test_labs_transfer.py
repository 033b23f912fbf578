"""The transfer lab on --quick reproduces the lecture's transfer-learning recipe."""

import numpy as np
import pytest

from babysit.labs.registry import run
from babysit.labs.transfer_lab import pick_per_class, source_task, target_epochs


@pytest.mark.slow
def test_transfer_lab_reproduces_the_lecture(tmp_path):
    results = run("transfer", tmp_path, quick=True)
    assert results["source_accuracy"] > 0.9  # the body learned its source task
    mean, sizes = results["mean"], results["sizes"]
    small, large = 0, len(sizes) - 1
    assert sizes[small] <= 10 and sizes[large] >= 100
    # Little target data: reuse the pretrained features (frozen or fine-tuned) rather than start from scratch.
    assert mean["frozen"][small] > mean["scratch"][small] + 0.04
    assert mean["fine_tuned"][small] > mean["scratch"][small] + 0.04
    # More target data: fine-tune the body; features frozen for the source task fall behind, even behind scratch.
    assert mean["fine_tuned"][large] > mean["frozen"][large] + 0.03
    assert mean["scratch"][large] > mean["frozen"][large] + 0.03
    assert (tmp_path / "transfer_vs_target_size.png").exists()


def test_pick_per_class_draws_balanced_disjoint_examples():
    labels = np.repeat(np.arange(10), 20)
    index = pick_per_class(labels, range(5, 10), 7, np.random.default_rng(0))
    assert len(np.unique(index)) == 35
    assert np.bincount(labels[index], minlength=10).tolist() == [0] * 5 + [7] * 5


def test_source_task_holds_only_digits_0_to_4():
    x, y = source_task(500)
    assert x.shape == (len(y), 1, 40) and set(np.unique(y)) == {0, 1, 2, 3, 4}


def test_target_epochs_give_about_the_same_number_of_steps():
    assert target_epochs(5) == 100 and target_epochs(200) == 20 and target_epochs(50) == 20
