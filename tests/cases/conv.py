"""Gradient-check cases for the convolution and pooling layers (float64, tolerance 1e-6)."""

from babysit import nn
from tests.cases import ModuleCase, away_from_zero


def distinct(rng, shape):
    """A random permutation of 0.1, 0.2, ...: no two values tie, and none is within h of another."""
    size = 1
    for dim in shape:
        size *= dim
    return (rng.permutation(size).reshape(shape) - size / 2) * 0.1


def _small_cnn(rng):
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.ReLU(),
        nn.Flatten(), nn.Linear(4 * 3 * 3, 5, rng=rng),
    )


def _residual_projection(rng):
    block = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=rng), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, padding=1, rng=rng))
    return nn.Residual(block, shortcut=nn.Conv2d(3, 4, 1, stride=2, rng=rng))


MODULE_CASES = [
    ModuleCase("conv1d", lambda rng: nn.Conv1d(2, 3, 3, rng=rng), (3, 2, 9)),
    ModuleCase("conv1d_stride2_pad1", lambda rng: nn.Conv1d(2, 3, 4, stride=2, padding=1, rng=rng), (3, 2, 11)),
    ModuleCase("conv1d_dilated_no_bias",
               lambda rng: nn.Conv1d(2, 3, 3, padding=2, dilation=2, bias=False, rng=rng), (2, 2, 8)),
    ModuleCase("conv2d", lambda rng: nn.Conv2d(2, 3, 3, rng=rng), (2, 2, 5, 5)),
    ModuleCase("conv2d_stride2_pad1", lambda rng: nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=rng), (2, 2, 7, 6)),
    ModuleCase("conv2d_non_square",
               lambda rng: nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(1, 0), rng=rng), (2, 2, 5, 7)),
    ModuleCase("conv2d_dilated",
               lambda rng: nn.Conv2d(2, 2, 3, padding=2, dilation=(2, 1), rng=rng), (2, 2, 6, 5)),
    ModuleCase("conv2d_1x1", lambda rng: nn.Conv2d(3, 2, 1, rng=rng), (2, 3, 4, 3)),
    ModuleCase("maxpool1d", lambda rng: nn.MaxPool1d(2), (2, 3, 8), make_input=distinct),
    ModuleCase("maxpool1d_overlap_pad", lambda rng: nn.MaxPool1d(3, stride=2, padding=1), (2, 3, 9),
               make_input=distinct),
    ModuleCase("maxpool2d", lambda rng: nn.MaxPool2d(2), (2, 3, 4, 6), make_input=distinct),
    ModuleCase("maxpool2d_overlap_pad", lambda rng: nn.MaxPool2d(3, stride=2, padding=1), (2, 2, 7, 6),
               make_input=distinct),
    ModuleCase("maxpool2d_non_square_remainder", lambda rng: nn.MaxPool2d((2, 3)), (2, 2, 5, 7),
               make_input=distinct),
    ModuleCase("avgpool1d", lambda rng: nn.AvgPool1d(3, stride=2), (2, 3, 9)),
    ModuleCase("avgpool2d", lambda rng: nn.AvgPool2d(2), (2, 3, 4, 6)),
    ModuleCase("avgpool2d_overlap_pad", lambda rng: nn.AvgPool2d(3, stride=2, padding=1), (2, 2, 7, 6)),
    ModuleCase("global_avg_pool_1d", lambda rng: nn.GlobalAvgPool(), (3, 4, 5)),
    ModuleCase("global_avg_pool_2d", lambda rng: nn.GlobalAvgPool(), (3, 4, 5, 2)),
    ModuleCase("small_cnn", _small_cnn, (2, 2, 6, 6), make_input=away_from_zero),
    ModuleCase("residual_conv_projection", _residual_projection, (2, 3, 6, 6)),
]
