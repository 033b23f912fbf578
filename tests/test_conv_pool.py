"""Convolution and pooling: hand-computed values, PyTorch's values and gradients (when installed),
max-pool ties, errors, frozen layers, buffers reused across calls, and the internal layout."""

import numpy as np
import pytest

import babysit
from babysit import nn
from babysit.errors import InputError
from babysit.functional.conv import batch_last


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _conv(cls, weight, bias=None, **kwargs):
    layer = cls(weight.shape[1], weight.shape[0], weight.shape[2:], bias=bias is not None, dtype=np.float64, **kwargs)
    layer.weight.data[...] = weight
    if bias is not None:
        layer.bias.data[...] = bias
    return layer


# ------------------------------------------------------------------ hand-computed values
def test_conv2d_known_values_and_gradients():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    layer = _conv(nn.Conv2d, np.array([[[[1.0, 0.0], [0.0, -1.0]]]]), bias=np.array([1.0]))
    np.testing.assert_array_equal(layer(x), [[[[-3.0, -3.0], [-3.0, -3.0]]]])  # x[i,j] - x[i+1,j+1] + 1
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(layer.weight.grad, [[[[8.0, 12.0], [20.0, 24.0]]]])
    np.testing.assert_array_equal(layer.bias.grad, [4.0])
    np.testing.assert_array_equal(dx, [[[[1.0, 1.0, 0.0], [1.0, 0.0, -1.0], [0.0, -1.0, -1.0]]]])


def test_conv2d_padding_sums_each_neighbourhood():
    box = _conv(nn.Conv2d, np.ones((1, 1, 3, 3)), padding=1)
    out = box(np.arange(9.0).reshape(1, 1, 3, 3))
    np.testing.assert_array_equal(out[0, 0], [[8, 15, 12], [21, 36, 27], [20, 33, 24]])
    dx = box.backward(np.ones((1, 1, 3, 3)))  # each input is counted once per window it is in
    np.testing.assert_array_equal(dx[0, 0], [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


def test_conv1d_known_values_with_stride_and_padding():
    layer = _conv(nn.Conv1d, np.array([[[1.0, 0.0, -1.0]]]), stride=2, padding=1)
    out = layer(np.array([[[1.0, 2.0, 3.0, 4.0, 5.0]]]))  # padded: 0 1 2 3 4 5 0
    np.testing.assert_array_equal(out, [[[-2.0, -2.0, 4.0]]])
    dx = layer.backward(np.array([[[1.0, 10.0, 100.0]]]))
    np.testing.assert_array_equal(dx, [[[0.0, 10.0 - 1.0, 0.0, 100.0 - 10.0, 0.0]]])


def test_pools_known_values():
    x = np.array([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, -1.0, 6.0]]]])
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x), [[[[4.0, 6.0]]]])
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x), [[[[2.5, 2.5]]]])
    np.testing.assert_array_equal(nn.MaxPool1d(2)(x[:, 0]), [[[2.0, 5.0], [4.0, 6.0]]])
    np.testing.assert_array_equal(nn.AvgPool1d(4)(x[:, 0]), [[[2.0], [3.0]]])
    pool = nn.GlobalAvgPool()
    np.testing.assert_array_equal(pool(x), [[2.5]])
    np.testing.assert_array_equal(pool.backward(np.array([[8.0]])), np.ones_like(x))
    np.testing.assert_array_equal(nn.GlobalAvgPool()(x[:, 0]), [[2.0, 3.0]])


# -------------------------------------------------------------------- max-pool ties
def test_max_pool_ties_route_to_the_first_maximum():
    x = np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 2.0]]]])
    pool = nn.MaxPool2d(2)
    np.testing.assert_array_equal(pool(x), [[[[1.0, 2.0]]]])
    dx = pool.backward(np.array([[[[3.0, 5.0]]]]))
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]]]])


@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 3, 1), ((2, 3), None, 0), (3, 2, 1)])
def test_max_pool_gradient_is_conserved_per_window(kernel, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(3, 2, 7, 8)).astype(np.float64)  # ties everywhere, whole windows equal
    pool = nn.MaxPool2d(kernel, stride=stride, padding=padding)
    out = pool(x)
    dout = rng.standard_normal(out.shape)
    dx = pool.backward(dout)
    np.testing.assert_allclose(dx.sum(), dout.sum())  # nothing double-counted, nothing lost
    assert np.count_nonzero(dx) <= out.size
    all_ones = pool.backward(np.ones_like(out))
    assert set(np.unique(all_ones)) <= set(range(10))  # every element got a whole number of windows


# ------------------------------------------------------------------- against PyTorch
def _torch_grads(torch, function, arrays, dout):
    tensors = [torch.from_numpy(a).requires_grad_(True) for a in arrays]
    out = function(*tensors)
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


CONV2D = [
    dict(kernel_size=3), dict(kernel_size=3, padding=1), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)), dict(kernel_size=3, padding=2, dilation=2),
    dict(kernel_size=(2, 3), stride=(1, 3), padding=(0, 2), dilation=(3, 1)), dict(kernel_size=1),
    dict(kernel_size=1, stride=2), dict(kernel_size=4, stride=4), dict(kernel_size=3, padding=4),
    dict(kernel_size=5, stride=3, padding=2), dict(kernel_size=3, padding=1, bias=False),
    dict(kernel_size=1, bias=False),
]


@pytest.mark.torch
@pytest.mark.parametrize("config", CONV2D, ids=str)
def test_conv2d_matches_torch(torch, config):
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(3, 4, rng=rng, dtype=np.float64, **config)
    x = rng.standard_normal((5, 3, 9, 8))
    out = layer(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    arrays = [x, layer.weight.data.copy()] + ([] if layer.bias is None else [layer.bias.data.copy()])
    expected, grads = _torch_grads(
        torch, lambda xt, w, b=None: torch.nn.functional.conv2d(xt, w, b, layer.stride, layer.padding, layer.dilation),
        arrays, dout)
    ours = [out, dx, layer.weight.grad] + ([] if layer.bias is None else [layer.bias.grad])
    for mine, theirs in zip(ours, [expected, *grads], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("config", [dict(kernel_size=5, stride=2, padding=1), dict(kernel_size=3, dilation=3),
                                    dict(kernel_size=1), dict(kernel_size=4, stride=3, padding=3)], ids=str)
def test_conv1d_matches_torch(torch, config):
    rng = np.random.default_rng(1)
    layer = nn.Conv1d(2, 3, rng=rng, dtype=np.float64, **config)
    x = rng.standard_normal((4, 2, 13))
    out = layer(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    stride, padding, dilation = layer.stride[0], layer.padding[0], layer.dilation[0]
    expected, (tdx, tdw, tdb) = _torch_grads(
        torch, lambda xt, w, b: torch.nn.functional.conv1d(xt, w, b, stride, padding, dilation),
        [x, layer.weight.data.copy(), layer.bias.data.copy()], dout)
    for ours, theirs in ((out, expected), (dx, tdx), (layer.weight.grad, tdw), (layer.bias.grad, tdb)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


POOLS = [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 0)), (3, None, 0), (2, 1, 1), ((2, 4), None, 0)]


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel, stride, padding", POOLS, ids=str)
def test_pool2d_matches_torch_including_ties(torch, kind, kernel, stride, padding):
    rng = np.random.default_rng(2)
    x = rng.integers(-2, 3, size=(3, 2, 10, 12)).astype(np.float64)  # many ties; 2x2 windows tile it
    pool = (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(kernel, stride=stride, padding=padding)
    out = pool(x)
    dout = rng.standard_normal(out.shape)
    reference = getattr(torch.nn.functional, f"{kind}_pool2d")
    expected, (tdx,) = _torch_grads(torch, lambda t: reference(t, kernel, stride, padding), [x], dout)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_allclose(pool.backward(dout), tdx, rtol=1e-12, atol=1e-14)


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 1), (4, 1, 2), (5, None, 0)], ids=str)
def test_pool1d_matches_torch_including_ties(torch, kind, kernel, stride, padding):
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 3, size=(3, 2, 12)).astype(np.float64)
    pool = (nn.MaxPool1d if kind == "max" else nn.AvgPool1d)(kernel, stride=stride, padding=padding)
    out = pool(x)
    dout = rng.standard_normal(out.shape)
    reference = getattr(torch.nn.functional, f"{kind}_pool1d")
    expected, (tdx,) = _torch_grads(torch, lambda t: reference(t, kernel, stride, padding), [x], dout)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_allclose(pool.backward(dout), tdx, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- errors and arguments
def test_input_errors_name_the_layer():
    conv = nn.Conv2d(3, 32, 3, padding=1)
    with pytest.raises(InputError, match=r"Conv2d\(3 -> 32, kernel_size=3, padding=1\): expected 3 channels"):
        conv(np.zeros((2, 4, 8, 8), dtype=np.float32))
    with pytest.raises(InputError, match=r"shape \(N, 3, H, W\)"):
        conv(np.zeros((2, 3, 8), dtype=np.float32))
    with pytest.raises(InputError, match="floating-point"):
        conv(np.zeros((2, 3, 8, 8), dtype=np.int64))
    with pytest.raises(InputError, match="float32"):
        conv(np.zeros((2, 3, 8, 8)))
    with pytest.raises(InputError, match=r"Conv1d\(1 -> 2, kernel_size=5\): input of spatial size \(4,\) is too small"):
        nn.Conv1d(1, 2, 5)(np.zeros((1, 1, 4), dtype=np.float32))
    with pytest.raises(InputError, match=r"MaxPool2d\(kernel_size=3\).*too small"):
        nn.MaxPool2d(3)(np.zeros((1, 1, 2, 5)))
    with pytest.raises(InputError, match="GlobalAvgPool"):
        nn.GlobalAvgPool()(np.zeros((2, 3)))
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(5, 4, 3))
    with pytest.raises(InputError, match=r"model\[2\] Conv2d\(5 -> 4, kernel_size=3\): expected 5 channels"):
        model(np.zeros((1, 3, 8, 8), dtype=np.float32))


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(3, 4, 0), "kernel_size must be a positive int or a sequence of 2 positive ints, got 0"),
    (lambda: nn.Conv2d(3, 4, (3, 0)), r"kernel_size .* got \(3, 0\)"),
    (lambda: nn.Conv2d(3, 4, (3, 3, 3)), r"kernel_size .* got \(3, 3, 3\)"),
    (lambda: nn.Conv2d(3, 4, 3, stride=0), "stride must be a positive int"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), "padding must be a non-negative int .* got -1"),
    (lambda: nn.Conv1d(3, 4, 3, dilation=1.5), "Conv1d: dilation must be a positive int, got 1.5"),
    (lambda: nn.Conv1d(0, 4, 3), "in_channels must be a positive int, got 0"),
    (lambda: nn.Conv2d(3, 4, True), "kernel_size .* got True"),
    (lambda: nn.Conv2d(3, 4, 3, init="bogus"), "unknown initializer 'bogus'"),
    (lambda: nn.MaxPool2d(2, padding=2), "MaxPool2d: padding must be at most half of kernel_size"),
    (lambda: nn.AvgPool1d(0), "AvgPool1d: kernel_size must be a positive int, got 0"),
])
def test_constructor_arguments_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_repr_and_initialization_fans():
    assert repr(nn.Conv2d(2, 3, (3, 2), stride=(1, 2), bias=False)) == \
        "Conv2d(2 -> 3, kernel_size=(3, 2), stride=(1, 2), bias=False)"
    assert repr(nn.MaxPool2d(3, stride=2, padding=1)) == "MaxPool2d(kernel_size=3, stride=2, padding=1)"
    fans = []
    nn.Conv2d(4, 8, (3, 5), init=lambda shape, fan_in, fan_out, rng, dtype: fans.append((fan_in, fan_out))
              or np.zeros(shape, dtype))
    assert fans == [(4 * 15, 8 * 15)]
    weight = nn.Conv2d(64, 64, 3, rng=0).weight.data
    assert weight.shape == (64, 64, 3, 3) and weight.dtype == np.float32
    assert weight.std() == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.03)  # He: sqrt(2 / fan_in)


# ------------------------------------------------------- gradients that are not needed
def test_frozen_conv_gets_no_gradient_but_passes_one_on():
    model = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0), nn.ReLU(), nn.Conv2d(3, 2, 3, rng=1))
    model[2].freeze()
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 7)).astype(np.float32)
    out = model(x)
    dx = model.backward(np.ones_like(out))
    assert model[2].weight.grad is None and model[2].bias.grad is None
    assert model[0].weight.grad is not None and dx.shape == x.shape


def test_no_input_gradient_for_the_data():
    model = nn.Sequential(nn.Conv1d(1, 3, 3, rng=0), nn.ReLU(), nn.MaxPool1d(2))
    model.needs_input_grad = False
    out = model(np.ones((2, 1, 9), dtype=np.float32))
    assert model.backward(np.ones_like(out)) is None
    assert model[0].weight.grad is not None and model[0].bias.grad is not None


# -------------------------------------------------- persistent buffers and the layout
@pytest.mark.parametrize("make, spatial", [
    (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=0, dtype=np.float64), (7, 6)),
    (lambda: nn.Conv1d(2, 3, 3, padding=1, rng=0, dtype=np.float64), (9,)),
])
def test_buffers_reused_across_calls_never_corrupt_results(make, spatial):
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 4, 2, *spatial))
    layer, reference = make(), make()
    out1 = layer(x1)
    kept = out1.copy()
    out2 = layer(x2)
    np.testing.assert_array_equal(out1, kept)  # the second forward did not overwrite the first output
    np.testing.assert_allclose(out2, reference(x2), rtol=1e-14)
    dout = rng.standard_normal(out2.shape)
    dx1 = layer.backward(dout)  # backward of the second forward
    first = dx1.copy()
    dx2 = layer.backward(dout)  # and again: same dx, accumulated weight gradient
    np.testing.assert_array_equal(dx1, first)
    np.testing.assert_allclose(dx2, reference.backward(dout), rtol=1e-14)
    np.testing.assert_allclose(layer.weight.grad, 2 * reference.weight.grad, rtol=1e-14)


def test_changing_input_sizes_keep_padding_zero():
    """H=32 and H=31 give the same output size with stride 2: the padded border must stay zero."""
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=0, dtype=np.float64)
    for shape in [(4, 2, 32, 32), (4, 2, 31, 31), (3, 2, 31, 32), (4, 2, 32, 32)]:
        x = rng.standard_normal(shape)
        fresh = nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=0, dtype=np.float64)
        np.testing.assert_allclose(layer(x), fresh(x), rtol=1e-14)


def test_any_input_strides_give_the_same_result():
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(3, 4, 3, padding=1, rng=0, dtype=np.float64)
    x = rng.standard_normal((2, 3, 10, 12))
    expected = layer(x)
    for view in (np.asfortranarray(x), np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2),
                 np.repeat(x, 2, axis=3)[..., ::2]):
        np.testing.assert_allclose(layer(view), expected, rtol=1e-14)


def test_conv_relu_pool_conv_chain_makes_no_layout_copies():
    rng = np.random.default_rng(0)
    conv1, relu, pool, conv2 = nn.Conv2d(3, 8, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 4, 3)
    x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    a = conv1(x)
    b = relu(a)
    c = pool(b)
    d = conv2(c)
    for array in (a, b, c, d):  # (N, C, H, W) views of batch-innermost memory
        internal = batch_last(array)
        assert internal.flags.c_contiguous and np.shares_memory(internal, array)
    grads = [np.ones_like(d)]
    for layer in (conv2, pool, relu):
        grads.append(layer.backward(grads[-1]))
    for grad in grads[1:]:
        assert np.shares_memory(batch_last(grad), grad)


def test_cnn_saves_and_reloads(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, (3, 2), stride=(2, 1), padding=(1, 0), rng=0), nn.ReLU(),
                          nn.MaxPool2d((1, 2)), nn.GlobalAvgPool(), nn.Linear(2, 3, rng=1))
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 5)).astype(np.float32)
    model.save(tmp_path / "cnn.npz")
    loaded = babysit.load(tmp_path / "cnn.npz")
    assert repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded(x), model(x))
