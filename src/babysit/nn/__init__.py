"""Layers, containers and losses with explicit forward and backward passes."""

from babysit.nn.activations import ELU, LeakyReLU, Maxout, PReLU, ReLU, Sigmoid, Tanh
from babysit.nn.batchnorm import BatchNorm1d, BatchNorm2d
from babysit.nn.containers import Residual, Sequential
from babysit.nn.conv import Conv1d, Conv2d
from babysit.nn.decorrelated import DecorrelatedBatchNorm
from babysit.nn.flatten import Flatten
from babysit.nn.groupnorm import GroupNorm
from babysit.nn.instancenorm import InstanceNorm1d, InstanceNorm2d
from babysit.nn.layernorm import LayerNorm
from babysit.nn.linear import Linear
from babysit.nn.losses import DistillationLoss, Loss, MSELoss, MulticlassHinge, SoftmaxCrossEntropy
from babysit.nn.module import MODULE_REGISTRY, Module, Parameter
from babysit.nn.penalties import L1Penalty, L2Penalty
from babysit.nn.pool import AvgPool1d, AvgPool2d, GlobalAvgPool, MaxPool1d, MaxPool2d
from babysit.nn.regularization import DropConnect, Dropout, GaussianNoise, MaxNorm, max_norm, stochastic_depth_probs

__all__ = [
    "BatchNorm1d", "BatchNorm2d", "DecorrelatedBatchNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "LayerNorm",
    "AvgPool1d", "AvgPool2d", "Conv1d", "Conv2d", "GlobalAvgPool", "MaxPool1d", "MaxPool2d",
    "ELU", "DistillationLoss", "Flatten", "L1Penalty", "L2Penalty", "LeakyReLU", "Linear", "Loss",
    "MODULE_REGISTRY", "MSELoss", "Maxout", "Module", "MulticlassHinge", "PReLU", "Parameter", "ReLU",
    "Residual", "Sequential", "Sigmoid", "SoftmaxCrossEntropy", "Tanh",
    "DropConnect", "Dropout", "GaussianNoise", "MaxNorm", "max_norm", "stochastic_depth_probs",
]
