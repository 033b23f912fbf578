"""Containers: Sequential (a chain of modules) and Residual (a block plus a shortcut)."""

from __future__ import annotations

from babysit.backend import as_rng
from babysit.errors import InputError
from babysit.nn.module import Module


class Sequential(Module):
    """Apply modules one after the other; backward runs them in reverse.

    Indexable like a list (``model[0]``, ``model[-1] = Linear(...)`` to replace a head),
    and parameter names follow PyTorch (``0.weight``).
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {index} is a {type(module).__name__}, expected a Module")
        self.layers = list(modules)

    def named_children(self):
        for index, layer in enumerate(self.layers):
            yield str(index), layer

    def get_config(self) -> dict:
        return {"modules": list(self.layers)}

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __setitem__(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: can only hold Modules, got {type(module).__name__}")
        self.layers[index] = module

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: can only hold Modules, got {type(module).__name__}")
        self.layers.append(module)
        return self

    def forward(self, x):
        for index, layer in enumerate(self.layers):
            try:
                x = layer(x)
            except InputError as error:
                error.add_parent(str(index))
                raise
        return x

    def backward(self, dout):
        """Run the layers' backward passes from the top down; returns ``dL/dx``.

        When the input gradient is not needed (``needs_input_grad`` False: the data, or a
        frozen feature extractor under it) the chain stops at the lowest layer that holds a
        trainable parameter, which is itself told to skip its input gradient: layers below
        it would only compute gradients that nobody reads, which costs as much as training
        them. Returns ``None`` then.
        """
        if self.needs_input_grad:
            bottom = 0
        else:
            bottom = next((i for i, layer in enumerate(self.layers) if has_trainable_parameters(layer)), None)
            if bottom is None:  # nothing to train in here and nobody wants dx
                return None
        for index in range(len(self.layers) - 1, bottom - 1, -1):
            layer = self.layers[index]
            # Set on every layer, not only the bottom one: after unfreezing, a layer that
            # was the bottom must pass its gradient on again.
            layer.needs_input_grad = index > bottom or self.needs_input_grad
            dout = layer.backward(dout)
        return dout if self.needs_input_grad else None


class Residual(Module):
    """``out = block(x) + shortcut(x)``: identity shortcut by default, or a projection.

    With ``drop_prob > 0`` the block is dropped for the whole batch with that
    probability at train time and scaled by ``1 - drop_prob`` at eval time (stochastic
    depth, Huang et al. 2016, "Deep Networks with Stochastic Depth").
    """

    def __init__(self, block: Module, shortcut: Module | None = None, drop_prob: float = 0.0, rng=None):
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"Residual: drop_prob must be in [0, 1), got {drop_prob}")
        self.block = block
        self.shortcut = shortcut
        self.drop_prob = float(drop_prob)
        self.rng = as_rng(rng)
        self._block_dropped = False

    def get_config(self) -> dict:
        return {"block": self.block, "shortcut": self.shortcut, "drop_prob": self.drop_prob}

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}" if self.drop_prob else ""

    def forward(self, x):
        try:
            skip = x if self.shortcut is None else self.shortcut(x)
            self._block_dropped = self.training and self.drop_prob > 0 and self.rng.random() < self.drop_prob
            if self._block_dropped:
                return skip
            out = self.block(x)
        except InputError as error:
            error.add_parent("residual")
            raise
        if out.shape != skip.shape:
            raise InputError(
                self.short_repr(),
                f"block output shape {out.shape} differs from shortcut output shape {skip.shape}; "
                "use a projection shortcut (e.g. a 1x1 Conv2d or a Linear) to match them",
            )
        if not self.training and self.drop_prob > 0:
            return skip + (1.0 - self.drop_prob) * out
        return skip + out

    def backward(self, dout):
        scale = 1.0 if self.training or not self.drop_prob else 1.0 - self.drop_prob
        dblock = dout if scale == 1.0 else scale * dout
        if not self.needs_input_grad:
            # Only parameter gradients are wanted: a branch with nothing trainable needs no
            # backward at all, and the others need no input gradient.
            if self.shortcut is not None and has_trainable_parameters(self.shortcut):
                self.shortcut.needs_input_grad = False
                self.shortcut.backward(dout)
            if not self._block_dropped and has_trainable_parameters(self.block):
                self.block.needs_input_grad = False
                self.block.backward(dblock)
            return None
        # Both branches read the same input, so their input gradients add up.
        for branch in (self.block, self.shortcut):
            if branch is not None:
                branch.needs_input_grad = True
        dx = dout if self.shortcut is None else self.shortcut.backward(dout)
        if self._block_dropped:
            return dx
        return dx + self.block.backward(dblock)


def has_trainable_parameters(module: Module) -> bool:
    """Whether any parameter of ``module`` (its submodules included) has ``requires_grad``."""
    return any(p.requires_grad for _, p in module.named_parameters())
