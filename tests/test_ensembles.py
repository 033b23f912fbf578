"""Ensembles (mean and vote), their save/load, and snapshot collection under warm restarts."""

import numpy as np
import pytest

from babysit import nn, optim
from babysit.errors import CheckpointError
from babysit.evaluation import Ensemble, SnapshotCollector, format_table, load_ensemble
from babysit.schedules import warm_restarts
from babysit.train import Trainer


def _mlp(seed):
    return nn.Sequential(nn.Linear(4, 8, rng=seed, dtype=np.float64), nn.ReLU(),
                         nn.Linear(8, 3, rng=seed + 100, dtype=np.float64))


def _softmax(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_ensemble_of_identical_models_equals_the_member(rng):
    x = rng.standard_normal((20, 4))
    model = _mlp(0)
    copies = [_mlp(0) for _ in range(3)]
    for method in ("mean", "vote"):
        ensemble = Ensemble(copies, method=method)
        np.testing.assert_array_equal(ensemble.predict(x), model(x).argmax(axis=1))
    np.testing.assert_allclose(Ensemble(copies).predict_proba(x), _softmax(model(x)), rtol=1e-12)


def test_mean_averages_probabilities_not_scores(rng):
    x = rng.standard_normal((10, 4))
    members = [_mlp(s) for s in (1, 2, 3)]
    expected = np.mean([_softmax(m(x)) for m in members], axis=0)
    np.testing.assert_allclose(Ensemble(members).predict_proba(x), expected, rtol=1e-12)
    np.testing.assert_allclose(Ensemble(members).log_proba(x), np.log(expected), rtol=1e-12)


class _Fixed(nn.Module):
    """Returns fixed scores whatever the input (to script votes)."""

    def __init__(self, scores):
        super().__init__()
        self.scores = np.asarray(scores, dtype=np.float64)
        self.bias = nn.Parameter(np.zeros(1))

    def forward(self, x):
        return self.scores[: len(x)]


def test_vote_takes_the_majority_and_breaks_ties_by_mean_probability():
    a = _Fixed([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    b = _Fixed([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    c = _Fixed([[0.0, 9.0, 0.0], [0.0, 0.0, 1.0]])
    x = np.zeros((2, 1))
    vote = Ensemble([a, b, c], method="vote")
    np.testing.assert_array_equal(vote.predict(x), [0, 2])
    np.testing.assert_allclose(vote.predict_proba(x), [[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3]])
    # Mean probabilities disagree with the vote on row 0: c is very sure of class 1.
    assert Ensemble([a, b, c]).predict(x)[0] == 1
    tie = Ensemble([_Fixed([[3.0, 0.0, 0.0]]), _Fixed([[0.0, 1.0, 0.0]])], method="vote")
    assert tie.predict(np.zeros((1, 1)))[0] == 0  # one vote each: the surer member wins


def test_evaluate_lists_members_then_the_ensemble(rng):
    x, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    members = [_mlp(s) for s in (1, 2)]
    rows = Ensemble(members).evaluate(x, y)
    assert [r["model"] for r in rows] == ["member 0", "member 1", "ensemble (mean)"]
    assert rows[0]["accuracy"] == pytest.approx(float((members[0](x).argmax(1) == y).mean()))
    p = _softmax(members[1](x))
    assert rows[1]["nll"] == pytest.approx(-np.log(p[np.arange(30), y]).mean())
    assert Ensemble(members, method="vote").evaluate(x, y)[-1]["nll"] is None
    assert "ensemble (mean)" in format_table(rows)
    with pytest.raises(ValueError, match="y has shape"):
        Ensemble(members).evaluate(x, y[:5])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="method"):
        Ensemble([_mlp(0)], method="median")
    with pytest.raises(TypeError, match="member 1"):
        Ensemble([_mlp(0), "model"])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])


def test_save_and_load_round_trip(tmp_path, rng):
    x = rng.standard_normal((7, 4))
    ensemble = Ensemble([_mlp(1), _mlp(2)], method="vote")
    ensemble.save(tmp_path / "ens")
    loaded = load_ensemble(tmp_path / "ens")
    assert loaded.method == "vote" and len(loaded) == 2
    np.testing.assert_array_equal(loaded.member_probabilities(x), ensemble.member_probabilities(x))
    with pytest.raises(CheckpointError, match="not an ensemble"):
        load_ensemble(tmp_path)


def _train_with_snapshots(rng_data, epochs, tmp_path=None, resume=False, collector=None):
    x = rng_data.standard_normal((40, 4))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    model = _mlp(0)
    schedule = warm_restarts(0.05, t0=4)  # 40 examples / batches of 10 = 4 steps per epoch: a cycle per epoch
    collector = collector or SnapshotCollector(schedule)
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.05), schedule=schedule,
                      callbacks=[collector], batch_size=10, rng=0, verbose=False, out_dir=tmp_path)
    trainer.fit((x, y), epochs=epochs, resume=resume)
    return trainer, collector


def test_one_snapshot_per_cycle_each_a_frozen_copy():
    trainer, collector = _train_with_snapshots(np.random.default_rng(0), epochs=3)
    assert collector.taken_at == [4, 8, 12]
    assert len(collector.snapshots) == 3
    last = collector.snapshots[-1]
    np.testing.assert_array_equal(last[0].weight.data, trainer.model[0].weight.data)
    assert last[0].weight is not trainer.model[0].weight
    assert not np.array_equal(collector.snapshots[0][0].weight.data, last[0].weight.data)


def test_snapshots_at_given_epochs():
    x, y = np.random.default_rng(1).standard_normal((20, 4)), np.arange(20) % 3
    model = _mlp(0)
    collector = SnapshotCollector([2, 4], per="epoch")
    Trainer(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.01), callbacks=[collector],
            batch_size=10, verbose=False).fit((x, y), epochs=5)
    assert collector.taken_at == [2, 4]


def test_snapshots_survive_a_resume(tmp_path):
    _, full_collector = _train_with_snapshots(np.random.default_rng(0), epochs=3)
    _train_with_snapshots(np.random.default_rng(0), epochs=2, tmp_path=tmp_path)
    _, collector = _train_with_snapshots(np.random.default_rng(0), epochs=3, tmp_path=tmp_path, resume=True)
    assert collector.taken_at == [4, 8, 12]
    for ours, theirs in zip(collector.snapshots, full_collector.snapshots, strict=True):
        np.testing.assert_allclose(ours[0].weight.data, theirs[0].weight.data, rtol=1e-12)
