"""Normalization layers against torch.nn: outputs, gradients and running statistics, step by step."""

import numpy as np
import pytest

from babysit import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

CASES = [
    ("BatchNorm1d", {"num_features": 4}, (8, 4)),
    ("BatchNorm1d", {"num_features": 3, "momentum": None}, (5, 3, 7)),
    ("BatchNorm1d", {"num_features": 3, "track_running_stats": False}, (6, 3)),
    ("BatchNorm1d", {"num_features": 3, "affine": False, "momentum": 0.3}, (6, 3, 2)),
    ("BatchNorm2d", {"num_features": 3, "eps": 1e-3}, (4, 3, 5, 6)),
    ("InstanceNorm1d", {"num_features": 3}, (4, 3, 9)),
    ("InstanceNorm2d", {"num_features": 2, "affine": True, "track_running_stats": True}, (3, 2, 4, 5)),
    ("LayerNorm", {"normalized_shape": 6}, (5, 6)),
    ("LayerNorm", {"normalized_shape": (3, 4), "elementwise_affine": True}, (2, 5, 3, 4)),
    ("GroupNorm", {"num_groups": 2, "num_channels": 6}, (3, 6, 4, 2)),
    ("GroupNorm", {"num_groups": 3, "num_channels": 3, "affine": False}, (4, 3, 5)),
]


def _pair(name, kwargs, dtype):
    ours = getattr(nn, name)(**kwargs, dtype=dtype)
    theirs = getattr(torch.nn, name)(**kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    rng = np.random.default_rng(0)
    for p in ours.parameters():  # non-trivial affine parameters, copied through the state dict
        p.data[...] = rng.uniform(0.5, 1.5, p.shape) if p is ours.weight else rng.normal(size=p.shape)
    theirs.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in ours.state_dict().items()})
    return ours, theirs


def _step(ours, theirs, x, dout):
    xt = torch.from_numpy(x.copy()).requires_grad_()
    out_t = theirs(xt)
    out_t.backward(torch.from_numpy(dout))
    out = ours(x)
    dx = ours.backward(dout)
    return (out, out_t.detach().numpy()), (dx, xt.grad.numpy())


def _assert_same(ours, theirs, rtol, atol):
    for name, value in ours.state_dict().items():
        if name == "num_batches_tracked" and "InstanceNorm" in type(ours).__name__:
            continue  # torch's InstanceNorm never counts batches; ours does, for momentum=None
        np.testing.assert_allclose(value, theirs.state_dict()[name].numpy(), rtol=rtol, atol=atol, err_msg=name)
    for name, p in ours.named_parameters():
        grad = getattr(theirs, name).grad.numpy()
        np.testing.assert_allclose(p.grad, grad, rtol=rtol, atol=atol, err_msg=f"grad of {name}")


@pytest.mark.parametrize(("dtype", "rtol", "atol"), [(np.float64, 1e-10, 1e-12), (np.float32, 1e-4, 1e-5)])
@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch_in_train_and_eval_mode(name, kwargs, shape, dtype, rtol, atol):
    ours, theirs = _pair(name, kwargs, dtype)
    rng = np.random.default_rng(1)
    for mode in ("train", "train", "train", "eval", "train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        ours.zero_grad()
        theirs.zero_grad()
        x = (rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)).astype(dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        for mine, reference in _step(ours, theirs, x, dout):
            np.testing.assert_allclose(mine, reference, rtol=rtol, atol=atol, err_msg=f"{name} {mode}")
        _assert_same(ours, theirs, rtol, atol)


def test_state_dict_names_and_shapes_match_torch():
    for ours, theirs in [(nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)),
                         (nn.LayerNorm((2, 3)), torch.nn.LayerNorm((2, 3))),
                         (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
                         (nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
                          torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True))]:
        mine = ours.state_dict()
        reference = theirs.state_dict()
        assert mine.keys() == reference.keys()
        for key, value in mine.items():
            assert value.shape == tuple(reference[key].shape), key


def test_batchnorm2d_float32_on_a_conv_sized_batch_matches_torch():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((16, 8, 12, 12)) * 4 + 3).astype(np.float32)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    ours, theirs = _pair("BatchNorm2d", {"num_features": 8}, np.float32)
    for mine, reference in _step(ours, theirs, x, dout):
        np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=2e-5)
    _assert_same(ours, theirs, rtol=1e-4, atol=2e-4)
