"""Cosine annealing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError
from ..specs.registry import NONNEGATIVE, POSITIVE_INT, SCHEDULES, Optional, Param
from .base import LR, check_int, check_lr, check_step


def cosine_anneal(start: float, end: float, t: float, t_end: float) -> float:
    """``end + (start − end)·(1 + cos(π·t/t_end))/2`` for ``0 <= t < t_end``, ``end`` after.

    The one cosine-annealing formula of sprig: learning rates (:class:`Cosine`) and DST drop
    fractions (:class:`sprig.sparsity.schedules.cosine`) both use it.

    >>> cosine_anneal(1.0, 0.0, 2, 4), cosine_anneal(1.0, 0.2, 9, 4)
    (0.5, 0.2)
    """
    if t >= t_end:
        return end
    return end + (start - end) * (1.0 + math.cos(math.pi * max(t, 0) / t_end)) / 2.0


def _check(kw: Any) -> str | None:
    if kw["min_lr"] > kw["lr"]:
        return f"min_lr must be <= lr, got min_lr={kw['min_lr']!r} > lr={kw['lr']!r}"
    return None


def _from_epochs(
    lr: float,
    total_steps: int | None = None,
    min_lr: float = 0.0,
    *,
    steps_per_epoch: int,
    epochs: int,
) -> Cosine:
    """The spec's ``total_steps`` is in epochs (default: the whole run); decays per step."""
    total = total_steps or epochs
    return Cosine(lr, int(total * steps_per_epoch), min_lr)


@SCHEDULES.register(
    "cosine",
    LR,
    Param(
        "total_steps",
        Optional(POSITIVE_INT),
        None,
        ("total", "epochs", "t_max"),
        "in epochs; none = the whole run",
    ),
    Param("min_lr", NONNEGATIVE, aliases=("eta_min",)),
    check=_check,
    build=_from_epochs,
    doc="min_lr + (lr - min_lr)(1 + cos(π t / total_steps)) / 2",
)
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
        return cosine_anneal(float(self.lr), float(self.min_lr), i, self.total_steps)
