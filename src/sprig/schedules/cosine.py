"""Cosine annealing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ..errors import ConfigError
from .base import check_int, check_lr, check_step


@dataclass(frozen=True)
class Cosine:
    r"""Cosine annealing from ``lr`` to ``min_lr`` over ``total_steps`` steps, then constant.

    ::

        η_i = min_lr + (lr − min_lr)·(1 + cos(π·i/T))/2   for i < T
        η_i = min_lr                                      for i >= T

    Equal to ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T, eta_min=min_lr)`` for
    ``i <= T``; PyTorch keeps following the cosine back up after ``T``, this stays at
    ``min_lr``.

    Args:
        lr: initial rate ``>= 0``.
        total_steps: ``T >= 1``.
        min_lr: final rate, ``0 <= min_lr <= lr``.

    Examples:
        >>> s = Cosine(lr=1.0, total_steps=4)
        >>> [round(s(i), 6) for i in range(6)]
        [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]
    """

    name: ClassVar[str] = "cosine"
    lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        check_lr("lr", self.lr)
        check_int("total_steps", self.total_steps, 1)
        check_lr("min_lr", self.min_lr)
        if self.min_lr > self.lr:
            raise ConfigError(f"min_lr must be <= lr={self.lr!r}, got {self.min_lr!r}")

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        i = check_step(step)
        lo, hi = float(self.min_lr), float(self.lr)
        if i >= self.total_steps:
            return lo
        return lo + (hi - lo) * (1.0 + math.cos(math.pi * i / self.total_steps)) / 2.0
