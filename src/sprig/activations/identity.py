r"""The identity activation (Nerva's ``Linear`` / "no activation")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..typing import FloatArray
from .base import Activation


@dataclass(frozen=True)
class Identity(Activation):
    r"""Identity: :math:`f(x) = x`, :math:`f'(x) = 1`.

    ``value`` returns ``Z`` itself (no copy). Cost: O(1) forward, O(size) derivative.
    """

    name: ClassVar[str] = "linear"

    def value(self, Z: FloatArray) -> FloatArray:
        return Z

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        return np.ones_like(Z)
