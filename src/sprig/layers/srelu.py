r"""SReLU: the S-shaped rectified linear unit with four learnable scalars.

.. math::
    f(z) = \begin{cases}
        t_l + a_l (z - t_l) & z \le t_l \qquad (\text{region } L)\\
        t_r + a_r (z - t_r) & z \ge t_r \text{ and not } L \qquad (\text{region } R)\\
        z & \text{otherwise } (t_l < z < t_r) \qquad (\text{region } M)
    \end{cases}

When ``t_l ≥ t_r`` the cases overlap; the **first (left) alternative wins**, as in Nerva's
specification: a point with ``z ≤ t_l`` is always in ``L``, and ``M`` is empty. The
parameter gradients use the same regions (this is nerva-torch's fix of the specification's
``T^r``, which did not exclude ``L``). With ``dY`` the output gradient and ``Σ`` the sum over
all entries of a ``(features, N)`` batch:

.. math::
    dZ &= dY \odot (a_l [L] + a_r [R] + [M]) \\
    da_l &= \Sigma\, dY \odot (Z - t_l)[L], \qquad dt_l = (1 - a_l)\, \Sigma\, dY [L] \\
    da_r &= \Sigma\, dY \odot (Z - t_r)[R], \qquad dt_r = (1 - a_r)\, \Sigma\, dY [R]

(``[L]`` the 0/1 indicator of region ``L``). Cost: O(features · N) each way.

References:
    Jin et al., "Deep Learning with S-shaped Rectified Linear Activation Units" (2016).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..specs.registry import ANY, LAYERS
from ..specs.registry import Param as SpecParam
from ..typing import FloatArray, check_float_dtype
from .activation import _check_features
from .base import Backprop, Param, check_input

#: Parameter names, in Nerva's order (its 1×4 ``act.x`` matrix).
SRELU_PARAMS = ("al", "tl", "ar", "tr")


@LAYERS.register(
    "srelu",
    SpecParam("al", ANY, doc="left slope (learnable)"),
    SpecParam("tl", ANY, doc="left threshold (learnable)"),
    SpecParam("ar", ANY, doc="right slope (learnable)"),
    SpecParam("tr", ANY, doc="right threshold (learnable)"),
    doc="S-shaped ReLU with 4 learnable parameters; defaults = ReLU (Nerva's parser)",
)
class SReLU:
    r"""SReLU layer with learnable scalars ``a_l, t_l, a_r, t_r`` shared by all units.

    The parameters are four :class:`Param` entries named ``"al"``, ``"tl"``, ``"ar"``,
    ``"tr"``, each a ``(1,)`` array, so optimizers treat them like any other parameter. The
    defaults ``(0, 0, 0, 1)`` (Nerva's) give ``f(z) = clip(z, 0, 1)``: a ReLU that saturates
    at 1 until ``a_r`` is learned. Equations in the module docstring.

    Args:
        features: number of rows of the input.
        al, tl, ar, tr: initial left slope, left threshold, right slope, right threshold.
        dtype: float32 (default) or float64.
    """

    def __init__(
        self,
        features: int,
        al: float = 0.0,
        tl: float = 0.0,
        ar: float = 0.0,
        tr: float = 1.0,
        dtype: Any = np.float32,
    ) -> None:
        self.features = _check_features(features)
        self.dtype = check_float_dtype(dtype)
        self._params = {
            name: Param(np.array([v], self.dtype), np.zeros(1, self.dtype))
            for name, v in zip(SRELU_PARAMS, (al, tl, ar, tr), strict=True)
        }

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={float(p.value[0]):g}" for k, p in self._params.items())
        return f"SReLU({self.features}, {vals})"

    def params(self) -> Mapping[str, Param]:
        """``al``, ``tl``, ``ar``, ``tr``: each a ``(1,)`` array with its gradient."""
        return dict(self._params)

    def forward(
        self, X: FloatArray, *, train: bool, input_grad: bool = True
    ) -> tuple[FloatArray, Backprop]:
        """``Y = srelu(X)`` (module docstring); the closure writes the four parameter grads."""
        check_input(X, self.features, self.dtype, self)
        P = self._params
        al, tl, ar, tr = (P[k].value[0] for k in SRELU_PARAMS)
        L = tl >= X
        R = ~L & (tr <= X)
        with np.errstate(under="ignore"):
            Y = np.where(L, tl + al * (X - tl), np.where(R, tr + ar * (X - tr), X))

        def backprop(dY: FloatArray) -> FloatArray | None:
            with np.errstate(under="ignore"):
                P["al"].grad[0] = np.sum(dY * (X - tl), where=L)
                P["tl"].grad[0] = (1 - al) * np.sum(dY, where=L)
                P["ar"].grad[0] = np.sum(dY * (X - tr), where=R)
                P["tr"].grad[0] = (1 - ar) * np.sum(dY, where=R)
                if not input_grad:
                    return None
                one = self.dtype.type(1)
                dX: FloatArray = dY * np.where(L, al, np.where(R, ar, one))
                return dX

        return Y, backprop
