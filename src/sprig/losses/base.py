r"""The loss protocol: ``value(Y, T) -> float`` and ``grad(Y, T) -> dY`` on ``(K, N)`` batches.

``Y`` (network outputs) and ``T`` (targets, typically one-hot) share the feature-major shape
``(K, N)``: ``K`` outputs/classes, ``N`` examples. Every loss is a sum over examples of a
per-example loss :math:`\ell(y_n, t_n)`; ``reduction`` fixes the scaling:

* ``"sum"``: :math:`\mathcal L = \sum_n \ell(y_n, t_n)` (Nerva's convention);
* ``"mean"`` (default): :math:`\mathcal L = \frac1N \sum_n \ell(y_n, t_n)` (PyTorch's for
  classification losses).

``grad`` returns :math:`\partial\mathcal L/\partial Y` with the same scaling, in ``Y``'s dtype.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from ..errors import ConfigError
from ..typing import FloatArray

Reduction = Literal["sum", "mean"]
REDUCTIONS: tuple[str, ...] = ("sum", "mean")


def _prepare(Y: FloatArray, T: FloatArray) -> FloatArray:
    check_targets(Y, T)
    return np.asarray(T, dtype=Y.dtype)


def check_targets(Y: FloatArray, T: FloatArray) -> None:
    """Raise ``ValueError`` unless ``Y`` and ``T`` are 2-D ``(K, N)`` arrays of the same shape."""
    if Y.ndim != 2 or Y.shape != T.shape:
        raise ValueError(
            f"outputs Y {Y.shape} and targets T {T.shape} must have the same (K, N) shape"
        )


@dataclass(frozen=True)
class Loss(ABC):
    """Abstract base of losses; ``name`` is the registry/spec name.

    Subclasses implement :meth:`_sum` and :meth:`_grad_sum` (the ``"sum"``-reduced value and
    gradient); the base applies the reduction and checks shapes.

    Args:
        reduction: ``"sum"`` over the batch or ``"mean"`` (divide by the batch size ``N``).

    Raises:
        ConfigError: (a ``ValueError``) if ``reduction`` is not ``"sum"`` or ``"mean"``.
    """

    name: ClassVar[str]
    reduction: Reduction = "mean"

    def __post_init__(self) -> None:
        if self.reduction not in REDUCTIONS:
            raise ConfigError(
                f"{type(self).__name__}: reduction must be 'sum' or 'mean', got {self.reduction!r}"
            )

    @abstractmethod
    def _sum(self, Y: FloatArray, T: FloatArray) -> float:
        """Sum of the per-example losses."""

    @abstractmethod
    def _grad_sum(self, Y: FloatArray, T: FloatArray) -> FloatArray:
        """Gradient of :meth:`_sum` with respect to ``Y`` (a fresh array, ``Y``'s dtype)."""

    def _scale(self, K: int, N: int) -> float:
        """Factor applied to the summed value and gradient (``1/N`` for ``"mean"``)."""
        return 1.0 / N if self.reduction == "mean" else 1.0

    def value(self, Y: FloatArray, T: FloatArray) -> float:
        """Return the reduced loss as a Python float.

        ``T`` is cast to ``Y``'s dtype (integer one-hot targets are fine).
        """
        T = _prepare(Y, T)
        return self._sum(Y, T) * self._scale(*Y.shape)

    def grad(self, Y: FloatArray, T: FloatArray) -> FloatArray:
        """Return ``dY = ∂L/∂Y``, shape ``(K, N)``, ``Y``'s dtype."""
        T = _prepare(Y, T)
        return self._reduce_grad(self._grad_sum(Y, T), *Y.shape)

    def _reduce_grad(self, dY: FloatArray, K: int, N: int) -> FloatArray:
        s = self._scale(K, N)
        if s != 1.0:
            with np.errstate(under="ignore"):
                dY *= s
        return dY

    def value_and_grad(self, Y: FloatArray, T: FloatArray) -> tuple[float, FloatArray]:
        """Return ``(value(Y, T), grad(Y, T))``; subclasses may share work between the two."""
        return self.value(Y, T), self.grad(Y, T)
