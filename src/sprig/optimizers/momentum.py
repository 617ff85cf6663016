r"""Gradient descent with (heavy-ball) momentum, in Nerva's / Keras's velocity form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..specs.registry import OPTIMIZERS, UNIT_OPEN_RIGHT, Param
from ..typing import FloatArray
from . import _kernels
from .base import check_lr, flat_state, flat_views, per_entry
from .sgd import WEIGHT_DECAY

#: The momentum coefficient of Momentum and Nesterov.
MU = Param("momentum", UNIT_OPEN_RIGHT, aliases=("mu",), doc="μ")


@dataclass
class MomentumState:
    """Velocity ``Δ`` of every entry (shape and dtype of the parameter).

    Entries inserted by a topology edit start with ``Δ = 0``.
    """

    delta: FloatArray = per_entry(0.0)  # noqa: RUF009


@OPTIMIZERS.register("momentum", MU, WEIGHT_DECAY, doc="Δ ← μΔ - lr g; w ← w + Δ")
@dataclass(frozen=True)
class Momentum:
    r"""Momentum SGD in the *velocity* form of Nerva and Keras.

    Update rule (``μ = momentum``, ``wd = weight_decay``, ``Δ`` starts at 0)::

        g' = g + wd·w
        Δ  ← μ·Δ − lr·g'
        w  ← w + Δ

    PyTorch's ``SGD(momentum=μ)`` keeps ``b ← μ·b + g'`` and steps ``w ← w − lr·b``. With a
    constant ``lr`` the two are identical (``Δ = −lr·b``). When ``lr`` changes, this form
    keeps the velocity accumulated at the old rates (a new ``lr`` only scales the new
    gradient), while PyTorch's rescales the whole buffer by the current ``lr``. (PyTorch also
    sets ``b = g`` on its first step instead of ``(1 − dampening)·g``; with ``dampening=0``, the
    only value this class models, both give ``b = g``.)

    Topology edits: inserted entries get ``Δ = 0``; kept entries keep their velocity. (Nerva
    zeroes the whole buffer of an edited layer; use ``init`` again for that behaviour.)

    Args:
        momentum: ``μ`` in ``[0, 1)``.
        weight_decay: coupled L2 coefficient, ``>= 0``.
    """

    name: ClassVar[str] = "momentum"
    _nesterov: ClassVar[bool] = False
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        OPTIMIZERS.validate(self)

    def init(self, value: FloatArray) -> MomentumState:
        """Zero velocity."""
        return MomentumState(np.zeros(value.shape, dtype=value.dtype))

    def step(self, value: FloatArray, grad: FloatArray, state: MomentumState, *, lr: float) -> None:
        """Update ``value`` and ``state.delta`` in place."""
        lr = check_lr(lr)
        w, g = flat_views(value, grad)
        d = flat_state("delta", state.delta, value)
        _kernels.momentum(
            w, g, d, lr, float(self.momentum), float(self.weight_decay), self._nesterov
        )
