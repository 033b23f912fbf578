"""The regularization lab on --quick reproduces the lecture: each regularizer shrinks the gap
between training and validation accuracy; augmentation and L2 raise validation accuracy."""

import numpy as np
import pytest

from babysit.labs.registry import run
from babysit.labs.regularization_lab import mlp


def check_lecture_result(results):
    """The lecture's qualitative result, from the numbers (also run on other seeds by hand)."""
    runs = results["methods"]
    final = {name: run_["final"] for name, run_ in runs.items()}
    none = final["none"]
    assert none["train_accuracy"] > 0.99 and none["gap"] > 0.45  # the big net memorizes 1000 signals: overfitting
    assert max(runs["none"]["val_loss"][-5:]) > min(runs["none"]["val_loss"]) + 0.15  # its val loss turns up
    for name in ("L2", "dropout", "augmentation"):
        assert final[name]["gap"] < none["gap"] - 0.05, name  # the gap shrinks
        assert final[name]["loss_gap"] < 0.8 * none["loss_gap"], name
    assert final["augmentation"]["val_accuracy"] > none["val_accuracy"] + 0.05  # more data for free
    assert final["augmentation"]["gap"] < 0.5 * none["gap"]
    assert final["L2"]["val_accuracy"] > none["val_accuracy"]
    for name in ("early stopping (val acc)", "early stopping (val loss)"):  # the restored weights are the best seen
        run_, monitor = runs[name], "val_accuracy" if "acc" in name else "val_loss"
        best = (max if monitor == "val_accuracy" else min)(run_[monitor])
        assert run_["best_epoch"] is not None and run_[monitor][run_["best_epoch"] - 1] == best
        assert final[name][monitor] == pytest.approx(best, abs=1e-6)
        assert final[name]["val_loss"] <= none["val_loss"] + 1e-6  # less overconfident than the run trained on
        # the same init and batches as "none": the same run, cut short
        np.testing.assert_allclose(run_["val_loss"], runs["none"]["val_loss"][:run_["epochs_run"]], rtol=1e-5)
    strongest = results["l2_sweep"][max(results["l2_sweep"])]  # too much regularization underfits
    assert strongest["gap"] < 0.2 and strongest["train_accuracy"] < none["train_accuracy"] - 0.3


@pytest.mark.slow
def test_regularization_lab_reproduces_the_lecture(tmp_path):
    results = run("regularization", tmp_path, quick=True)
    check_lecture_result(results)
    names = {path.rsplit("/", 1)[-1] for path in results["plots"]}
    assert names == {"regularization_curves.png", "regularization_strength.png"}


def test_mlp_dropout_layout():
    assert [type(layer).__name__ for layer in mlp(0, width=8)] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    names = [type(layer).__name__ for layer in mlp(0, dropout=0.5, width=8)]
    assert names == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
