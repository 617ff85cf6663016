"""NumPy/Numba backend: sprig's CSR kernels and fused optimizer loops behind :class:`Ops`.

The topology object is a :class:`~sprig.matrices.CSRMatrix` (its cached CSC index serves
``spmm_t``); the values passed to the products replace its ``data`` without a copy, so the
values may live elsewhere (e.g. in a torch tensor's memory). Every optimizer step delegates to
the :mod:`sprig.optimizers` class with the same rule, so there is one implementation of each.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..matrices import CSRMatrix, Remap
from ..optimizers import SGD, Adam, AdamW, Momentum, Nesterov
from ..optimizers.adam import AdamPerEntryState, AdamState
from ..optimizers.momentum import MomentumState
from ..optimizers.sgd import SGDState
from .base import Ops


class NumpyOps(Ops):
    """:class:`Ops` over NumPy arrays (float32/float64), host memory, Numba kernels."""

    name: ClassVar[str] = "numpy"

    def topology(self, W: CSRMatrix, device: Any = None) -> CSRMatrix:
        if device not in (None, "cpu"):
            raise ValueError(f"the numpy backend runs on the CPU only, got device {device!r}")
        return W

    def values(self, W: CSRMatrix, device: Any = None) -> np.ndarray:
        return W.data

    def to_csr(self, topo: CSRMatrix, values: Any) -> CSRMatrix:
        return topo.with_data(np.asarray(values, dtype=topo.dtype).copy())

    def spmm(
        self, topo: CSRMatrix, values: Any, Xt: Any, bias: Any = None, *, relu: bool = False
    ) -> np.ndarray:
        return topo.matmul_fm(Xt, bias, data=values, relu=relu)

    def spmm_t(self, topo: CSRMatrix, values: Any, dYt: Any) -> np.ndarray:
        return topo.rmatmul_fm(dYt, data=values)

    def sddmm(
        self,
        topo: CSRMatrix,
        dYt: Any,
        Xt: Any,
        *,
        out: Any = None,
        row_sums: Any = None,
        mask: Any = None,
    ) -> np.ndarray:
        return topo.sampled_fm(dYt, Xt, out=out, row_sums=row_sums, mask=mask)

    def backward(
        self,
        topo: CSRMatrix,
        values: Any,
        dYt: Any,
        Xt: Any,
        *,
        out: Any = None,
        row_sums: Any = None,
        mask: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return topo.backward_fm(dYt, Xt, out, data=values, row_sums=row_sums, mask=mask)

    def edit(
        self, topo: CSRMatrix, drop: Any = (), add_rows: Any = (), add_cols: Any = ()
    ) -> tuple[CSRMatrix, Remap]:
        return topo.edit(drop, add_rows, add_cols)

    def remap(self, arr: Any, remap: Remap, fill: Any = 0) -> np.ndarray:
        return remap.apply(np.asarray(arr), fill)

    def sgd_step(self, w: Any, g: Any, *, lr: float, weight_decay: float = 0.0) -> None:
        SGD(weight_decay=weight_decay).step(w, g, SGDState(), lr=lr)

    def momentum_step(
        self,
        w: Any,
        g: Any,
        d: Any,
        *,
        lr: float,
        momentum: float,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        cls = Nesterov if nesterov else Momentum
        cls(momentum=momentum, weight_decay=weight_decay).step(w, g, MomentumState(d), lr=lr)

    def adam_step(
        self,
        w: Any,
        g: Any,
        m: Any,
        v: Any,
        step: Any,
        *,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
        warmup_steps: int = 0,
    ) -> None:
        per_entry = isinstance(step, np.ndarray)
        cls = AdamW if decoupled else Adam
        opt = cls(
            betas=tuple(betas),  # type: ignore[arg-type]
            eps=eps,
            weight_decay=weight_decay,
            per_entry_steps=per_entry,
            warmup_steps=int(warmup_steps),
        )
        state: AdamState | AdamPerEntryState
        # The shared counter comes already incremented; Adam.step increments it itself.
        state = AdamPerEntryState(m, v, step) if per_entry else AdamState(m, v, int(step) - 1)
        opt.step(w, g, state, lr=lr)
