r"""Exponential linear unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..specs.registry import LAYERS, POSITIVE, Param
from ..typing import FloatArray
from .base import Activation


@LAYERS.register(
    "elu",
    Param("alpha", POSITIVE),
    doc="alpha (exp(x) - 1) if x < 0 else x",
    role="activation",
)
@dataclass(frozen=True)
class ELU(Activation):
    r"""Exponential linear unit.

    .. math:: f(x) = \begin{cases} x & x > 0 \\ \alpha(e^x - 1) & x \le 0 \end{cases}, \qquad
        f'(x) = \begin{cases} 1 & x > 0 \\ \alpha e^x & x \le 0 \end{cases}

    ``exp`` is only evaluated on ``min(x, 0)`` (no overflow); ``f'(0) = α``. Cost: O(size).

    Args:
        alpha: scale of the negative branch, ``f(x) → −α`` as ``x → −∞`` (default 1.0, as
            PyTorch).

    References:
        Clevert, Unterthiner, Hochreiter, "Fast and Accurate Deep Network Learning by
        Exponential Linear Units (ELUs)" (2016).
    """

    name: ClassVar[str] = "elu"
    alpha: float = 1.0

    def value(self, Z: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            return np.where(Z > 0, Z, self.alpha * np.expm1(np.minimum(Z, 0)))

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            return np.where(Z > 0, Z.dtype.type(1), self.alpha * np.exp(np.minimum(Z, 0)))
