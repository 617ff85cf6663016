"""The constant learning rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..specs.registry import SCHEDULES
from .base import LR, check_lr, check_step


@SCHEDULES.register("constant", LR, doc="lr")
@dataclass(frozen=True)
class Constant:
    r"""``η_i = lr`` for every step.

    Examples:
        >>> Constant(0.1)(0), Constant(0.1)(1000)
        (0.1, 0.1)
    """

    name: ClassVar[str] = "constant"
    lr: float

    def __post_init__(self) -> None:
        check_lr("lr", self.lr)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        check_step(step)
        return float(self.lr)
