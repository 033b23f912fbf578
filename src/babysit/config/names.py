"""What a config may name: layers, losses, optimizers, schedules, callbacks, data sets, checks.

Each registry maps the name written in a config to the callable that builds it. A
config entry is ``{type: NAME, <argument>: <value>, ...}``; :func:`check_arguments`
compares its arguments with the callable's signature, so a misspelled argument is
named along with the ones that exist.
"""

from __future__ import annotations

import difflib
import inspect
from functools import partial

from babysit import data as datasets
from babysit import nn, optim, schedules, train
from babysit.data import PCA, PCAWhitening, Standardize, ZCAWhitening, ZeroCenter, augment
from babysit.diagnostics.preflight import CHECKS

#: Layers by name. Containers other than Residual and the losses are not layers of a list.
LAYERS: dict[str, type] = {
    name: getattr(nn, name) for name in (
        "Linear", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "GlobalAvgPool",
        "Flatten", "ReLU", "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh", "Maxout", "Dropout", "DropConnect",
        "GaussianNoise", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "InstanceNorm1d", "InstanceNorm2d", "GroupNorm",
        "DecorrelatedBatchNorm", "Residual",
    )
}

#: The constructor argument each layer takes from the shape of its input ``(N, C, ...)``
#: (or ``(N, features)``), and how it is read off that shape.
INFERRED: dict[str, tuple[str, object]] = {
    "Linear": ("in_features", lambda shape: shape[1]),
    "DropConnect": ("in_features", lambda shape: shape[1]),
    "Maxout": ("in_features", lambda shape: shape[1]),
    "Conv1d": ("in_channels", lambda shape: shape[1]),
    "Conv2d": ("in_channels", lambda shape: shape[1]),
    "BatchNorm1d": ("num_features", lambda shape: shape[1]),
    "BatchNorm2d": ("num_features", lambda shape: shape[1]),
    "InstanceNorm1d": ("num_features", lambda shape: shape[1]),
    "InstanceNorm2d": ("num_features", lambda shape: shape[1]),
    "DecorrelatedBatchNorm": ("num_features", lambda shape: shape[1]),
    "GroupNorm": ("num_channels", lambda shape: shape[1]),
    "LayerNorm": ("normalized_shape", lambda shape: list(shape[1:])),
}

#: Layers that read 2-D input ``(N, features)`` only: the builder says to add a Flatten.
FLAT_INPUT = frozenset({"Linear", "DropConnect", "Maxout"})

LOSSES: dict[str, type] = {name: getattr(nn, name) for name in ("SoftmaxCrossEntropy", "MulticlassHinge", "MSELoss")}
PENALTIES: dict[str, type] = {"L1Penalty": nn.L1Penalty, "L2Penalty": nn.L2Penalty}

#: L-BFGS needs a closure that re-evaluates the full-batch loss; the mini-batch Trainer has none.
OPTIMIZERS: dict[str, type] = {name: cls for name, cls in optim.OPTIMIZERS.items() if name != "lbfgs"}

SCHEDULES: dict[str, type] = dict(schedules.SCHEDULES)

CALLBACKS: dict[str, type] = {
    name: getattr(train, name)
    for name in ("EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN", "ExplosionGuard",
                 "CSVLogger")
}

#: Data augmentations (applied to each training batch) by class name.
AUGMENTATIONS: dict[str, type] = {
    name: getattr(augment, name)
    for name in ("RandomHorizontalFlip", "RandomCrop", "RandomTranslate", "RandomScale", "ColorJitter",
                 "AddGaussianNoise", "Cutout")
}

PREPROCESSORS: dict[str, type] = {
    "zero_center": ZeroCenter, "standardize": Standardize, "pca": PCA, "pca_whitening": PCAWhitening,
    "zca_whitening": ZCAWhitening,
}

#: Data sets by name; those in FILE_DATASETS read files the user has (``path``).
DATASETS: dict[str, object] = {
    "mnist1d": partial(datasets.mnist1d, shuffled=False),
    "mnist1d_shuffled": partial(datasets.mnist1d, shuffled=True),
    "digits": datasets.digits,
    "spirals": datasets.spirals,
    "blobs": datasets.blobs,
    "cifar10": datasets.load_cifar10,
    "mnist": datasets.load_mnist,
    "fashion_mnist": datasets.load_fashion_mnist,
}
FILE_DATASETS = frozenset({"cifar10", "mnist", "fashion_mnist"})

PREFLIGHT_CHECKS: tuple[str, ...] = tuple(CHECKS)

#: Arguments the builder supplies itself; a config may not set them.
SUPPLIED = frozenset({"self", "rng", "dtype", "params", "parameters", "seed", "val_size", "shuffled"})


def canonical_name(kind: str, name, registry: dict, *, ignore_case: bool = False) -> str:
    """``name`` as the registry spells it, or a ValueError listing the allowed names (and the closest)."""
    if not isinstance(name, str):
        raise ValueError(f"{kind} must be a name (a string), got {name!r}; allowed: {', '.join(registry)}")
    if name in registry:
        return name
    folded = {key.lower(): key for key in registry}
    if ignore_case and name.lower() in folded:
        return folded[name.lower()]
    close = folded.get(name.lower()) or next(iter(difflib.get_close_matches(name, list(registry), n=1)), None)
    hint = f" (did you mean {close!r}?)" if close else ""
    raise ValueError(f"unknown {kind} {name!r}{hint}; allowed: {', '.join(registry)}")


def signature_arguments(target) -> tuple[list[str], list[str]]:
    """``(accepted, required)`` keyword arguments of ``target``, without those the builder supplies."""
    parameters = inspect.signature(target).parameters.values()
    usable = [p for p in parameters if p.name not in SUPPLIED and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    required = [p.name for p in usable if p.default is inspect.Parameter.empty]
    return [p.name for p in usable], required


def check_arguments(what: str, target, given, *, inferred=(), fields=()) -> None:
    """Raise a ValueError naming unknown arguments (and the accepted ones) or missing required ones.

    ``inferred`` are filled in by the builder when absent (so not required); ``fields``
    are the config entry's own keys, listed among the allowed ones.
    """
    accepted, required = signature_arguments(target)
    accepted = list(fields) + [name for name in accepted if name not in fields]
    unknown = [key for key in given if key not in accepted]
    if unknown:
        listed = ", ".join(accepted) if accepted else "none"
        hints = [match for key in unknown for match in difflib.get_close_matches(key, accepted, n=1)]
        hint = f" (did you mean {hints[0]!r}?)" if len(unknown) == 1 and hints else ""
        plural = "s" if len(unknown) > 1 else ""
        noun = "key" if fields else "argument"
        raise ValueError(f"{what} has no {noun}{plural} {', '.join(map(repr, unknown))}{hint}; allowed: {listed}")
    missing = [name for name in required if name not in given and name not in inferred]
    if missing:
        raise ValueError(f"{what} needs {', '.join(map(repr, missing))} (its arguments: {', '.join(accepted)})")
