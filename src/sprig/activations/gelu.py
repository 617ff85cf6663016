r"""Gaussian error linear unit (exact erf form)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import erf

from ..specs.registry import LAYERS
from ..typing import FloatArray
from .base import Activation

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
#: |x| beyond which φ(x) = e^{-x²/2}/√(2π) is 0 in float64; clipping avoids overflow of x².
_PHI_CLIP = 40.0


@LAYERS.register("gelu", doc="x Φ(x)", role="activation")
@dataclass(frozen=True)
class GELU(Activation):
    r"""GELU, exact form (PyTorch's ``approximate="none"``).

    .. math:: f(x) = x\,\Phi(x) = \tfrac12 x\big(1 + \operatorname{erf}(x/\sqrt2)\big), \qquad
        f'(x) = \Phi(x) + x\,\varphi(x), \quad \varphi(x) = \frac{e^{-x^2/2}}{\sqrt{2\pi}}

    Cost: O(size) (one ``erf`` and one ``exp`` per entry for the derivative).

    References:
        Hendrycks, Gimpel, "Gaussian Error Linear Units (GELUs)" (2016).
    """

    name: ClassVar[str] = "gelu"

    def value(self, Z: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            Y: FloatArray = 0.5 * Z * (1 + erf(Z * _SQRT1_2))
        return Y

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        C = np.clip(Z, -_PHI_CLIP, _PHI_CLIP)
        with np.errstate(under="ignore"):
            D: FloatArray = 0.5 * (1 + erf(Z * _SQRT1_2)) + C * (
                _INV_SQRT_2PI * np.exp(-0.5 * C * C)
            )
        return D
