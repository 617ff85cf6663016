r"""Gradient descent with Nesterov momentum, in Nerva's velocity form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..specs.registry import OPTIMIZERS
from .momentum import MU, Momentum
from .sgd import WEIGHT_DECAY


@OPTIMIZERS.register("nesterov", MU, WEIGHT_DECAY, doc="Δ ← μΔ - lr g; w ← w + μΔ - lr g")
@dataclass(frozen=True)
class Nesterov(Momentum):
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
    _nesterov: ClassVar[bool] = True
