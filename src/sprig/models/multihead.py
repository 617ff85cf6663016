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


def blocks(
    layers: Sequence[Any], owners: Sequence[int], is_linear: Sequence[bool]
) -> list[list[Any]]:
    """Group a Nerva-style built layer list into blocks: each linear-type spec (its affine
    layer and activation) together with the extra layers (batch norm, dropout) that follow it.

    ``owners[i]`` is the spec index of built layer ``i`` (see
    :func:`~sprig.training.build.build_layers`); ``is_linear[s]`` whether spec ``s`` is
    linear-type. Extra layers before the first linear-type spec join the first block.
    """
    if len(layers) != len(owners):
        raise ValueError("one owner per layer is needed")
    out: list[list[Any]] = []
    last = None
    for layer, s in zip(layers, owners, strict=True):
        if is_linear[s] and s != last:
            out.append([])
        last = s if is_linear[s] else last
        if not out:
            out.append([])
        out[-1].append(layer)
    return out


def from_backbones(backbones: Sequence[Sequence[Sequence[Any]]], head_blocks: int) -> Model:
    """A trunk + heads model from independently initialised copies of one backbone.

    ``backbones[m]`` is the ``m``-th copy as a list of blocks (:func:`blocks`); the trunk is
    the first copy's leading blocks and head ``m`` is the last ``head_blocks`` blocks of copy
    ``m`` (NeuroTrails: each head an independently initialised copy of the last blocks with
    its own classifier). One copy gives the plain :class:`~sprig.models.MLP` of that copy
    (parameter names ``"<i>.weight"``), as without heads.

    Raises:
        ConfigError: ``head_blocks`` is not in ``1..len(blocks)``.
    """
    from ..errors import ConfigError

    n = len(backbones[0])
    if (
        isinstance(head_blocks, bool)
        or not isinstance(head_blocks, int)
        or not (1 <= head_blocks <= n)
    ):
        raise ConfigError(
            f"head_blocks must be an integer in 1..{n} (the network has {n} blocks), "
            f"got {head_blocks!r}"
        )
    if len(backbones) == 1:
        from .mlp import MLP

        return MLP([layer for block in backbones[0] for layer in block])
    trunk = [layer for block in backbones[0][: n - head_blocks] for layer in block]
    heads = [[layer for block in b[n - head_blocks :] for layer in block] for b in backbones]
    return Model(TrunkHeads(trunk, heads))
