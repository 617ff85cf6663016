r"""Nerva's decaying schedules: time-based, step-based, multi-step and exponential.

Nerva calls these once per epoch with the epoch index ``i``; wrap them in
:class:`~sprig.schedules.PerEpoch` for that behaviour, or use them directly over steps.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from typing import ClassVar

from ..errors import ConfigError
from ..specs.registry import NONNEGATIVE, NONNEGATIVE_INT, POSITIVE, SCHEDULES, ListOf, Param
from .base import LR, check_int, check_lr, check_number, check_step, epoch_indexed

#: Up to this index TimeBased divides step by step, exactly as Nerva does; beyond, log-gamma.
_TIME_BASED_LOOP = 1024


def _log_rising(d: float, i: int) -> float:
    """``log ∏_{j=1..i}(1 + d·j) = i·log d + lgamma(z + i) − lgamma(z)``, ``z = 1 + 1/d``.

    For large ``z`` (small ``d``) the two lgamma values are huge and nearly equal; their
    difference is then taken from Stirling's series, written with ``log1p`` so nothing cancels
    (truncation error below ``1/(1260 z⁵)``).
    """
    z = 1.0 + 1.0 / d
    if z < 1000.0:
        return i * math.log(d) + math.lgamma(z + i) - math.lgamma(z)
    zi = z + i
    return (
        (z - 0.5) * math.log1p(i / z)
        + i * math.log1p(d * (1.0 + i))
        - i
        + (1.0 / zi - 1.0 / z) / 12.0
        - (1.0 / zi**3 - 1.0 / z**3) / 360.0
    )


@SCHEDULES.register(
    "time_based",
    LR,
    Param("decay", NONNEGATIVE),
    build=epoch_indexed,
    doc="lr_{i+1} = lr_i / (1 + decay i) (Nerva, epoch-indexed)",
)
@dataclass(frozen=True)
class TimeBased:
    r"""Nerva's time-based decay ``η_{i} = η_{i−1} / (1 + d·i)``, ``η_0 = lr``, in closed form.

    Nerva updates a stored rate on every call (``lr ← lr/(1 + d·i)`` at call ``i = 0, 1, …``);
    this class evaluates the same sequence without state::

        η_i = lr / ∏_{j=1..i} (1 + d·j) = lr / (dⁱ · Γ(i + 1 + 1/d) / Γ(1 + 1/d))

    The product is computed term by term for ``i <= 1024`` (bit-identical to Nerva's
    recursion) and with log-gamma differences beyond (relative error about ``1e-12``).

    Args:
        lr: ``η_0 >= 0``.
        decay: ``d >= 0``.

    Examples:
        >>> s = TimeBased(lr=1.0, decay=0.5)
        >>> [s(i) for i in range(4)]  # 1, 1/1.5, 1/(1.5·2), 1/(1.5·2·2.5)
        [1.0, 0.6666666666666666, 0.3333333333333333, 0.13333333333333333]
    """

    name: ClassVar[str] = "time_based"
    lr: float
    decay: float

    def __post_init__(self) -> None:
        check_lr("lr", self.lr)
        check_number("decay", self.decay, 0.0)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        i = check_step(step)
        lr, d = float(self.lr), float(self.decay)
        if d == 0.0 or lr == 0.0:
            return lr
        if i <= _TIME_BASED_LOOP:
            for j in range(1, i + 1):
                lr = lr / (1.0 + d * j)
            return lr
        return lr * math.exp(-_log_rising(d, i))


@SCHEDULES.register(
    "step_based",
    LR,
    Param("drop_rate", POSITIVE),
    Param("change_rate", POSITIVE),
    build=epoch_indexed,
    doc="lr drop_rate^floor((1 + i) / change_rate) (Nerva, epoch-indexed)",
)
@dataclass(frozen=True)
class StepBased:
    r"""Nerva's step-based decay ``η_i = lr · d^⌊(1 + i)/r⌋``.

    Args:
        lr: ``η_0 >= 0``.
        drop_rate: ``d`` in ``(0, 1]``, the factor applied at each drop.
        change_rate: ``r > 0``, the number of steps between drops (the first drop is at
            ``i = r − 1``, as in Nerva).

    Examples:
        >>> s = StepBased(lr=1.0, drop_rate=0.5, change_rate=2)
        >>> [s(i) for i in range(5)]
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    name: ClassVar[str] = "step_based"
    lr: float
    drop_rate: float
    change_rate: float

    def __post_init__(self) -> None:
        check_lr("lr", self.lr)
        check_number("drop_rate", self.drop_rate, 0.0, 1.0, lo_open=True)
        check_number("change_rate", self.change_rate, 0.0, math.inf, lo_open=True)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        i = check_step(step)
        return float(self.lr) * float(self.drop_rate) ** math.floor((1 + i) / self.change_rate)


@SCHEDULES.register(
    "multistep",
    LR,
    Param("milestones", ListOf(NONNEGATIVE_INT, increasing=True), doc="epochs"),
    Param("gamma", POSITIVE),
    aliases=("multistep_lr",),
    build=epoch_indexed,
    doc="lr gamma^#{milestones <= i} (Nerva MultiStepLR, epoch-indexed)",
)
@dataclass(frozen=True)
class MultiStep:
    r"""``η_i = lr · γ^{#{m ∈ milestones : m <= i}}`` (``torch.optim.lr_scheduler.MultiStepLR``).

    Args:
        lr: ``η_0 >= 0``.
        milestones: strictly increasing step indices ``>= 0`` (non-empty; a list is
            converted to a tuple).
        gamma: ``γ > 0``, the factor applied at each milestone.

    Examples:
        >>> s = MultiStep(lr=1.0, milestones=(2, 4), gamma=0.1)
        >>> [round(s(i), 6) for i in range(6)]
        [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """

    name: ClassVar[str] = "multistep"
    lr: float
    milestones: tuple[int, ...]
    gamma: float = 0.1

    def __post_init__(self) -> None:
        check_lr("lr", self.lr)
        check_number("gamma", self.gamma, 0.0, math.inf, lo_open=True)
        ms = self.milestones
        if not isinstance(ms, tuple | list) or len(ms) == 0:
            raise ConfigError(f"milestones must be a non-empty sequence of steps, got {ms!r}")
        ms = tuple(check_int("milestones", m, 0) for m in ms)
        if any(b <= a for a, b in itertools.pairwise(ms)):
            raise ConfigError(f"milestones must be strictly increasing, got {ms!r}")
        object.__setattr__(self, "milestones", ms)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        i = check_step(step)
        return float(self.lr) * float(self.gamma) ** bisect.bisect_right(self.milestones, i)


@SCHEDULES.register(
    "exponential",
    LR,
    Param("change_rate", NONNEGATIVE),
    build=epoch_indexed,
    doc="lr exp(-change_rate i) (Nerva, epoch-indexed)",
)
@dataclass(frozen=True)
class Exponential:
    r"""Nerva's exponential decay ``η_i = lr · e^{−d·i}``.

    PyTorch's ``ExponentialLR(gamma)`` is the same with ``γ = e^{−d}``.

    Args:
        lr: ``η_0 >= 0``.
        change_rate: ``d >= 0``.

    Examples:
        >>> s = Exponential(lr=1.0, change_rate=math.log(2))
        >>> [round(s(i), 12) for i in range(4)]
        [1.0, 0.5, 0.25, 0.125]
    """

    name: ClassVar[str] = "exponential"
    lr: float
    change_rate: float

    def __post_init__(self) -> None:
        check_lr("lr", self.lr)
        check_number("change_rate", self.change_rate, 0.0)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        i = check_step(step)
        return float(self.lr) * math.exp(-float(self.change_rate) * i)
