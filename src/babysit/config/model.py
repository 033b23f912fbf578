"""Build the config's list of layers into a model, inferring each layer's input size from the data.

Layers are built one at a time and a small batch of real training data is passed through
each as it is made, so a layer is given the shape that actually reaches it: ``Linear``
its ``in_features``, a convolution its ``in_channels``, a normalization its
``num_features``. A shape that cannot fit (a ``Linear`` after a convolution without a
``Flatten``, a kernel longer than its input) is reported at the layer that gets it.
"""

from __future__ import annotations

import inspect

import numpy as np

from babysit import nn
from babysit.config.loading import ConfigError
from babysit.config.names import FLAT_INPUT, INFERRED, LAYERS
from babysit.config.schema import LayerSpec


def build_model(layers: list[LayerSpec], sample: np.ndarray, rng) -> nn.Sequential:
    """A :class:`~babysit.nn.Sequential` of ``layers``; ``sample`` is a batch of training inputs ``(n, ...)``.

    Parameters
    ----------
    layers : list of LayerSpec
    sample : ndarray
        Two or more training examples, already preprocessed, in the model's dtype.
    rng : numpy Generator
        Initializes the weights and drives the random layers (dropout, noise, stochastic depth).

    Raises
    ------
    ConfigError
        Naming the layer (``model[4] (Linear)``) and what it received.
    """
    model, _ = _sequence(layers, np.asarray(sample), rng, "model")
    return model.train()


def shapes(model: nn.Sequential, sample: np.ndarray) -> list[tuple[int, ...]]:
    """The output shape of every layer of ``model`` on ``sample`` (eval mode), for printing the model."""
    found, x = [], sample
    model.eval()
    for layer in model:
        x = layer(x)
        found.append(tuple(x.shape[1:]))
    model.train()
    return found


def _sequence(layers, x, rng, where) -> tuple[nn.Sequential, np.ndarray]:
    modules = []
    for index, spec in enumerate(layers):
        module, x = _layer(spec, x, rng, f"{where}[{index}]")
        modules.append(module)
    return nn.Sequential(*modules), x


def _layer(spec: LayerSpec, x, rng, where) -> tuple[nn.Module, np.ndarray]:
    label = f"{where} ({spec.type})"
    if spec.type in FLAT_INPUT and x.ndim != 2:
        raise ConfigError(f"{label}: reads (N, features) but receives {_shape(x)}: put {{type: Flatten}} before it")
    arguments = {**spec.args, **_inferred(spec, x, where)}
    if spec.type == "Residual":
        arguments["block"], _ = _sequence(spec.block, x, rng, f"{where}.block")
        if spec.shortcut is not None:
            arguments["shortcut"], _ = _sequence(spec.shortcut, x, rng, f"{where}.shortcut")
    cls = LAYERS[spec.type]
    if "rng" in inspect.signature(cls).parameters:
        arguments["rng"] = rng
    try:
        module = cls(**arguments)
        module.eval()  # no dropout draws, no running statistics updated by this trial pass
        out = module(x)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{label}: {error} (its input: {_shape(x)})") from error
    return module, out


def _inferred(spec: LayerSpec, x, where) -> dict:
    if spec.type not in INFERRED:
        return {}
    name, read = INFERRED[spec.type]
    if x.ndim < 2:
        raise ConfigError(f"{where} ({spec.type}): needs a batch (N, ...), got {_shape(x)}")
    value = read(x.shape)
    given = spec.args.get(name)
    if given is not None and _as_list(given) != _as_list(value):
        raise ConfigError(f"{where}.{name}: is {given!r} but the input reaching {spec.type} is {_shape(x)}, "
                          f"which gives {value!r}; leave {name} out to have it inferred")
    return {name: value}


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _shape(x) -> str:
    return "(N, " + ", ".join(map(str, x.shape[1:])) + ")"
