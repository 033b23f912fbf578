"""Parameter and Module: the two types every layer is built from.

A Module has an explicit ``forward(x)`` that caches what its backward needs and an
explicit ``backward(dout)`` that adds the parameter gradients into ``p.grad`` and
returns the gradient with respect to its input. Nothing is recorded behind the
user's back: the chain rule is the sequence of ``backward`` calls.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator

import numpy as np

from babysit.backend import DEFAULT_DTYPE, as_float_dtype
from babysit.errors import InputError

#: Every Module subclass by class name; :func:`babysit.load` rebuilds models from it, so
#: a saved file can only name classes that are already imported, never run code.
MODULE_REGISTRY: dict[str, type[Module]] = {}

#: Constructor arguments that are not saved: weights come from the file, and a loaded
#: model gets fresh generators.
UNSAVED_ARGUMENTS = ("rng", "init")


class Parameter:
    """A trainable array and its gradient.

    ``grad`` is ``None`` until a backward pass writes it (PyTorch's habit); layers add
    into it with :meth:`accumulate_grad`, and only ``zero_grad`` clears it.
    ``regularize`` marks arrays that L1/L2 penalties apply to by default (weights,
    not biases or normalization scales).
    """

    __slots__ = ("data", "grad", "regularize", "requires_grad")

    def __init__(self, data, *, requires_grad: bool = True, regularize: bool = False):
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.regularize = regularize

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def accumulate_grad(self, grad) -> None:
        """Add ``grad`` into ``self.grad``; the first call takes ``grad`` itself (no copy).

        Kernels therefore hand over freshly allocated gradient arrays only.
        """
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    def __repr__(self) -> str:
        frozen = "" if self.requires_grad else ", frozen"
        return f"Parameter(shape={self.shape}, dtype={self.dtype}{frozen})"


class HookHandle:
    """Returned by ``register_forward_hook``; ``remove()`` detaches the hook."""

    def __init__(self, hooks: dict, key: int):
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


class Module:
    """Base class of layers, containers and models.

    Subclasses implement ``forward(x)`` and ``backward(dout)``. Parameters, buffers
    (arrays saved with the model but not trained, listed in ``buffer_names``) and
    submodules are found by walking the instance's attributes, in assignment order.
    """

    training: bool = True
    #: When False, layers may skip computing the gradient for their input (the data
    #: needs none); containers pass it down to their first child.
    needs_input_grad: bool = True
    buffer_names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        MODULE_REGISTRY[cls.__name__] = cls
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = _record_config(init)

    def __init__(self):
        self.training = True
        self._forward_hooks: dict[int, Callable] = {}

    # ----------------------------------------------------------------- computation
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__} must implement backward(dout)")

    def __call__(self, x):
        out = self.forward(x)
        for hook in tuple(self.__dict__.get("_forward_hooks", {}).values()):
            replaced = hook(self, x, out)
            if replaced is not None:
                out = replaced
        return out

    def register_forward_hook(self, hook: Callable) -> HookHandle:
        """Call ``hook(module, input, output)`` after every forward; used by monitors."""
        hooks = self.__dict__.setdefault("_forward_hooks", {})
        key = max(hooks, default=-1) + 1
        hooks[key] = hook
        return HookHandle(hooks, key)

    # ------------------------------------------------------------------ tree walk
    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                for index, child in enumerate(value):
                    yield f"{name}.{index}", child

    def children(self) -> Iterator[Module]:
        return (child for _, child in self.named_children())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        return (module for _, module in self.named_modules())

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield (f"{prefix}.{name}" if prefix else name), value
        for name, child in self.named_children():
            yield from child.named_parameters(f"{prefix}.{name}" if prefix else name)

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name, module in self.named_modules(prefix):
            for buffer in module.buffer_names:
                yield (f"{name}.{buffer}" if name else buffer), getattr(module, buffer)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ---------------------------------------------------------------- mode, grads
    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.fill(0)

    def freeze(self) -> Module:
        """Stop training every parameter of this module (transfer learning)."""
        for p in self.parameters():
            p.requires_grad = False
        return self

    def unfreeze(self) -> Module:
        for p in self.parameters():
            p.requires_grad = True
        return self

    @property
    def dtype(self) -> np.dtype:
        params = self.parameters()
        return params[0].dtype if params else DEFAULT_DTYPE

    def to(self, dtype) -> Module:
        """Cast parameters, gradients and buffers to ``dtype`` (float32 or float64), in place."""
        dtype = as_float_dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype, copy=False)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype, copy=False)
        for module in self.modules():
            for buffer in module.buffer_names:
                value = getattr(module, buffer)
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    setattr(module, buffer, value.astype(dtype, copy=False))
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ---------------------------------------------------------------- state, I/O
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name (``0.weight``)."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        state.update({name: np.array(value, copy=True) for name, value in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays from ``state`` into this module's parameters and buffers, in place.

        Raises ``KeyError`` listing missing and unexpected names (when ``strict``) and
        ``ValueError`` naming any array whose shape does not match.
        """
        params = dict(self.named_parameters())
        buffers = {name for name, _ in self.named_buffers()}
        expected = set(params) | buffers
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if strict and (missing or unexpected):
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing {missing}, unexpected {unexpected}")
        for name in sorted(expected & set(state)):
            value = np.asarray(state[name])
            target = params[name].data if name in params else self._buffer(name)
            if value.shape != np.shape(target):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: '{name}' has shape {value.shape} in the state "
                    f"but {np.shape(target)} in the model"
                )
            if name in params:
                params[name].data[...] = value
            else:
                module_name, _, buffer = name.rpartition(".")
                module = self.get_submodule(module_name)
                old = getattr(module, buffer)
                setattr(module, buffer, value.astype(np.asarray(old).dtype, copy=True))

    def _buffer(self, name: str):
        module_name, _, buffer = name.rpartition(".")
        return getattr(self.get_submodule(module_name), buffer)

    def get_submodule(self, name: str) -> Module:
        modules = dict(self.named_modules())
        if name not in modules:
            raise KeyError(f"{type(self).__name__} has no submodule '{name}'")
        return modules[name]

    def get_config(self) -> dict:
        """Constructor arguments that rebuild this module (saved as JSON by ``save``)."""
        return dict(self.__dict__.get("_config", {}))

    def save(self, path) -> None:
        """Save architecture (JSON) and arrays (npz, no pickle); reload with ``babysit.load``."""
        from babysit.serialization import save_model  # noqa: PLC0415 - avoid an import cycle

        save_model(self, path)

    # ---------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def short_repr(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return self.short_repr()
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"

    # ------------------------------------------------------------ input checking
    def check_input(
        self, x, *, ndims: tuple[int, ...], axis: int = 1, size: int | None = None, what: str = "features", dtype=None
    ):
        """Raise an :class:`InputError` naming this layer unless ``x`` has the expected form.

        ``ndims`` lists the accepted numbers of dimensions; ``size`` is the expected length
        of ``axis`` (features or channels); ``dtype`` the parameters' dtype, which the
        input must share (mixing float32 and float64 would silently compute in float64).
        """
        received = getattr(x, "dtype", None)
        if received is None:
            raise InputError(self.short_repr(), f"expected an array, got {type(x).__name__}")
        if received.kind != "f":
            raise InputError(self.short_repr(), f"expected a floating-point array, got dtype {received}")
        if dtype is not None and received != dtype:
            raise InputError(
                self.short_repr(),
                f"expected {dtype} input (the dtype of its parameters), got {received}; "
                f"cast the data with x.astype(np.{dtype}) or the model with model.to(np.{received})",
            )
        if x.ndim not in ndims:
            shapes = " or ".join(_shape_pattern(n, axis, size) for n in ndims)
            raise InputError(self.short_repr(), f"expected input of shape {shapes}, got {x.shape}")
        if size is not None and x.shape[axis] != size:
            raise InputError(
                self.short_repr(),
                f"expected {size} {what} on axis {axis} (shape {_shape_pattern(x.ndim, axis, size)}), "
                f"got {x.shape[axis]} (input shape {x.shape})",
            )


def check_positive_int(layer: str, name: str, value) -> None:
    """Constructor check: ``value`` must be a positive int (not a bool or a float)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")


def _shape_pattern(ndim: int, axis: int, size: int | None) -> str:
    names = ["N", "C", "H", "W"] if ndim == 4 else ["N", "C", "L"] if ndim == 3 else ["N", "D"]
    names = names[:ndim]
    if size is not None and axis < ndim:
        names[axis] = str(size)
    return "(" + ", ".join(names) + ")"


def _record_config(init):
    """Wrap a subclass ``__init__`` so the outermost call records its bound arguments."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        if "_config" not in self.__dict__:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            config = dict(bound.arguments)
            config.pop(next(iter(signature.parameters)))  # self
            self.__dict__["_config"] = config
            self.__dict__["_forward_hooks"] = {}
        init(self, *args, **kwargs)

    wrapped.__signature__ = signature
    return wrapped
