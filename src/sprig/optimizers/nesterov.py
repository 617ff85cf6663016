r"""Gradient descent with Nesterov momentum, in Nerva's velocity form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..typing import FloatArray
from . import _kernels
from .base import check_lr, check_range, flat_state, flat_views
from .momentum import MomentumState


@dataclass(frozen=True)
class Nesterov:
    r"""Nesterov momentum (Nerva's form; state :class:`MomentumState`).

    Update rule (``μ = momentum``, ``wd = weight_decay``, ``Δ`` starts at 0)::

        g' = g + wd·w
        Δ  ← μ·Δ − lr·g'
        w  ← w + μ·Δ − lr·g'

    PyTorch's ``SGD(momentum=μ, nesterov=True)`` keeps ``b ← μ·b + g'`` and steps
    ``w ← w − lr·(g' + μ·b)``; with a constant ``lr`` the two are identical (``Δ = −lr·b``).
    They differ when ``lr`` changes, as for :class:`~sprig.optimizers.Momentum`.

    Topology edits: inserted entries get ``Δ = 0``; kept entries keep their velocity.

    Args:
        momentum: ``μ`` in ``[0, 1)``.
        weight_decay: coupled L2 coefficient, ``>= 0``.
    """

    name: ClassVar[str] = "nesterov"
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        check_range("momentum", self.momentum, 0.0, 1.0, hi_open=True)
        check_range("weight_decay", self.weight_decay, 0.0)

    def init(self, value: FloatArray) -> MomentumState:
        """Zero velocity."""
        return MomentumState(np.zeros(value.shape, dtype=value.dtype))

    def step(self, value: FloatArray, grad: FloatArray, state: MomentumState, *, lr: float) -> None:
        """Update ``value`` and ``state.delta`` in place."""
        lr = check_lr(lr)
        w, g = flat_views(value, grad)
        d = flat_state("delta", state.delta, value)
        _kernels.momentum(w, g, d, lr, float(self.momentum), float(self.weight_decay), True)
