"""A frozen parameter: no update, no state (optax's ``set_to_zero`` under a label)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..typing import FloatArray


@dataclass
class FrozenState:
    """A frozen parameter keeps no state."""


@dataclass(frozen=True)
class Frozen:
    """The update rule that leaves a parameter unchanged (freeze it by name pattern:
    ``Trainer(optimizer={"trunk.*": Frozen(), "*": Momentum(0.9)})``)."""

    name: ClassVar[str] = "frozen"

    def init(self, value: FloatArray) -> FrozenState:
        """Empty state."""
        return FrozenState()

    def step(self, value: FloatArray, grad: FloatArray, state: FrozenState, *, lr: float) -> None:
        """Nothing."""
