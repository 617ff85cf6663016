r"""Logistic (sigmoid) cross-entropy on logits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..activations.functions import sigmoid, softplus
from ..specs.registry import LOSSES
from ..typing import FloatArray
from .base import Loss


@LOSSES.register("logistic_cross_entropy", doc="-sum T log σ(Y)")
@dataclass(frozen=True)
class LogisticCrossEntropy(Loss):
    r"""Nerva's logistic cross-entropy: ``−Σ T log σ(Y)`` (positive-class terms only).

    .. math:: \mathcal L = -1_K^\top \big(T \odot \log\sigma(Y)\big) 1_N, \qquad
        \nabla_Y \mathcal L = T \odot \sigma(Y) - T = -T \odot \sigma(-Y)

    divided by ``N`` for ``reduction="mean"``. ``log σ(Y) = −softplus(−Y)`` is evaluated
    stably. Note there is no ``(1−T) log(1−σ(Y))`` term (unlike binary cross-entropy).
    Shapes ``Y, T: (K, N)``; cost O(K N).
    """

    name: ClassVar[str] = "logistic_cross_entropy"

    def _sum(self, Y: FloatArray, T: FloatArray) -> float:
        with np.errstate(under="ignore"):
            return float(np.sum(T * softplus(-Y)))

    def _grad_sum(self, Y: FloatArray, T: FloatArray) -> FloatArray:
        with np.errstate(under="ignore"):
            G = sigmoid(-Y)
            G *= T
        np.negative(G, out=G)
        return G
