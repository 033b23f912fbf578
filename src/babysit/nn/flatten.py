"""Flatten: (N, C, ...) -> (N, C * ...), the bridge from conv stacks to Linear layers."""

from __future__ import annotations

from babysit.nn.module import Module


class Flatten(Module):
    """Reshape every example to one vector; backward restores the input's shape."""

    def __init__(self):
        super().__init__()
        self._input_shape = None

    def forward(self, x):
        self.check_input(x, ndims=(2, 3, 4, 5))
        self._input_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        if self._input_shape is None:
            raise RuntimeError("Flatten: backward called before forward")
        return dout.reshape(self._input_shape)
