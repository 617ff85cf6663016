r"""A layer applying an element-wise activation: ``Y = f(Z)``, ``dZ = dY ⊙ f'(Z)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..activations.base import Activation
from ..typing import FloatArray, check_float_dtype
from .base import Backprop, Param, check_input


class ActivationLayer:
    r"""Element-wise activation as a parameter-free layer.

    .. math:: Y = f(Z), \qquad dZ = dY \odot f'(Z)

    Shapes ``Z, Y, dY, dZ: (features, N)``. Cost: O(features · N) each way. The backprop
    closure keeps ``Z`` and ``Y`` and evaluates ``f'`` only when called.

    Args:
        activation: an :class:`~sprig.activations.Activation`, e.g. ``ReLU()``.
        features: number of rows of the input.
        dtype: float32 (default) or float64.
    """

    def __init__(self, activation: Activation, features: int, dtype: Any = np.float32) -> None:
        if not isinstance(activation, Activation):
            raise TypeError(f"activation must be an Activation, got {activation!r}")
        self.activation = activation
        self.features = _check_features(features)
        self.dtype = check_float_dtype(dtype)

    def __repr__(self) -> str:
        return f"ActivationLayer({self.activation!r}, {self.features})"

    def params(self) -> Mapping[str, Param]:
        """No parameters."""
        return {}

    def forward(
        self, X: FloatArray, *, train: bool, input_grad: bool = True
    ) -> tuple[FloatArray, Backprop]:
        """``Y = f(X)``; the closure returns ``dX = dY ⊙ f'(X)``."""
        check_input(X, self.features, self.dtype, self)
        f = self.activation
        Y = f.value(X)

        def backprop(dY: FloatArray) -> FloatArray | None:
            if not input_grad:
                return None
            return f.backward(X, Y, dY)

        return Y, backprop


def _check_features(features: int) -> int:
    """Return ``features`` as an int, or raise ``ValueError`` unless it is a positive integer."""
    if isinstance(features, bool) or not isinstance(features, int | np.integer) or features < 1:
        raise ValueError(f"features must be a positive integer, got {features!r}")
    return int(features)
