r"""Softmax cross-entropy on logits (numerically stable)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..activations.functions import log_softmax
from ..specs.registry import LOSSES
from ..typing import FloatArray
from .base import Loss, _prepare


@LOSSES.register(
    "softmax_cross_entropy",
    aliases=("stable_softmax_cross_entropy",),
    doc="-sum T log softmax(Y) (always computed stably)",
)
@dataclass(frozen=True)
class SoftmaxCrossEntropy(Loss):
    r"""Cross-entropy of ``softmax(Y)`` (over the classes, axis 0) against targets ``T``.

    .. math:: \mathcal L = -1_K^\top \big(T \odot \operatorname{logsoftmax}(Y)\big) 1_N, \qquad
        \nabla_Y \mathcal L = \operatorname{softmax}(Y) \odot (1_K 1_K^\top T) - T

    divided by ``N`` for ``reduction="mean"``. For one-hot ``T`` the gradient is
    ``softmax(Y) − T`` and ``"mean"`` equals ``torch.nn.functional.cross_entropy``. Uses the
    stable log-softmax (max subtracted). Shapes ``Y, T: (K, N)``; cost O(K N).
    """

    name: ClassVar[str] = "softmax_cross_entropy"

    def _sum(self, Y: FloatArray, T: FloatArray) -> float:
        return -float(np.sum(T * log_softmax(Y)))

    def _grad_sum(self, Y: FloatArray, T: FloatArray) -> FloatArray:
        return self._grad_from_log_softmax(log_softmax(Y), T)

    @staticmethod
    def _grad_from_log_softmax(L: FloatArray, T: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            S = np.exp(L)
            S *= T.sum(axis=0, keepdims=True)
        S -= T
        return S

    def value_and_grad(self, Y: FloatArray, T: FloatArray) -> tuple[float, FloatArray]:
        """Value and gradient sharing one log-softmax evaluation."""
        T = _prepare(Y, T)
        K, N = Y.shape
        L = log_softmax(Y)
        value = -float(np.sum(T * L)) * self._scale(K, N)
        return value, self._reduce_grad(self._grad_from_log_softmax(L, T), K, N)
