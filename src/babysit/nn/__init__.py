"""Layers, containers and losses with explicit forward and backward passes."""

from babysit.nn.activations import ELU, PReLU, LeakyReLU, Maxout, ReLU, Sigmoid, Tanh
from babysit.nn.containers import Residual, Sequential
from babysit.nn.flatten import Flatten
from babysit.nn.linear import Linear
from babysit.nn.losses import DistillationLoss, Loss, MSELoss, MulticlassHinge, SoftmaxCrossEntropy
from babysit.nn.module import MODULE_REGISTRY, Module, Parameter
from babysit.nn.penalties import L1Penalty, L2Penalty

__all__ = [
    "ELU", "DistillationLoss", "Flatten", "L1Penalty", "L2Penalty", "LeakyReLU", "Linear", "Loss",
    "MODULE_REGISTRY", "MSELoss", "Maxout", "Module", "MulticlassHinge", "PReLU", "Parameter", "ReLU",
    "Residual", "Sequential", "Sigmoid", "SoftmaxCrossEntropy", "Tanh",
]
