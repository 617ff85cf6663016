"""Run children in order; run their backprop closures in reverse."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Backprop
from .tree import IndexedModule, Taps, Value, _is_node

__all__ = ["Sequential", "Taps"]


class Sequential(IndexedModule):
    """A chain of layers or modules; children are named ``"0"``, ``"1"``, ...

    Parameters are named ``"<index>.<local name>"`` (``"0.weight"``, ``"0.bias"``...), and
    ``"<index>.<child path>"`` inside nested modules (``"1.0.weight"``): the names used by
    optimizer state, checkpoints and DST statistics (see :mod:`sprig.layers.tree`).
    """

    children = "layers"

    def __init__(self, layers: Sequence[Any]) -> None:
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not _is_node(layer):
                raise TypeError(f"layer {i} ({type(layer).__name__}) does not implement Layer")

    def forward(
        self,
        X: Value,
        *,
        train: bool,
        input_grad: bool = True,
        taps: Taps | None = None,
        prefix: str = "",
    ) -> tuple[Value, Backprop]:
        """Forward through every child.

        Args:
            X: feature-major input ``(D, N)`` (or what the first child takes).
            train: training mode (dropout active, batch-norm batch statistics).
            input_grad: whether ``backprop`` must return ``dX`` for the input; the first
                child skips its backward-data product when it is ``False``.
            taps: if given, ``backprop`` fills ``taps[path] = (X, dY)`` for every leaf
                layer (its input and the gradient arriving at its output), by path.
            prefix: path of this container followed by ``"."`` (``""`` at the root).
        """
        closures: list[Backprop] = []
        for i, layer in enumerate(self.layers):
            X, bp = self._child_forward(layer, f"{prefix}{i}", X, train, input_grad or i > 0, taps)
            closures.append(bp)

        def backprop(dY: Any) -> Any:
            grad = dY
            for i in range(len(closures) - 1, -1, -1):
                grad = closures[i](grad)
            return grad

        return X, backprop
