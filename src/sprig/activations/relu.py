r"""Piecewise-linear activations: ReLU, LeakyReLU, AllReLU and TReLU.

Derivatives at the kink are one-sided and documented per class (tests avoid kinks). All
values and derivatives are computed in the dtype of ``Z``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..specs.registry import ANY, LAYERS, NONNEGATIVE, UNIT_OPEN_RIGHT, Param
from ..typing import BoolArray, FloatArray
from .base import Activation


def _select(mask: BoolArray, where_true: float, where_false: float, like: FloatArray) -> FloatArray:
    """``where(mask, a, b)`` as an array of ``like``'s dtype (no float64 upcast)."""
    t = like.dtype.type
    return np.where(mask, t(where_true), t(where_false))


@LAYERS.register("relu", doc="max(0, x)", role="activation")
@dataclass(frozen=True)
class ReLU(Activation):
    r"""Rectified linear unit.

    .. math:: f(x) = \max(0, x), \qquad f'(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}

    ``f'(0) = 0`` (as PyTorch and nerva-torch; nerva-rowwise C++ uses 1). Cost: O(size).
    """

    name: ClassVar[str] = "relu"

    def value(self, Z: FloatArray) -> FloatArray:
        return np.maximum(Z, 0)

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        return (Z > 0).astype(Z.dtype)

    def backward(self, Z: FloatArray, Y: FloatArray, dY: FloatArray) -> FloatArray:
        # a boolean mask instead of a float derivative array: one temporary less, and 10x
        # faster than np.where, which branches on every element (measured)
        return np.multiply(dY, Z > 0)


@LAYERS.register(
    "leaky_relu",
    Param("alpha", UNIT_OPEN_RIGHT, doc="slope for x < 0"),
    doc="max(alpha x, x)",
    role="activation",
)
@dataclass(frozen=True)
class LeakyReLU(Activation):
    r"""Leaky ReLU with slope ``alpha`` for negative inputs.

    .. math:: f(x) = \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases}, \qquad
        f'(x) = \begin{cases} 1 & x > 0 \\ \alpha & x \le 0 \end{cases}

    Equals Nerva's :math:`\max(\alpha x, x)` for :math:`0 \le \alpha \le 1`; ``f'(0) = α``.

    Args:
        alpha: slope for ``x ≤ 0`` (default 0.01, as PyTorch).
    """

    name: ClassVar[str] = "leaky_relu"
    alpha: float = 0.01

    def value(self, Z: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            return np.where(Z > 0, Z, self.alpha * Z)

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        return _select(Z > 0, 1.0, self.alpha, Z)


@LAYERS.register(
    "all_relu",
    Param("alpha", ANY, doc="slope for x < 0"),
    doc="alpha x if x < 0 else x",
    role="activation",
)
@dataclass(frozen=True)
class AllReLU(Activation):
    r"""Nerva's All-ReLU: a leaky ReLU whose negative slope ``alpha`` may have either sign.

    .. math:: f(x) = \begin{cases} \alpha x & x < 0 \\ x & x \ge 0 \end{cases}, \qquad
        f'(x) = \begin{cases} \alpha & x < 0 \\ 1 & x \ge 0 \end{cases}

    ``f'(0) = 1`` (Nerva's definition). In a network, the sign of ``alpha`` alternates from
    layer to layer; see :func:`all_relu_alternating`.

    Args:
        alpha: slope for ``x < 0``; negative values are allowed.

    References:
        Curci, Mocanu, Pechenizkiy, "Truly Sparse Neural Networks at Scale" (2021).
    """

    name: ClassVar[str] = "all_relu"
    alpha: float

    def value(self, Z: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            return np.where(Z < 0, self.alpha * Z, Z)

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        return _select(Z < 0, self.alpha, 1.0, Z)


def all_relu_alternating(alpha: float, n_layers: int) -> list[AllReLU]:
    r"""All-ReLU activations for ``n_layers`` hidden layers with alternating signs.

    Nerva's specification applies All-ReLU to hidden layers 2, 3, 4, … with slopes
    ``−α, α, −α, …``; it leaves the first hidden layer a plain ReLU. Here layer 1 gets
    ``AllReLU(0.0)``, which is exactly ReLU (``0·x = 0`` for ``x < 0``), so the result has one
    type. Layer ``l ≥ 2`` gets slope ``(−1)^{l+1} |α|``, i.e. ``−|α|`` for even ``l`` and
    ``+|α|`` for odd ``l``.

    Args:
        alpha: magnitude of the negative slope (its sign is imposed per layer).
        n_layers: number of hidden layers (≥ 0).

    Returns:
        One activation per hidden layer, first layer first.

    Raises:
        ValueError: if ``n_layers`` is negative.

    Examples:
        >>> [a.alpha for a in all_relu_alternating(0.5, 4)]
        [0.0, -0.5, 0.5, -0.5]
    """
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers!r}")
    a = abs(alpha)
    return [AllReLU(0.0 if l == 1 else (-a if l % 2 == 0 else a)) for l in range(1, n_layers + 1)]


@LAYERS.register(
    "trelu",
    Param("epsilon", NONNEGATIVE, aliases=("eps",), doc="threshold"),
    doc="0 if x < epsilon else x",
    role="activation",
)
@dataclass(frozen=True)
class TReLU(Activation):
    r"""Nerva's trimmed ReLU: zero below a threshold ``epsilon``.

    .. math:: f(x) = \begin{cases} 0 & x < \epsilon \\ x & x \ge \epsilon \end{cases}, \qquad
        f'(x) = \begin{cases} 0 & x < \epsilon \\ 1 & x \ge \epsilon \end{cases}

    (discontinuous at ``ε`` when ``ε ≠ 0``; ``f'(ε) = 1`` as in Nerva).

    Args:
        epsilon: threshold (Nerva's experiments use 1e-30).
    """

    name: ClassVar[str] = "trelu"
    epsilon: float

    def value(self, Z: FloatArray) -> FloatArray:
        return np.where(self.epsilon <= Z, Z, Z.dtype.type(0))

    def derivative(self, Z: FloatArray, Y: FloatArray) -> FloatArray:
        return (self.epsilon <= Z).astype(Z.dtype)
