"""A shared trunk with several heads: one input, one output per head (NeuroTrails' shape).

``TrunkHeads(trunk, heads)`` runs ``trunk`` once and every head on its output; parameters are
named ``"trunk.<i>.<name>"`` and ``"heads.<m>.<i>.<name>"``. The trunk's parameters exist once
and receive the sum of the heads' gradients (:class:`~sprig.layers.tree.Parallel`). A
:class:`~sprig.models.Model` over it predicts the mean of the heads' outputs; train it with a
:class:`~sprig.losses.HeadsLoss`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..layers.base import Backprop
from ..layers.sequential import Sequential
from ..layers.tree import Module, Parallel, Taps, Value
from .model import Model


class TrunkHeads(Module):
    """``heads(trunk(X))``: a :class:`Sequential` trunk feeding a :class:`Parallel` of heads.

    Args:
        trunk: the shared layers (a ``Sequential`` or a list of layers; may be empty).
        heads: one ``Sequential`` (or list of layers) per head, at least one.
    """

    def __init__(self, trunk: Sequential | Sequence[Any], heads: Sequence[Any]) -> None:
        self.trunk = trunk if isinstance(trunk, Sequential) else Sequential(list(trunk))
        self.heads = Parallel([h if isinstance(h, Module) else Sequential(list(h)) for h in heads])

    def __repr__(self) -> str:
        return f"TrunkHeads(trunk={self.trunk!r}, heads={self.heads!r})"

    def io_features(self) -> tuple[Any, Any]:
        ins, _ = self.trunk.io_features()
        h_in, outs = self.heads.io_features()
        return (h_in if ins is None else ins), outs

    def forward(
        self,
        X: Value,
        *,
        train: bool,
        input_grad: bool = True,
        taps: Taps | None = None,
        prefix: str = "",
    ) -> tuple[Value, Backprop]:
        H, bp_trunk = self.trunk.forward(
            X, train=train, input_grad=input_grad, taps=taps, prefix=f"{prefix}trunk."
        )
        trunk_empty = len(self.trunk) == 0
        Y, bp_heads = self.heads.forward(
            H,
            train=train,
            input_grad=input_grad or not trunk_empty,
            taps=taps,
            prefix=f"{prefix}heads.",
        )

        def backprop(dY: Any) -> Any:
            return bp_trunk(bp_heads(dY))

        return Y, backprop


def multi_head(trunk: Sequence[Any], heads: Sequence[Sequence[Any]]) -> Model:
    """A :class:`~sprig.models.Model` with a shared ``trunk`` and one output per head.

    Examples:
        >>> import numpy as np
        >>> from sprig.layers import ActivationLayer, Linear, SparseLinear
        >>> from sprig.activations import ReLU
        >>> from sprig.models import multi_head
        >>> rng = np.random.default_rng(0)
        >>> model = multi_head(
        ...     [SparseLinear(4, 8, density=0.5, rng=rng), ActivationLayer(ReLU(), 8)],
        ...     [[SparseLinear(8, 3, density=0.5, rng=rng)] for _ in range(3)])
        >>> list(model.sparse_weights())
        ['trunk.0.weight', 'heads.0.0.weight', 'heads.1.0.weight', 'heads.2.0.weight']
        >>> [y.shape for y in model.predict_outputs(np.ones((2, 4)))]
        [(2, 3), (2, 3), (2, 3)]
        >>> model.predict(np.ones((2, 4))).shape  # the mean of the heads
        (2, 3)
    """
    return Model(TrunkHeads(trunk, heads))
