"""Normalization layers against hand-computed values, their conventions, modes and errors.

The comparisons with torch.nn live in test_normalization_torch.py; gradient checks of
every layer in both modes are in the registry (tests/cases/norm.py).
"""

import numpy as np
import pytest

import babysit
from babysit import nn
from babysit.errors import InputError


def test_batchnorm_forward_backward_and_running_stats_by_hand():
    # One feature with values 0, 3, 6: mean 3, biased variance 6, unbiased 9.
    x = np.array([[0.0], [3.0], [6.0]])
    layer = nn.BatchNorm1d(1, eps=1e-12, dtype=np.float64)
    out = layer(x)
    sigma = np.sqrt(6.0)
    np.testing.assert_allclose(out[:, 0], [-3 / sigma, 0.0, 3 / sigma])
    # dL/dout = (1, 0, 0): dx = (dout - mean(dout) - xhat * mean(dout * xhat)) / sigma.
    dx = layer.backward(np.array([[1.0], [0.0], [0.0]]))
    np.testing.assert_allclose(dx[:, 0], np.array([1 / 6, -1 / 3, 1 / 6]) / sigma, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, [-3 / sigma])
    np.testing.assert_allclose(layer.bias.grad, [1.0])
    # running = 0.9 * (0, 1) + 0.1 * (mean 3, unbiased variance 9).
    np.testing.assert_allclose(layer.running_mean, [0.3])
    np.testing.assert_allclose(layer.running_var, [0.9 + 0.9])
    assert int(layer.num_batches_tracked) == 1


def test_batchnorm_eval_uses_running_statistics():
    layer = nn.BatchNorm1d(2, dtype=np.float64)
    layer.running_mean[:] = [1.0, -2.0]
    layer.running_var[:] = [4.0, 0.25]
    layer.weight.data[:] = [2.0, 1.0]
    layer.bias.data[:] = [0.5, 0.0]
    x = np.array([[3.0, -2.0], [1.0, -1.0]])
    out = layer.eval()(x)
    eps = layer.eps
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + eps) * [2.0, 1.0] + [0.5, 0.0]
    np.testing.assert_allclose(out, expected)
    assert int(layer.num_batches_tracked) == 0  # eval mode leaves the statistics alone
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_allclose(dx, np.broadcast_to([2.0 / np.sqrt(4 + eps), 1.0 / np.sqrt(0.25 + eps)], x.shape))


def test_batchnorm2d_statistics_over_batch_and_positions(rng):
    x = rng.standard_normal((4, 3, 5, 2)) * [[[[1.0]], [[5.0]], [[0.1]]]] + 7.0
    out = nn.BatchNorm2d(3, dtype=np.float64)(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    var = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), var / (var + 1e-5))


def test_momentum_none_is_the_cumulative_average(rng):
    layer = nn.BatchNorm1d(3, momentum=None, dtype=np.float64)
    batches = [rng.standard_normal((5, 3)) * (i + 1) + i for i in range(4)]
    for batch in batches:
        layer(batch)
    np.testing.assert_allclose(layer.running_mean, np.mean([b.mean(0) for b in batches], axis=0))
    np.testing.assert_allclose(layer.running_var, np.mean([b.var(0, ddof=1) for b in batches], axis=0))
    layer.reset_running_stats()
    np.testing.assert_array_equal(layer.running_mean, 0)
    np.testing.assert_array_equal(layer.running_var, 1)
    assert int(layer.num_batches_tracked) == 0


def test_untracked_batchnorm_uses_batch_statistics_in_eval(rng):
    layer = nn.BatchNorm1d(3, track_running_stats=False, dtype=np.float64).eval()
    x = rng.standard_normal((6, 3)) + 4
    np.testing.assert_allclose(layer(x).mean(0), 0, atol=1e-12)
    assert layer.state_dict().keys() == {"weight", "bias"}


def test_layernorm_by_hand():
    x = np.array([[0.0, 3.0, 6.0], [1.0, 1.0, 4.0]])
    out = nn.LayerNorm(3, eps=1e-12, dtype=np.float64)(x)
    np.testing.assert_allclose(out[0], np.array([-3.0, 0.0, 3.0]) / np.sqrt(6.0))
    np.testing.assert_allclose(out[1], np.array([-1.0, -1.0, 2.0]) / np.sqrt(2.0))


def test_instancenorm_and_groupnorm_agree_with_their_special_cases(rng):
    x = rng.standard_normal((3, 4, 5, 2)) * 3 + 1
    instance = nn.InstanceNorm2d(4, dtype=np.float64)(x)
    expected = (x - x.mean(axis=(2, 3), keepdims=True)) / np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(instance, expected)
    np.testing.assert_allclose(nn.GroupNorm(4, 4, dtype=np.float64)(x), instance)  # G = C
    layer = nn.LayerNorm((4, 5, 2), elementwise_affine=False)(x)
    np.testing.assert_allclose(nn.GroupNorm(1, 4, dtype=np.float64)(x), layer)  # G = 1
    two_groups = nn.GroupNorm(2, 4, dtype=np.float64)(x).reshape(3, 2, -1)
    np.testing.assert_allclose(two_groups.mean(-1), 0, atol=1e-12)


def test_affine_parameters_are_named_as_in_torch_and_not_regularized():
    for layer in (nn.BatchNorm2d(3), nn.LayerNorm(3), nn.GroupNorm(1, 3), nn.InstanceNorm1d(3, affine=True),
                  nn.DecorrelatedBatchNorm(3)):
        names = dict(layer.named_parameters())
        assert set(names) == {"weight", "bias"}, type(layer).__name__
        assert not any(p.regularize for p in names.values())
    assert nn.BatchNorm1d(4).state_dict().keys() == {
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def test_train_eval_switching_and_save_load_inside_containers(rng, tmp_path):
    model = nn.Sequential(
        nn.Linear(4, 6, bias=False, rng=rng), nn.BatchNorm1d(6), nn.ReLU(),
        nn.Residual(nn.Sequential(nn.Linear(6, 6, rng=rng), nn.DecorrelatedBatchNorm(6, group_size=3))),
        nn.Linear(6, 2, rng=rng),
    )
    for _ in range(5):
        model(rng.standard_normal((16, 4)).astype(np.float32) * 2 + 1)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    model.eval()
    assert not model[1].training and not model[3].block[1].training
    eval_out = model(x)
    np.testing.assert_allclose(model(x[:1]), eval_out[:1], rtol=1e-5)  # eval: examples do not interact
    assert int(model[1].num_batches_tracked) == 5
    model.save(tmp_path / "model.npz")
    loaded = babysit.load(tmp_path / "model.npz").eval()
    np.testing.assert_array_equal(loaded[1].running_var, model[1].running_var)
    np.testing.assert_array_equal(loaded[3].block[1].running_whitening, model[3].block[1].running_whitening)
    assert loaded[1].num_batches_tracked.shape == ()
    np.testing.assert_array_equal(loaded(x), eval_out)
    model.train()
    assert not np.allclose(model(x), eval_out)
    model.to(np.float64)
    assert model[1].running_mean.dtype == np.float64 and model[1].num_batches_tracked.dtype == np.int64


@pytest.mark.parametrize("layer", [nn.BatchNorm1d(3), nn.BatchNorm1d(3, track_running_stats=False),
                                   nn.DecorrelatedBatchNorm(3)])
def test_a_single_value_per_channel_in_train_mode_is_a_clear_error(layer):
    with pytest.raises(InputError, match=rf"{type(layer).__name__}\(3.*single value.*batch of 2 or more"):
        layer(np.ones((1, 3), np.float32))
    layer.eval()
    if getattr(layer, "track_running_stats", True):
        assert layer(np.ones((1, 3), np.float32)).shape == (1, 3)


def test_batchnorm2d_batch_of_one_is_fine_when_positions_give_the_variance(rng):
    out = nn.BatchNorm2d(2)(rng.standard_normal((1, 2, 3, 3)).astype(np.float32))
    assert out.shape == (1, 2, 3, 3)
    with pytest.raises(InputError, match=r"InstanceNorm1d.*2 positions"):
        nn.InstanceNorm1d(2)(np.ones((4, 2, 1), np.float32))


@pytest.mark.parametrize(("layer", "shape", "message"), [
    (nn.BatchNorm1d(5), (4, 3), r"BatchNorm1d\(5.*expected 5 channels on axis 1.*got 3"),
    (nn.BatchNorm2d(5), (4, 5), r"BatchNorm2d\(5.*expected input of shape \(N, 5, H, W\)"),
    (nn.InstanceNorm2d(3), (2, 4, 3, 3), r"InstanceNorm2d\(3.*expected 3 channels"),
    (nn.GroupNorm(2, 4), (2, 6, 3), r"GroupNorm\(2, 4.*expected 4 channels"),
    (nn.LayerNorm((3, 4)), (2, 4, 3), r"LayerNorm\(\(3, 4\).*normalized_shape \(3, 4\), got shape \(2, 4, 3\)"),
    (nn.DecorrelatedBatchNorm(4), (8, 3), r"DecorrelatedBatchNorm\(4.*expected 4 channels"),
])
def test_wrong_channel_count_names_the_layer(layer, shape, message):
    with pytest.raises(InputError, match=message):
        layer(np.ones(shape, np.float32))


def test_errors_inside_a_sequential_name_the_position():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(5))
    with pytest.raises(InputError, match=r"model\[1\] BatchNorm1d\(5"):
        model(np.ones((2, 3), np.float32))


@pytest.mark.parametrize(("build", "message"), [
    (lambda: nn.GroupNorm(3, 4), "divisible"),
    (lambda: nn.DecorrelatedBatchNorm(6, group_size=4), "group_size"),
    (lambda: nn.BatchNorm1d(3, momentum=1.5), "momentum"),
    (lambda: nn.BatchNorm2d(3, eps=0), "eps"),
    (lambda: nn.BatchNorm1d(0), "num_features"),
    (lambda: nn.LayerNorm(()), "normalized_shape"),
])
def test_bad_constructor_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_batchnorm2d_keeps_the_batch_innermost_memory_layout(rng):
    # Conv stacks hand over (N, C, H, W) views of (C, H, W, N) memory; stay in that layout.
    x = np.moveaxis(rng.standard_normal((3, 4, 4, 8)).astype(np.float32), -1, 0)
    layer = nn.BatchNorm2d(3)
    for mode in (True, False):
        layer.train(mode)
        out = layer(x)
        dx = layer.backward(np.moveaxis(np.ones((3, 4, 4, 8), np.float32), -1, 0))
        assert out.strides == x.strides and dx.strides == x.strides
    reference = nn.BatchNorm2d(3)(np.ascontiguousarray(x))
    np.testing.assert_allclose(nn.BatchNorm2d(3)(x), reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: nn.BatchNorm2d(3), lambda: nn.InstanceNorm2d(3, affine=True),
                                  lambda: nn.GroupNorm(3, 3), lambda: nn.LayerNorm((3, 2, 2)),
                                  lambda: nn.DecorrelatedBatchNorm(3)])
@pytest.mark.parametrize("training", [True, False])
def test_float32_stays_float32(make, training, rng):
    layer = make().train(training)
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    out = layer(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    assert all(np.asarray(value).dtype in (np.float32, np.int64) for value in layer.state_dict().values())
