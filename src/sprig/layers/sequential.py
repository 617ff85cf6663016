"""Run children in order; run their backprop closures in reverse."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..activations.relu import ReLU
from .activation import ActivationLayer
from .base import Backprop
from .linear import SparseLinear
from .tree import IndexedModule, Taps, Value, _is_node

__all__ = ["Sequential", "Taps"]


def _fusable(layer: Any, nxt: Any) -> bool:
    """Whether ``layer`` is a :class:`SparseLinear` whose output feeds straight into
    ``nxt``, an ``ActivationLayer(ReLU())`` of the same width and dtype, both with their
    class's own ``forward`` (an instance that shadows ``forward`` is run as it is)."""
    return (
        type(nxt) is ActivationLayer
        and type(nxt.activation) is ReLU
        and isinstance(layer, SparseLinear)
        and type(layer).forward is SparseLinear.forward
        and "forward" not in vars(layer)
        and "forward" not in vars(nxt)
        and nxt.features == layer.out_features
        and nxt.dtype == layer.dtype
    )


class Sequential(IndexedModule):
    """A chain of layers or modules; children are named ``"0"``, ``"1"``, ...

    Parameters are named ``"<index>.<local name>"`` (``"0.weight"``, ``"0.bias"``...), and
    ``"<index>.<child path>"`` inside nested modules (``"1.0.weight"``): the names used by
    optimizer state, checkpoints and DST statistics (see :mod:`sprig.layers.tree`).

    ReLU fusion: a :class:`~sprig.layers.SparseLinear` followed directly by an
    ``ActivationLayer(ReLU())`` runs as one layer (``SparseLinear.forward(...,
    activation="relu")``): the ReLU is applied inside the product kernel and its derivative
    inside the weight-gradient kernel, so neither the pre-activation nor the activation's own
    passes and temporaries exist. The results are those of the two layers run one after the
    other (up to the sign of zeros); the tree, the parameter names and everything keyed by
    them are unchanged. Forward passes that record ``taps`` run the layers unfused (the
    activation layer's tap needs its input). ``fuse_relu = False`` (on the class or an
    instance) turns fusion off.
    """

    children = "layers"
    #: Fuse ``SparseLinear`` + ``ActivationLayer(ReLU())`` pairs (see the class docstring).
    fuse_relu: ClassVar[bool] = True

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
        layers = self.layers
        fuse = self.fuse_relu and taps is None
        closures: list[tuple[Backprop, bool]] = []
        i = 0
        while i < len(layers):
            layer = layers[i]
            grad_in = input_grad or i > 0
            if fuse and i + 1 < len(layers) and _fusable(layer, layers[i + 1]):
                X, bp = layer.forward(X, train=train, input_grad=grad_in, activation="relu")
                closures.append((bp, True))
                i += 2
                continue
            X, bp = self._child_forward(layer, f"{prefix}{i}", X, train, grad_in, taps)
            closures.append((bp, False))
            i += 1

        def backprop(dY: Any) -> Any:
            grad = dY
            for bp, fused in reversed(closures):
                # a fused pair zeroes its incoming gradient in place (the ReLU derivative):
                # never the caller's array
                if fused and isinstance(dY, np.ndarray) and np.may_share_memory(grad, dY):
                    grad = grad.copy()
                grad = bp(grad)
            return grad

        return X, backprop
