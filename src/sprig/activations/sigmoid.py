r"""Sigmoid-based activations: Sigmoid and SiLU (swish)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..specs.registry import LAYERS
from ..typing import FloatArray
from .base import Activation
from .functions import sigmoid


@LAYERS.register("sigmoid", aliases=("logistic",), doc="1 / (1 + exp(-x))", role="activation")
@dataclass(frozen=True)
class Sigmoid(Activation):
    r"""Logistic sigmoid.

    .. math:: f(x) = \sigma(x) = \frac{1}{1+e^{-x}}, \qquad f'(x) = \sigma(x)(1-\sigma(x)) = Y(1-Y)

    Computed without overflow (see :func:`sprig.activations.functions.sigmoid`). Cost: O(size).
    """

    name: ClassVar[str] = "sigmoid"

    def value(self, Z: FloatArray) -> FloatArray:
        return sigmoid(Z)

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            return Y * (1 - Y)


@LAYERS.register("silu", aliases=("swish",), doc="x σ(x)", role="activation")
@dataclass(frozen=True)
class SiLU(Activation):
    r"""Sigmoid-weighted linear unit (swish with β = 1).

    .. math:: f(x) = x\,\sigma(x), \qquad f'(x) = \sigma(x)\big(1 + x(1-\sigma(x))\big)

    Cost: O(size).

    References:
        Elfwing, Uchibe, Doya, "Sigmoid-Weighted Linear Units..." (2018).
    """

    name: ClassVar[str] = "silu"

    def value(self, Z: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            return Z * sigmoid(Z)

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        S = sigmoid(Z)
        with np.errstate(under="ignore"):
            return S * (1 + Z * (1 - S))
