r"""Softmax and log-softmax layers over the classes (axis 0) of a ``(K, N)`` batch.

Both use the stable forms (maximum subtracted per column, see
:mod:`sprig.activations.functions`) and apply the Jacobian-vector products of Nerva's
column-wise equations, never forming the ``K × K`` Jacobians:

.. math::
    \text{Softmax:}\quad Y = \operatorname{softmax}(Z),\quad
        dZ = Y \odot \big(dY - 1_K\,(1_K^\top (Y \odot dY))\big)

    \text{LogSoftmax:}\quad Y = \operatorname{logsoftmax}(Z),\quad
        dZ = dY - \operatorname{softmax}(Z) \odot \big(1_K 1_K^\top dY\big)

Cost: O(K · N) each way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..activations.functions import log_softmax, softmax
from ..specs.registry import LAYERS
from ..typing import FloatArray, check_float_dtype
from .activation import _check_features
from .base import Backprop, Param, check_input


class _ColumnNormalizer:
    """Shared shape of the softmax-type layers: no parameters, one map per column."""

    def __init__(self, features: int, dtype: Any = np.float32) -> None:
        self.features = _check_features(features)
        self.dtype = check_float_dtype(dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.features})"

    def params(self) -> Mapping[str, Param]:
        """No parameters."""
        return {}

    def _value(self, X: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _input_grad(self, Y: FloatArray, dY: FloatArray) -> FloatArray:
        raise NotImplementedError

    def forward(
        self, X: FloatArray, *, train: bool, input_grad: bool = True
    ) -> tuple[FloatArray, Backprop]:
        """``Y`` column by column; the closure applies the equation of the class docstring."""
        check_input(X, self.features, self.dtype, self)
        Y = self._value(X)

        def backprop(dY: FloatArray) -> FloatArray | None:
            if not input_grad:
                return None
            with np.errstate(under="ignore"):
                return self._input_grad(Y, dY)

        return Y, backprop


@LAYERS.register("softmax", doc="row-wise softmax over the features")
class Softmax(_ColumnNormalizer):
    r"""``Y = softmax(Z)`` per column (stable); ``dZ = Y ⊙ (dY − 1_K 1_Kᵀ(Y ⊙ dY))``.

    Args:
        features: number of classes ``K`` (rows of the input).
        dtype: float32 (default) or float64.
    """

    def _value(self, X: FloatArray) -> FloatArray:
        return softmax(X)

    def _input_grad(self, Y: FloatArray, dY: FloatArray) -> FloatArray:
        P = Y * dY
        dX: FloatArray = P - Y * P.sum(axis=0, keepdims=True)
        return dX


@LAYERS.register("log_softmax", doc="row-wise log-softmax over the features")
class LogSoftmax(_ColumnNormalizer):
    r"""``Y = logsoftmax(Z)`` per column (stable); ``dZ = dY − softmax(Z) ⊙ (1_K 1_Kᵀ dY)``.

    Args:
        features: number of classes ``K`` (rows of the input).
        dtype: float32 (default) or float64.
    """

    def _value(self, X: FloatArray) -> FloatArray:
        return log_softmax(X)

    def _input_grad(self, Y: FloatArray, dY: FloatArray) -> FloatArray:
        dX: FloatArray = dY - np.exp(Y) * dY.sum(axis=0, keepdims=True)
        return dX
