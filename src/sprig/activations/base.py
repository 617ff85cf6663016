r"""The activation protocol: a pure, element-wise ``(value, derivative)`` pair.

An activation is a frozen dataclass whose fields are its hyper-parameters (e.g. ``alpha``).
``value(Z)`` returns ``Y = f(Z)`` and ``derivative(Z, Y)`` returns ``f'(Z)`` element-wise;
``Y`` is the output of ``value(Z)`` and may be used when it is cheaper (``σ' = Y(1 − Y)``).
Both work on arrays of any shape (in sprig: feature-major ``(features, N)`` batches), preserve
the input dtype, and emit no floating-point warnings for finite inputs.

At a kink (ReLU-like functions at 0) the derivative is a documented one-sided value; tests
stay away from kinks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..typing import FloatArray


@dataclass(frozen=True)
class Activation(ABC):
    """Abstract base of element-wise activations; ``name`` is the registry/spec name."""

    name: ClassVar[str]

    @abstractmethod
    def value(self, Z: FloatArray) -> FloatArray:
        """Return ``Y = f(Z)``, same shape and dtype as ``Z``."""

    @abstractmethod
    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        """Return ``f'(Z)`` element-wise, given ``Y = f(Z)``; same shape and dtype as ``Z``."""

    def backward(self, Z: FloatArray, Y: FloatArray, dY: FloatArray) -> FloatArray:
        """Return ``dZ = dY ⊙ f'(Z)``; activations may override it with a cheaper form."""
        with np.errstate(under="ignore"):
            return dY * self.derivative(Z, Y)
