r"""Cross-entropy of probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..specs.registry import LOSSES
from ..typing import FloatArray
from .base import Loss


@LOSSES.register("cross_entropy", doc="-sum T log Y")
@dataclass(frozen=True)
class CrossEntropy(Loss):
    r"""Cross-entropy of predicted probabilities ``Y`` against targets ``T``.

    .. math:: \mathcal L = -1_K^\top (T \odot \log Y) 1_N, \qquad
        \nabla_Y \mathcal L = -T \oslash Y

    divided by ``N`` for ``reduction="mean"``. Entries with ``T = 0`` contribute exactly 0 to
    both (``log Y`` is not evaluated there, so ``Y = 0`` is allowed where ``T = 0``); elsewhere
    ``Y`` must be positive. Prefer :class:`~sprig.losses.SoftmaxCrossEntropy` on logits: this
    loss is numerically fragile for ``Y`` near 0. Shapes ``Y, T: (K, N)``; cost O(K N).
    """

    name: ClassVar[str] = "cross_entropy"

    def _sum(self, Y: FloatArray, T: FloatArray) -> float:
        L = np.zeros_like(Y)
        np.log(Y, out=L, where=T != 0)
        return -float(np.sum(T * L))

    def _grad_sum(self, Y: FloatArray, T: FloatArray) -> FloatArray:
        G = np.zeros_like(Y)
        np.divide(T, Y, out=G, where=T != 0)
        np.negative(G, out=G)
        return G
