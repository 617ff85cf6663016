r"""Nerva's negative log-likelihood of probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..specs.registry import LOSSES
from ..typing import FloatArray
from .base import Loss


@LOSSES.register("nll", aliases=("negative_log_likelihood",), doc="-sum log((Y ⊙ T) 1)")
@dataclass(frozen=True)
class NegativeLogLikelihood(Loss):
    r"""Negative log-likelihood of the target-weighted probability of each example.

    .. math:: s = (Y \odot T)^\top 1_K \in \mathbb R^N, \qquad
        \mathcal L = -1_N^\top \log s, \qquad
        \nabla_Y \mathcal L = -T \odot \big(1_K (1 \oslash s)^\top\big)

    divided by ``N`` for ``reduction="mean"``. ``Y`` holds *probabilities* (Nerva's
    convention): for one-hot ``T`` this is ``−Σ_n log Y[t_n, n]``, i.e. PyTorch's
    ``nll_loss(log(Y))`` — torch's ``NLLLoss`` takes log-probabilities instead. Every ``s_n``
    must be positive. Shapes ``Y, T: (K, N)``; cost O(K N).
    """

    name: ClassVar[str] = "nll"

    def _sum(self, Y: FloatArray, T: FloatArray) -> float:
        s = np.sum(Y * T, axis=0)
        return -float(np.sum(np.log(s)))

    def _grad_sum(self, Y: FloatArray, T: FloatArray) -> FloatArray:
        s = np.sum(Y * T, axis=0, keepdims=True)
        G: FloatArray = -T / s
        return G
