r"""Plain (stochastic) gradient descent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..specs.registry import NONNEGATIVE, OPTIMIZERS, Param
from ..typing import FloatArray
from . import _kernels
from .base import check_lr, flat_views

#: The L2 penalty every optimizer takes.
WEIGHT_DECAY = Param("weight_decay", NONNEGATIVE, doc="L2 penalty (decoupled for adamw)")


@dataclass
class SGDState:
    """SGD keeps no state (the class exists so every optimizer has a state dataclass)."""


@OPTIMIZERS.register("sgd", WEIGHT_DECAY, aliases=("gradient_descent",), doc="w ← w - lr g")
@dataclass(frozen=True)
class SGD:
    r"""Gradient descent with optional coupled L2 weight decay.

    Update rule (``wd = weight_decay``)::

        w ← w − lr·(g + wd·w)

    Identical to ``torch.optim.SGD(lr, momentum=0, weight_decay=wd)`` and to Nerva's
    ``GradientDescent`` (which has no weight decay). No state, so a topology edit needs no
    bookkeeping.

    Args:
        weight_decay: L2 penalty coefficient (added to the gradient), ``>= 0``.
    """

    name: ClassVar[str] = "sgd"
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        OPTIMIZERS.validate(self)

    def init(self, value: FloatArray) -> SGDState:
        """Empty state."""
        return SGDState()

    def step(self, value: FloatArray, grad: FloatArray, state: SGDState, *, lr: float) -> None:
        """Update ``value`` in place."""
        lr = check_lr(lr)
        w, g = flat_views(value, grad)
        _kernels.sgd(w, g, lr, float(self.weight_decay))
