r"""Softplus activation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..specs.registry import LAYERS
from ..typing import FloatArray
from .base import Activation
from .functions import sigmoid, softplus


@LAYERS.register("softplus", doc="log(1 + exp(x))", role="activation")
@dataclass(frozen=True)
class Softplus(Activation):
    r"""Softplus, a smooth ReLU.

    .. math:: f(x) = \log(1 + e^x) = \max(x, 0) + \log(1 + e^{-|x|}), \qquad f'(x) = \sigma(x)

    Cost: O(size).
    """

    name: ClassVar[str] = "softplus"

    def value(self, Z: FloatArray) -> FloatArray:
        return softplus(Z)

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        return sigmoid(Z)
