"""Parameter averaging: EMA, SWA with BatchNorm statistics recomputed, checkpoint averaging."""

import numpy as np
import pytest

from babysit import nn
from babysit.errors import CheckpointError
from babysit.evaluation import EMA, SWA, average_checkpoints, update_batchnorm
from babysit.nn.regularization import Dropout


def _mlp(seed=0):
    return nn.Sequential(nn.Linear(3, 4, rng=seed, dtype=np.float64), nn.Tanh(), nn.Linear(4, 2, rng=seed + 1,
                                                                                           dtype=np.float64))


def _perturb(model, rng, scale=0.1):
    for p in model.parameters():
        p.data += scale * rng.standard_normal(p.shape)


# ------------------------------------------------------------------------------------ EMA
def test_ema_equals_the_closed_form(rng):
    model, decay = _mlp(), 0.9
    ema = EMA(model, decay=decay)
    history = [model[0].weight.data.copy()]
    for _ in range(5):
        _perturb(model, rng)
        ema.update()
        history.append(model[0].weight.data.copy())
    # avg_n = d^n w_0 + sum_k (1 - d) d^(n - k) w_k
    n = len(history) - 1
    expected = decay**n * history[0] + sum((1 - decay) * decay ** (n - k) * history[k] for k in range(1, n + 1))
    np.testing.assert_allclose(ema.shadow["0.weight"], expected, rtol=1e-13)
    assert ema.num_updates == 5


def test_ema_warmup_follows_the_early_weights_closely():
    ema = EMA(_mlp(), decay=0.999, warmup=True)
    assert ema.current_decay() == pytest.approx(0.1)
    ema.update()
    assert ema.current_decay() == pytest.approx(2 / 11)
    ema.num_updates = 10**6
    assert ema.current_decay() == 0.999


def test_average_parameters_swaps_in_and_restores_even_on_error(rng):
    model = _mlp()
    ema = EMA(model, decay=0.5)
    _perturb(model, rng)
    ema.update()
    arrays = [p.data for p in model.parameters()]
    trained = model.state_dict()
    x = rng.standard_normal((5, 3))
    averaged_model = _mlp()
    ema.copy_to(averaged_model)
    with ema.average_parameters() as inside:
        assert inside is model
        np.testing.assert_array_equal(model(x), averaged_model(x))
        np.testing.assert_array_equal(model[0].weight.data, ema.shadow["0.weight"])
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, trained[name])
    with pytest.raises(RuntimeError, match="boom"), ema.average_parameters():
        raise RuntimeError("boom")
    np.testing.assert_array_equal(model[0].weight.data, trained["0.weight"])
    assert all(p.data is a for p, a in zip(model.parameters(), arrays, strict=True))  # optimizer refs stay valid


def test_ema_state_dict_round_trip(rng):
    model = _mlp()
    ema = EMA(model, 0.8)
    _perturb(model, rng)
    ema.update()
    other = EMA(_mlp(), 0.8)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 1
    for name, value in ema.shadow.items():
        np.testing.assert_array_equal(other.shadow[name], value)
    with pytest.raises(KeyError, match="do not match"):
        EMA(nn.Linear(3, 4, rng=0), 0.8).load_state_dict(ema.state_dict())


@pytest.mark.parametrize("decay", [1.0, -0.1, 2, True])
def test_ema_decay_is_checked(decay):
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\)"):
        EMA(_mlp(), decay)


def test_averagers_need_a_module():
    with pytest.raises(TypeError, match="expected a Module"):
        SWA([np.ones(3)])


# ------------------------------------------------------------------------------------ SWA
def test_swa_is_the_equal_average_of_the_snapshots(rng):
    model = _mlp()
    swa = SWA(model)
    snapshots = []
    for _ in range(4):
        _perturb(model, rng, scale=1.0)
        swa.update()
        snapshots.append(model.state_dict())
    for name in swa.shadow:
        np.testing.assert_allclose(swa.shadow[name], np.mean([s[name] for s in snapshots], axis=0), rtol=1e-13)


class _FakeNorm(nn.Module):
    """Just enough of BatchNorm's API: a running mean over batches, reset, and momentum."""

    buffer_names = ("running_mean", "num_batches_tracked")

    def __init__(self, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.running_mean = np.zeros(3)
        self.num_batches_tracked = np.array(0)
        self.modes_seen = []

    def reset_running_stats(self):
        self.running_mean[...] = 0
        self.num_batches_tracked[...] = 0

    def forward(self, x):
        self.modes_seen.append(self.training)
        if self.training:
            self.num_batches_tracked += 1
            factor = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
            self.running_mean += factor * (x.mean(0) - self.running_mean)
        return x

    def backward(self, dout):
        return dout


class _ModeSpy(nn.Module):
    def __init__(self):
        super().__init__()
        self.modes_seen = []

    def forward(self, x):
        self.modes_seen.append(self.training)
        return x

    def backward(self, dout):
        return dout


def test_update_batchnorm_with_a_fake_norm_takes_the_cumulative_average(rng):
    spy, norm = _ModeSpy(), _FakeNorm(momentum=0.1)
    model = nn.Sequential(spy, norm).train()
    model.layers[0].training = True
    model.eval()
    norm.running_mean[:] = 99.0
    batches = [(rng.standard_normal((8, 3)) + i, rng.integers(0, 2, 8)) for i in range(5)]
    assert update_batchnorm(model, batches) == 1
    np.testing.assert_allclose(norm.running_mean, np.mean([x.mean(0) for x, _ in batches], axis=0), rtol=1e-13)
    assert norm.momentum == 0.1  # restored
    assert norm.modes_seen == [True] * 5 and spy.modes_seen == [False] * 5  # only the norm in train mode
    assert not model.training and not norm.training  # modes restored
    assert update_batchnorm(nn.Sequential(nn.Tanh()), batches) == 0


def test_update_batchnorm_with_the_library_batchnorm(rng):
    if not hasattr(nn, "BatchNorm1d"):
        pytest.skip("babysit.nn.BatchNorm1d not available")
    model = nn.Sequential(nn.Linear(3, 4, rng=0, dtype=np.float64), nn.BatchNorm1d(4, dtype=np.float64),
                          Dropout(0.5, rng=0), nn.ReLU()).train()
    x = rng.standard_normal((60, 3)) * 2 + 1
    assert update_batchnorm(model, x, batch_size=20) == 1
    bn = model[1]
    hidden = x @ model[0].weight.data.T + model[0].bias.data
    batch_means = [hidden[i:i + 20].mean(0) for i in range(0, 60, 20)]
    batch_vars = [hidden[i:i + 20].var(0, ddof=1) for i in range(0, 60, 20)]
    np.testing.assert_allclose(bn.running_mean, np.mean(batch_means, axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, np.mean(batch_vars, axis=0), rtol=1e-12)
    assert bn.momentum == 0.1 and int(bn.num_batches_tracked) == 3
    assert model.training and all(m.training for m in model.modules())


def test_swa_flow_recomputes_statistics_for_the_averaged_weights(rng):
    if not hasattr(nn, "BatchNorm1d"):
        pytest.skip("babysit.nn.BatchNorm1d not available")
    model = nn.Sequential(nn.Linear(3, 4, rng=0, dtype=np.float64), nn.BatchNorm1d(4, dtype=np.float64))
    swa = SWA(model)
    for _ in range(3):
        _perturb(model, rng, scale=0.5)
        swa.update()
    x = rng.standard_normal((32, 3))
    trained_stats = model[1].running_mean.copy()
    with swa.average_parameters():
        swa.update_batchnorm(x)
        np.testing.assert_allclose(model[1].running_mean, model[0](x).mean(0), rtol=1e-12)
    np.testing.assert_array_equal(model[1].running_mean, trained_stats)  # buffers restored on exit too
    swa.copy_to()
    swa.update_batchnorm([x[:16], x[16:]])
    np.testing.assert_allclose(model[1].running_mean, model[0](x).mean(0), rtol=1e-12)


# ---------------------------------------------------------------------- checkpoint averaging
def test_average_checkpoints(tmp_path, rng):
    model = _mlp()
    paths, states = [], []
    for i in range(3):
        _perturb(model, rng)
        paths.append(tmp_path / f"epoch{i}.npz")
        model.save(paths[-1])
        states.append(model.state_dict())
    average = average_checkpoints(paths)
    for name, value in average.items():
        np.testing.assert_allclose(value, np.mean([s[name] for s in states], axis=0), rtol=1e-14)
        assert value.dtype == states[0][name].dtype
    weighted = average_checkpoints(paths, weights=[0, 1, 3])
    np.testing.assert_allclose(weighted["0.weight"], (states[1]["0.weight"] + 3 * states[2]["0.weight"]) / 4)
    fresh = _mlp(seed=5)
    fresh.load_state_dict(average)


def test_average_checkpoints_keeps_float32_and_takes_counters_from_the_last_file(tmp_path):
    if not hasattr(nn, "BatchNorm1d"):
        pytest.skip("babysit.nn.BatchNorm1d not available")
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm1d(4)).train()
    x = np.ones((4, 3), dtype=np.float32) * np.arange(4, dtype=np.float32)[:, None]
    paths = []
    for i in range(2):
        model(x)
        paths.append(tmp_path / f"m{i}.npz")
        model.save(paths[-1])
    average = average_checkpoints(paths)
    assert average["0.weight"].dtype == np.float32
    assert average["1.num_batches_tracked"].item() == 2


def test_average_checkpoints_refuses_mismatched_files(tmp_path):
    _mlp().save(tmp_path / "a.npz")
    nn.Sequential(nn.Linear(3, 5, rng=0)).save(tmp_path / "b.npz")
    with pytest.raises(CheckpointError, match="holds different arrays"):
        average_checkpoints([tmp_path / "a.npz", tmp_path / "b.npz"])
    with pytest.raises(ValueError, match="no paths"):
        average_checkpoints([])
    with pytest.raises(ValueError, match="one weight >= 0 per path"):
        average_checkpoints([tmp_path / "a.npz"], weights=[0.0])
