r"""Mean squared error: squared error averaged over the ``K`` outputs as well."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..specs.registry import LOSSES
from .squared_error import SquaredError


@LOSSES.register("mse", aliases=("mean_squared_error",), doc="squared error / (K N)")
@dataclass(frozen=True)
class MeanSquaredError(SquaredError):
    r"""Squared error divided additionally by the number of outputs ``K`` (Nerva's MSE).

    .. math::
        \texttt{"mean"}:\ \mathcal L = \frac{\mathcal L_{SE}}{K N},\quad
            \nabla_Y \mathcal L = \frac{2(Y-T)}{K N}; \qquad
        \texttt{"sum"}:\ \mathcal L = \frac{\mathcal L_{SE}}{K},\quad
            \nabla_Y \mathcal L = \frac{2(Y-T)}{K}

    with :math:`\mathcal L_{SE} = \sum_{k,n} (Y_{kn}-T_{kn})^2`. ``"mean"`` equals
    ``torch.nn.functional.mse_loss(reduction="mean")`` on the batch-first ``(N, K)`` arrays;
    ``"sum"`` is the sum over examples of the per-example mean over outputs (so it is *not*
    torch's ``reduction="sum"``, which is :class:`SquaredError` with ``"sum"``).
    Shapes ``Y, T: (K, N)``; cost O(K N).
    """

    name: ClassVar[str] = "mse"

    def _scale(self, K: int, N: int) -> float:
        return super()._scale(K, N) / K
