r"""A loss over several outputs (heads): ``combine`` ("mean" or "sum") of one loss per head.

For outputs ``Y = (Y_1, ..., Y_M)`` of a multi-head model and shared targets ``T``::

    L = (1/M) Σ_m loss(Y_m, T)      (combine="mean", NeuroTrails' rule for vision)
    L =       Σ_m loss(Y_m, T)      (combine="sum", its rule for language models)
    ∂L/∂Y_m = c · ∂loss(Y_m, T)/∂Y_m,  c = 1/M or 1

The gradients of the heads flow back into a shared trunk and are summed there
(:class:`~sprig.layers.tree.Parallel`), so the trunk receives ``Σ_m ∂L/∂(trunk output)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigError
from ..typing import FloatArray
from .base import Loss


@dataclass(frozen=True)
class HeadsLoss:
    """Combine one loss over the outputs of several heads.

    Args:
        loss: the per-head loss (its ``reduction`` is used for every head).
        combine: ``"mean"`` (default) or ``"sum"`` over the heads.
    """

    loss: Loss
    combine: Literal["mean", "sum"] = "mean"

    def __post_init__(self) -> None:
        if self.combine not in ("mean", "sum"):
            raise ConfigError(f"combine must be 'mean' or 'sum', got {self.combine!r}")

    @property
    def reduction(self) -> str:
        return self.loss.reduction

    @property
    def name(self) -> str:
        return f"heads_{self.combine}({self.loss.name})"

    def _factor(self, m: int) -> float:
        return 1.0 / m if self.combine == "mean" else 1.0

    def value(self, Y: Sequence[FloatArray], T: FloatArray) -> float:
        """Combined loss of the heads' outputs ``Y`` against shared targets ``T``."""
        return self._factor(len(Y)) * sum(self.loss.value(y, T) for y in Y)

    def grad(self, Y: Sequence[FloatArray], T: FloatArray) -> tuple[FloatArray, ...]:
        """One gradient per head."""
        return self.value_and_grad(Y, T)[1]

    def value_and_grad(
        self, Y: Sequence[FloatArray], T: FloatArray
    ) -> tuple[float, tuple[FloatArray, ...]]:
        if not isinstance(Y, tuple | list) or not Y:
            raise ValueError("HeadsLoss needs a tuple of outputs (a model with several heads)")
        c = self._factor(len(Y))
        total = 0.0
        grads: list[Any] = []
        for y in Y:
            v, g = self.loss.value_and_grad(y, T)
            total += v
            if c != 1.0:
                g = g * g.dtype.type(c)
            grads.append(g)
        return c * total, tuple(grads)

    def per_head(self, Y: Sequence[FloatArray], T: FloatArray) -> list[float]:
        """Each head's own loss value."""
        return [self.loss.value(y, T) for y in Y]
