"""Run layers in order; run their backprop closures in reverse."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..typing import FloatArray
from .base import Backprop, Layer, Param

#: Per-layer ``(input X, output gradient dY)`` recorded during one forward/backward pass.
Taps = dict[int, tuple[FloatArray, FloatArray]]


class Sequential:
    """A chain of layers; itself a :class:`~sprig.layers.base.Layer`.

    Parameters are named ``"<index>.<local name>"`` (``"0.weight"``, ``"0.bias"``...), the
    names used by optimizer state, checkpoints and DST statistics.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} ({type(layer).__name__}) does not implement Layer")

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"

    def forward(
        self, X: FloatArray, *, train: bool, input_grad: bool = True, taps: Taps | None = None
    ) -> tuple[FloatArray, Backprop]:
        """Forward through every layer.

        Args:
            X: feature-major input ``(D, N)``.
            train: training mode (dropout active, batch-norm batch statistics).
            input_grad: whether ``backprop`` must return ``dX`` for the network input; the
                first layer skips its backward-data product when it is ``False``.
            taps: if given, ``backprop`` fills ``taps[i] = (X_i, dY_i)`` for every layer ``i``
                (its input and the gradient arriving at its output) — what gradient-based
                growth (RigL) needs, without changing the layers.
        """
        inputs: list[FloatArray] = []
        closures: list[Backprop] = []
        for i, layer in enumerate(self.layers):
            inputs.append(X)
            X, bp = layer.forward(X, train=train, input_grad=input_grad or i > 0)
            closures.append(bp)

        def backprop(dY: FloatArray) -> FloatArray | None:
            grad: FloatArray | None = dY
            for i in range(len(closures) - 1, -1, -1):
                assert grad is not None
                if taps is not None:
                    taps[i] = (inputs[i], grad)
                grad = closures[i](grad)
            return grad

        return X, backprop

    def params(self) -> Mapping[str, Param]:
        """All parameters, named ``"<layer index>.<name>"``."""
        return {
            f"{i}.{name}": p for i, layer in enumerate(self.layers)
            for name, p in layer.params().items()
        }

    def buffers(self) -> dict[str, Any]:
        """Non-trainable state of the layers that have any (``"<index>.<name>"``)."""
        out: dict[str, Any] = {}
        for i, layer in enumerate(self.layers):
            get = getattr(layer, "buffers", None)
            if get is not None:
                out.update({f"{i}.{k}": v for k, v in get().items()})
        return out
