r"""Adam and AdamW, with SMET's per-entry step counters and momentum warm-up as options."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..specs.registry import (
    NONNEGATIVE_INT,
    OPTIMIZERS,
    POSITIVE,
    UNIT_OPEN_RIGHT,
    Bool,
    ListOf,
    Param,
)
from ..typing import FloatArray, IntArray
from . import _kernels
from .base import check_lr, flat_state, flat_views, per_entry
from .sgd import WEIGHT_DECAY

_BETAS = Param("betas", ListOf(UNIT_OPEN_RIGHT, length=2), doc="(β₁, β₂)")
_EPS = Param("eps", POSITIVE, aliases=("epsilon",), doc="added to the denominator")
_PER_ENTRY = Param("per_entry_steps", Bool(), doc="one step counter per stored entry (SMET)")
_WARMUP = Param("warmup_steps", NONNEGATIVE_INT, doc="momentum warm-up of young entries (0 = off)")


@dataclass
class AdamState:
    """Adam moments and the shared step counter.

    Attributes:
        m: first moment, shape and dtype of the parameter; inserted entries get 0.
        v: second moment, likewise; inserted entries get 0.
        step: number of steps taken (shared by all entries, unchanged by topology edits, so
            an inserted entry starts with ``m = v = 0`` but the bias correction of step
            ``t``; use ``per_entry_steps=True`` to restart it).
    """

    m: FloatArray = per_entry(0.0)  # noqa: RUF009
    v: FloatArray = per_entry(0.0)  # noqa: RUF009
    step: int = 0


@dataclass
class AdamPerEntryState:
    """Adam moments with one step counter per entry (SMET).

    Attributes:
        m: first moment; inserted entries get 0.
        v: second moment; inserted entries get 0.
        step: ``int32`` step count of every entry; inserted entries get 0, so their first
            update is bias-corrected as the first step of a fresh Adam.
    """

    m: FloatArray = per_entry(0.0)  # noqa: RUF009
    v: FloatArray = per_entry(0.0)  # noqa: RUF009
    step: IntArray = per_entry(0)  # noqa: RUF009


@OPTIMIZERS.register(
    "adam", _BETAS, _EPS, WEIGHT_DECAY, _PER_ENTRY, _WARMUP, doc="Adam (Kingma & Ba 2015)"
)
@dataclass(frozen=True)
class Adam:
    r"""Adam (Kingma & Ba 2015) with coupled L2 weight decay, as ``torch.optim.Adam``.

    Update rule at step ``t`` (``t = 1`` on the first call; ``wd = weight_decay``)::

        g ← g + wd·w                      (coupled L2, before the moments)
        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        m ← m·min(t / W, 1)               (only if warmup_steps = W > 0)
        w ← w − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    This is PyTorch's formula (ε added to the bias-corrected √v̂), so results match
    ``torch.optim.Adam`` to rounding.

    SMET options (Xiao et al., code ``QiaoXiao7282/SMET``, ``Adam_block``):

    * ``per_entry_steps=True``: ``t`` is an ``int32`` counter per entry (state
      :class:`AdamPerEntryState`). An entry inserted by a topology edit gets ``m = v = 0``
      and ``t = 0`` (incremented before use), so its first update equals a fresh Adam's first
      update. With the default shared counter (:class:`AdamState`), an inserted entry gets
      ``m = v = 0`` and the current ``t``, so its first update is
      ``(1 − β₁)/(1 − β₁ᵗ)·√((1 − β₂ᵗ)/(1 − β₂))`` times a fresh entry's ``lr·sign(g)``
      (→ ``(1 − β₁)/√(1 − β₂) ≈ 3.16`` for the default betas once ``t`` is large).
    * ``warmup_steps=W > 0``: momentum warm-up of young entries. After the moment update the
      **stored** ``m`` is multiplied by ``min(t/W, 1)`` (``t`` per entry, or the shared
      counter), exactly as SMET does, so the damping compounds through the EMA during the
      first ``W`` steps of an entry (for ``t ≥ W`` it is a no-op). ``W = 1`` is a no-op.

    Topology edits: inserted entries get ``m = v = 0`` (and ``t = 0`` with per-entry steps);
    kept entries keep their moments and counters.

    Args:
        betas: ``(β₁, β₂)``, each in ``[0, 1)``.
        eps: ``ε > 0``, added to the denominator.
        weight_decay: coupled L2 coefficient ``>= 0`` (for decoupled decay use :class:`AdamW`).
        per_entry_steps: one step counter per entry (SMET) instead of one shared counter.
        warmup_steps: ``W >= 0``; 0 disables the momentum warm-up.
    """

    name: ClassVar[str] = "adam"
    _decoupled: ClassVar[bool] = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    per_entry_steps: bool = False
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        OPTIMIZERS.validate(self)  # the constraints declared above: one check for all paths

    def init(self, value: FloatArray) -> AdamState | AdamPerEntryState:
        """Zero moments; step counter(s) at 0."""
        m = np.zeros(value.shape, dtype=value.dtype)
        v = np.zeros(value.shape, dtype=value.dtype)
        if self.per_entry_steps:
            return AdamPerEntryState(m, v, np.zeros(value.shape, dtype=np.int32))
        return AdamState(m, v, 0)

    def step(
        self,
        value: FloatArray,
        grad: FloatArray,
        state: AdamState | AdamPerEntryState,
        *,
        lr: float,
    ) -> None:
        """Update ``value`` and ``state`` in place."""
        lr = check_lr(lr)
        w, g = flat_views(value, grad)
        m = flat_state("m", state.m, value)
        v = flat_state("v", state.v, value)
        b1, b2 = float(self.betas[0]), float(self.betas[1])
        wd = float(self.weight_decay)
        coupled, decay = (0.0, 1.0 - lr * wd) if self._decoupled else (wd, 1.0)
        W = int(self.warmup_steps)
        if self.per_entry_steps:
            if not isinstance(state, AdamPerEntryState):
                raise ValueError("per_entry_steps=True needs an AdamPerEntryState (use init)")
            t = flat_state("step", state.step, value)
            _kernels.adam_per_entry(
                w, g, m, v, t, lr, b1, b2, float(self.eps), coupled, decay, float(W)
            )
            return
        if not isinstance(state, AdamState):
            raise ValueError("per_entry_steps=False needs an AdamState (use init)")
        state.step += 1
        t = state.step
        step_size = lr / (1.0 - b1**t)
        sqrt_bc2 = math.sqrt(1.0 - b2**t)
        scale = min(t / W, 1.0) if W > 0 else 1.0
        _kernels.adam(
            w, g, m, v, step_size, sqrt_bc2, b1, b2, float(self.eps), coupled, decay, scale
        )


@OPTIMIZERS.register(
    "adamw",
    _BETAS,
    _EPS,
    WEIGHT_DECAY,
    _PER_ENTRY,
    _WARMUP,
    doc="Adam with decoupled weight decay (Loshchilov & Hutter 2019)",
)
@dataclass(frozen=True)
class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``.

    Update rule at step ``t`` (``wd = weight_decay``)::

        w ← w·(1 − lr·wd)                 (decoupled: the gradient is not touched)
        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        m ← m·min(t / W, 1)               (only if warmup_steps = W > 0)
        w ← w − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    Same state, options and topology-edit behaviour as :class:`Adam`; only the default
    ``weight_decay=0.01`` (PyTorch's) and the decoupling differ.
    """

    name: ClassVar[str] = "adamw"
    _decoupled: ClassVar[bool] = True
    weight_decay: float = 0.01


@OPTIMIZERS.register(
    "smet",
    _BETAS,
    _EPS,
    WEIGHT_DECAY,
    Param("warmup_steps", NONNEGATIVE_INT, doc="momentum warm-up of regrown entries"),
    doc="SMET: Adam with per-entry step counters and momentum warm-up (Xiao 2026)",
)
@dataclass(frozen=True)
class SMET(Adam):
    """SMET's optimizer (Xiao et al., ICML 2026): :class:`Adam` with per-entry step counters
    and a momentum warm-up of ``warmup_steps = 100`` (the released default) for regrown
    entries. Combine with the trainer's ``density_lr_power`` for its density-aware learning
    rate."""

    name: ClassVar[str] = "smet"
    per_entry_steps: bool = True
    warmup_steps: int = 100
