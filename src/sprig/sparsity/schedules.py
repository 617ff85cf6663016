r"""When topology updates happen and how much they change.

* Drop-fraction schedules: plain callables ``t -> fraction`` (:func:`constant`, :func:`cosine`,
  :func:`linear`, :func:`exponential`, :func:`wsd`). ``t`` is counted in the unit of the
  algorithm's :class:`UpdateSchedule` (optimizer steps or epochs).
* :class:`UpdateSchedule`: is an update due at ``t``?
* Target-density schedules ``t -> density``: :func:`gmp_density` (Zhu & Gupta 2017's cubic
  sparsity ramp, also GraNet's) and :class:`SoftMemoryBound` (MEST).

Examples:

>>> f = cosine(0.3, 1000)
>>> f(0), round(f(500), 6), f(1000), f(2000)
(0.3, 0.15, 0.0, 0.0)
>>> UpdateSchedule(every=100, stop=750).due(100), UpdateSchedule(every=100, stop=750).due(800)
(True, False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..schedules.cosine import cosine_anneal

__all__ = [
    "FractionSchedule",
    "SoftMemoryBound",
    "UpdateSchedule",
    "constant",
    "cosine",
    "exponential",
    "gmp_density",
    "gmp_sparsity",
    "linear",
    "wsd",
]

#: ``t -> drop fraction`` in ``[0, 1]``.
FractionSchedule = Callable[[int], float]


def _frac(x: float, what: str) -> float:
    x = float(x)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{what} must be in [0, 1], got {x!r}")
    return x


def _pos(x: float, what: str) -> float:
    x = float(x)
    if not x > 0:
        raise ValueError(f"{what} must be positive, got {x!r}")
    return x


@dataclass(frozen=True)
class constant:
    """``f(t) = alpha`` (SET's ζ).

    >>> constant(0.3)(10)
    0.3
    """

    alpha: float

    def __post_init__(self) -> None:
        _frac(self.alpha, "drop fraction")

    def __call__(self, t: int) -> float:
        return self.alpha


@dataclass(frozen=True)
class cosine:
    """RigL: ``f(t) = final + (alpha − final)/2 · (1 + cos(π t / t_end))``, ``final`` after.

    With ``final = 0`` this is Evci et al. 2020's ``α/2 (1 + cos(π t/T_end))``; ITOP/GraNet/SMET
    anneal to ``final = 0.005`` (``CosineAnnealingLR``'s ``eta_min``).

    >>> round(cosine(0.5, 100, final=0.1)(50), 12)
    0.3
    """

    alpha: float
    t_end: float
    final: float = 0.0

    def __post_init__(self) -> None:
        _frac(self.alpha, "drop fraction")
        _frac(self.final, "final drop fraction")
        _pos(self.t_end, "t_end")

    def __call__(self, t: int) -> float:
        # the same formula as the cosine learning rate (one copy: sprig.schedules.cosine)
        return cosine_anneal(self.alpha, self.final, t, self.t_end)


@dataclass(frozen=True)
class linear:
    """``f(t)`` goes linearly from ``alpha`` at 0 to ``final`` at ``t_end``, then stays.

    >>> round(linear(0.4, 100)(25), 12)
    0.3
    """

    alpha: float
    t_end: float
    final: float = 0.0

    def __post_init__(self) -> None:
        _frac(self.alpha, "drop fraction")
        _frac(self.final, "final drop fraction")
        _pos(self.t_end, "t_end")

    def __call__(self, t: int) -> float:
        s = min(max(t, 0) / self.t_end, 1.0)
        return self.alpha + (self.final - self.alpha) * s


@dataclass(frozen=True)
class exponential:
    """``f(t) = alpha · gamma^(t / every)`` (integer division: a staircase when ``every > 1``).

    >>> exponential(0.4, 0.5, every=10)(25)
    0.1
    """

    alpha: float
    gamma: float
    every: int = 1

    def __post_init__(self) -> None:
        _frac(self.alpha, "drop fraction")
        _frac(self.gamma, "gamma")
        _pos(self.every, "every")

    def __call__(self, t: int) -> float:
        return self.alpha * self.gamma ** (max(t, 0) // self.every)


@dataclass(frozen=True)
class wsd:
    """Warmup-stable-decay as SMET's ``prune_rate_decay=WSD`` (reference/dst.md §5.1).

    Constant ``alpha`` for the first ``stable`` fraction of ``t_end`` (default 90 %), then
    linear down to ``final_ratio · alpha`` (default 0.1) at ``t_end``, constant after.

    >>> f = wsd(0.2, 1000)
    >>> f(900), round(f(950), 6), round(f(1000), 6)
    (0.2, 0.11, 0.02)
    """

    alpha: float
    t_end: float
    stable: float = 0.9
    final_ratio: float = 0.1

    def __post_init__(self) -> None:
        _frac(self.alpha, "drop fraction")
        _frac(self.stable, "stable fraction")
        _frac(self.final_ratio, "final ratio")
        _pos(self.t_end, "t_end")

    def __call__(self, t: int) -> float:
        t0 = self.stable * self.t_end
        if t <= t0:
            return self.alpha
        s = min((t - t0) / (self.t_end - t0), 1.0)
        return self.alpha * (1.0 + (self.final_ratio - 1.0) * s)


@dataclass(frozen=True)
class UpdateSchedule:
    """Topology updates at ``t = start + every, start + 2·every, …`` while ``t < stop``.

    ``t`` counts optimizer steps (``unit="step"``: the trainer asks after step ``t``, counted
    from 1) or epochs (``unit="epoch"``: the trainer asks at the start of epoch ``t``, counted
    from 0, so ``every=1`` updates before every epoch but the first — Nerva's and SET's
    "every epoch except the last" pattern). ``every = 0`` means never (static sparsity).

    >>> s = UpdateSchedule(every=1, unit="epoch")
    >>> [s.due(e) for e in range(3)]
    [False, True, True]
    >>> UpdateSchedule(every=0).due(100)
    False
    """

    every: int
    start: int = 0
    stop: int | None = None
    unit: Literal["step", "epoch"] = "step"

    def __post_init__(self) -> None:
        if int(self.every) != self.every or self.every < 0:
            raise ValueError(f"every must be a non-negative integer, got {self.every!r}")
        if self.unit not in ("step", "epoch"):
            raise ValueError(f"unit must be 'step' or 'epoch', got {self.unit!r}")
        if self.start < 0 or (self.stop is not None and self.stop < 0):
            raise ValueError(f"start/stop must be non-negative, got {self.start}/{self.stop}")

    def due(self, t: int) -> bool:
        """Is a topology update due at ``t`` (in :attr:`unit`)?"""
        if self.every == 0 or t <= self.start:
            return False
        if self.stop is not None and t >= self.stop:
            return False
        return (t - self.start) % self.every == 0

    __call__ = due


@dataclass(frozen=True)
class gmp_sparsity:
    r"""Cubic sparsity ramp (Zhu & Gupta 2017; GraNet): ``t -> sparsity``.

    .. math:: s_t = s_f + (s_i - s_f)\Big(1 - \frac{t - t_0}{n \Delta T}\Big)^3

    for ``t0 ≤ t ≤ t0 + n ΔT``; ``s_i`` before, ``s_f`` after.

    >>> s = gmp_sparsity(0.0, 0.9, t0=0, n=10, delta_t=100)
    >>> s(0), round(s(500), 4), s(1000), s(5000)
    (0.0, 0.7875, 0.9, 0.9)
    """

    s_i: float
    s_f: float
    t0: int
    n: int
    delta_t: int

    def __post_init__(self) -> None:
        _frac(self.s_i, "initial sparsity")
        if not 0.0 <= self.s_f < 1.0:
            raise ValueError(f"final sparsity must be in [0, 1), got {self.s_f!r}")
        _pos(self.n, "n")
        _pos(self.delta_t, "delta_t")

    def __call__(self, t: int) -> float:
        if t <= self.t0:
            return self.s_i
        s = min((t - self.t0) / (self.n * self.delta_t), 1.0)
        return self.s_f + (self.s_i - self.s_f) * (1.0 - s) ** 3


def gmp_density(s_i: float, s_f: float, t0: int, n: int, delta_t: int) -> Callable[[int], float]:
    """``t -> 1 − s_t`` of :class:`gmp_sparsity` (the form the algorithms use).

    >>> round(gmp_density(0.5, 0.9, 0, 4, 10)(40), 12)
    0.1
    """
    s = gmp_sparsity(s_i, s_f, t0, n, delta_t)
    return lambda t: 1.0 - s(t)


@dataclass(frozen=True)
class SoftMemoryBound:
    """MEST's soft memory bound (Yuan et al. 2021): prune below the target, then grow back.

    At an update at ``t`` the layer is pruned to ``(1 − slack(t))`` of its target nnz (so the
    layer briefly holds fewer weights than the memory bound) and then grown back to the target;
    ``target(t)`` is the target as a ratio of the layer's initial nnz (default 1: constant
    memory), and may decrease to tighten the bound over training (MEST's 0.85 → 0.875 → 0.9
    sparsity steps).

    >>> b = SoftMemoryBound(slack=constant(0.1))
    >>> b.slack(5), b.target(5)
    (0.1, 1.0)
    """

    slack: FractionSchedule = constant(0.05)
    target: Callable[[int], float] = constant(1.0)
