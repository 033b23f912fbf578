"""Decorrelated BatchNorm: the whitened batch has identity covariance, BatchNorm's does not."""

import numpy as np
import pytest

from babysit import nn


def _covariance(out):
    columns = np.moveaxis(out, 1, 0).reshape(out.shape[1], -1)
    centred = columns - columns.mean(axis=1, keepdims=True)
    return centred @ centred.T / columns.shape[1]


def _correlated(rng, n, channels, *spatial):
    mixing = rng.standard_normal((channels, channels)) + np.eye(channels)
    x = np.einsum("dc,nc...->nd...", mixing, rng.standard_normal((n, channels, *spatial)))
    return x + rng.normal(size=(1, channels) + (1,) * len(spatial)) * 3


def test_a_known_covariance_is_whitened_back_to_the_source_by_hand():
    # z has mean 0 and covariance I; x = Sigma^(1/2) z with Sigma = [[2, 1], [1, 2]]
    # (eigenvalues 3 and 1 along (1, 1) and (1, -1)), so ZCA whitening must return z.
    z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    root = 0.5 * np.array([[np.sqrt(3) + 1, np.sqrt(3) - 1], [np.sqrt(3) - 1, np.sqrt(3) + 1]])
    x = z @ root.T + [5.0, -1.0]
    layer = nn.DecorrelatedBatchNorm(2, eps=1e-12, dtype=np.float64)
    np.testing.assert_allclose(layer(x), z, atol=1e-9)
    # The running whitening matrix moved 10% of the way from I to Sigma^(-1/2).
    inverse_root = 0.5 * np.array([[1 / np.sqrt(3) + 1, 1 / np.sqrt(3) - 1], [1 / np.sqrt(3) - 1, 1 / np.sqrt(3) + 1]])
    np.testing.assert_allclose(layer.running_whitening[0], 0.9 * np.eye(2) + 0.1 * inverse_root, atol=1e-9)
    np.testing.assert_allclose(layer.running_mean, [0.5, -0.1])


@pytest.mark.parametrize("spatial", [(), (5,), (3, 4)])
def test_whitened_covariance_is_identity_and_batchnorm_is_not_decorrelated(rng, spatial):
    x = _correlated(rng, 256, 6, *spatial)
    whitened = _covariance(nn.DecorrelatedBatchNorm(6, dtype=np.float64)(x))
    np.testing.assert_allclose(whitened, np.eye(6), atol=1e-3)
    batchnorm = nn.BatchNorm2d if len(spatial) == 2 else nn.BatchNorm1d
    standardized = _covariance(batchnorm(6, dtype=np.float64)(x))
    np.testing.assert_allclose(np.diag(standardized), 1.0, atol=1e-3)  # unit variances...
    off_diagonal = np.abs(standardized - np.diag(np.diag(standardized)))
    assert off_diagonal.max() > 0.3  # ...but the features stay correlated


def test_groups_are_whitened_separately(rng):
    x = _correlated(rng, 200, 6, 2)
    covariance = _covariance(nn.DecorrelatedBatchNorm(6, group_size=3, dtype=np.float64)(x))
    for g in range(2):
        block = covariance[3 * g:3 * g + 3, 3 * g:3 * g + 3]
        np.testing.assert_allclose(block, np.eye(3), atol=1e-3)
    assert np.abs(covariance[:3, 3:]).max() > 0.05  # across groups nothing is promised


def test_eval_mode_whitens_with_the_running_estimates(rng):
    mixing = rng.standard_normal((4, 4)) + np.eye(4)
    layer = nn.DecorrelatedBatchNorm(4, momentum=None, dtype=np.float64)
    for _ in range(30):
        layer(rng.standard_normal((128, 4)) @ mixing.T + 2.0)
    layer.eval()
    out = layer(rng.standard_normal((4000, 4)) @ mixing.T + 2.0)
    np.testing.assert_allclose(_covariance(out), np.eye(4), atol=0.15)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=0.15)
    np.testing.assert_allclose(layer.running_whitening[0], layer.running_whitening[0].T)  # ZCA: symmetric


def test_scale_and_shift_apply_after_whitening(rng):
    x = _correlated(rng, 64, 3)
    layer = nn.DecorrelatedBatchNorm(3, dtype=np.float64)
    plain = nn.DecorrelatedBatchNorm(3, affine=False, dtype=np.float64)(x)
    layer.weight.data[:] = [1.0, 2.0, 3.0]
    layer.bias.data[:] = [0.0, -1.0, 1.0]
    np.testing.assert_allclose(layer(x), plain * [1.0, 2.0, 3.0] + [0.0, -1.0, 1.0])


def test_forward_and_backward_match_torch_autograd_through_eigh(rng):
    torch = pytest.importorskip("torch")
    x = _correlated(rng, 10, 4, 3)
    dout = rng.standard_normal(x.shape)
    layer = nn.DecorrelatedBatchNorm(4, group_size=2, eps=1e-3, dtype=np.float64)
    layer.weight.data[:] = rng.uniform(0.5, 2, 4)
    out = layer(x)
    dx = layer.backward(dout)

    xt = torch.tensor(x, requires_grad=True)
    weight = torch.tensor(layer.weight.data, requires_grad=True)
    columns = xt.transpose(0, 1).reshape(2, 2, -1)
    centred = columns - columns.mean(dim=2, keepdim=True)
    covariance = centred @ centred.transpose(1, 2) / centred.shape[2] + 1e-3 * torch.eye(2, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(covariance)
    whitening = vectors @ torch.diag_embed(values.rsqrt()) @ vectors.transpose(1, 2)
    xhat = (whitening @ centred).reshape(4, 10, 3).transpose(0, 1)
    reference = xhat * weight[None, :, None]
    reference.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, reference.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(layer.weight.grad, weight.grad.numpy(), rtol=1e-10)


def test_backward_stays_finite_when_eigenvalues_coincide():
    # Perfectly uncorrelated unit-variance features: all eigenvalues equal, where the
    # paper's 1 / (lambda_i - lambda_j) form divides by zero.
    z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    layer = nn.DecorrelatedBatchNorm(2, dtype=np.float64)
    layer(z)
    dx = layer.backward(np.arange(8.0).reshape(4, 2))
    assert np.isfinite(dx).all()
