r"""Squared-error loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..specs.registry import LOSSES
from ..typing import FloatArray
from .base import Loss


@LOSSES.register("squared_error", doc="sum of (Y - T)^2")
@dataclass(frozen=True)
class SquaredError(Loss):
    r"""Sum of squared errors (Nerva's ``SquaredError``), no ½ factor.

    .. math:: \mathcal L_{SE} = 1_K^\top \big((Y-T)\odot(Y-T)\big) 1_N, \qquad
        \nabla_Y \mathcal L_{SE} = 2(Y - T)

    divided by ``N`` for ``reduction="mean"``. Shapes ``Y, T: (K, N)``; cost O(K N).
    """

    name: ClassVar[str] = "squared_error"

    def _sum(self, Y: FloatArray, T: FloatArray) -> float:
        D = Y - T
        with np.errstate(under="ignore"):
            return float(np.sum(D * D))

    def _grad_sum(self, Y: FloatArray, T: FloatArray) -> FloatArray:
        D = Y - T
        D *= 2
        return D
