r"""Hyperbolic tangent activation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..specs.registry import LAYERS
from ..typing import FloatArray
from .base import Activation


@LAYERS.register("tanh", aliases=("hyperbolic_tangent",), doc="tanh x", role="activation")
@dataclass(frozen=True)
class Tanh(Activation):
    r"""Hyperbolic tangent.

    .. math:: f(x) = \tanh x, \qquad f'(x) = 1 - \tanh^2 x = 1 - Y^2

    Cost: O(size).
    """

    name: ClassVar[str] = "tanh"

    def value(self, Z: FloatArray) -> FloatArray:
        return np.tanh(Z)

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            return 1 - Y * Y
