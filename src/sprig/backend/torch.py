"""PyTorch backend (CPU and CUDA): ``torch.sparse`` products behind :class:`Ops`.

* ``spmm``: ``torch.sparse.mm`` of a CSR tensor (cuSPARSE SpMM on CUDA);
* ``spmm_t``: the same on ``Wᵀ`` in CSR form: the column index (``ccol``, ``row``) and the
  permutation ``perm`` (CSR position of each column-major entry) are built once per topology,
  the transposed values ``values[perm]`` are gathered per call (``O(nnz)``);
* ``sddmm``: ``torch.sparse.sampled_addmm`` (cuSPARSE SDDMM on CUDA).

Index tensors are int32. Topology edits run on the host (:meth:`CSRMatrix.edit`, ``O(nnz)``,
rare) and the new index arrays are uploaded. Optimizer steps are the same formulas as
:mod:`sprig.optimizers` written with torch operations (float32 parameters updated in float32).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from ..matrices import CSRMatrix, Remap
from .base import Ops


def csr_tensor(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape: Any) -> Any:
    """A ``torch.sparse_csr_tensor`` without invariant checks or the beta-state warning
    (the index arrays come from a validated :class:`CSRMatrix`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, values, tuple(shape), check_invariants=False)


@dataclass(eq=False)
class TorchCSR:
    """Topology of a CSR weight ``(K, D)`` as int32 torch tensors on one device.

    Attributes:
        shape: ``(K, D)``.
        crow: ``(K + 1,)`` row pointers.
        col: ``(nnz,)`` column indices, sorted within each row.
    """

    shape: tuple[int, int]
    crow: torch.Tensor
    col: torch.Tensor
    _t: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    @property
    def nnz(self) -> int:
        return int(self.col.numel())

    @property
    def transposed(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(ccol, row, perm)``: ``Wᵀ`` in CSR form; ``values[perm]`` are its values."""
        if self._t is None:
            K, D = self.shape
            dev = self.col.device
            col = self.col.long()
            perm = torch.sort(col, stable=True).indices
            counts = torch.bincount(col, minlength=D)
            ccol = torch.zeros(D + 1, dtype=torch.int64, device=dev)
            torch.cumsum(counts, 0, out=ccol[1:])
            rows = torch.repeat_interleave(
                torch.arange(K, device=dev, dtype=torch.int32), torch.diff(self.crow.long())
            )
            self._t = (ccol.int(), rows[perm].contiguous(), perm)
        return self._t

    @classmethod
    def from_csr(cls, W: CSRMatrix, device: Any = None) -> TorchCSR:
        crow = torch.from_numpy(W.indptr.astype(np.int32)).to(device)
        col = torch.from_numpy(W.indices.copy()).to(device)
        return cls((int(W.shape[0]), int(W.shape[1])), crow, col)

    def to_csr(self, values: torch.Tensor) -> CSRMatrix:
        return CSRMatrix(
            self.shape,
            self.crow.detach().cpu().numpy().astype(np.int64),
            np.ascontiguousarray(self.col.detach().cpu().numpy()),
            np.ascontiguousarray(values.detach().cpu().numpy()).copy(),
        )


class TorchOps(Ops):
    """:class:`Ops` over torch tensors on any device (topology: :class:`TorchCSR`)."""

    name: ClassVar[str] = "torch"

    def topology(self, W: CSRMatrix, device: Any = None) -> TorchCSR:
        return TorchCSR.from_csr(W, device)

    def values(self, W: CSRMatrix, device: Any = None) -> torch.Tensor:
        return torch.from_numpy(W.data.copy()).to(device)

    def to_csr(self, topo: TorchCSR, values: Any) -> CSRMatrix:
        return topo.to_csr(values)

    def spmm(
        self, topo: TorchCSR, values: Any, Xt: Any, bias: Any = None, *, relu: bool = False
    ) -> torch.Tensor:
        W = csr_tensor(topo.crow, topo.col, values, topo.shape)
        Y = torch.sparse.mm(W, Xt)
        if bias is not None:
            Y += bias[:, None]
        return torch.relu_(Y) if relu else Y

    def spmm_t(self, topo: TorchCSR, values: Any, dYt: Any) -> torch.Tensor:
        ccol, row, perm = topo.transposed
        WT = csr_tensor(ccol, row, values[perm], (topo.shape[1], topo.shape[0]))
        return torch.sparse.mm(WT, dYt)

    def sddmm(
        self,
        topo: TorchCSR,
        dYt: Any,
        Xt: Any,
        *,
        out: Any = None,
        row_sums: Any = None,
        mask: Any = None,
    ) -> torch.Tensor:
        if mask is not None:
            dYt.mul_(mask > 0)
        if row_sums is not None:
            row_sums.copy_(dYt.sum(dim=1))
        values = self._sddmm(topo, dYt, Xt)
        if out is not None:
            out.copy_(values)
            return out
        return values

    def _sddmm(self, topo: TorchCSR, dYt: Any, Xt: Any) -> torch.Tensor:
        pattern = csr_tensor(
            topo.crow,
            topo.col,
            torch.zeros(topo.nnz, dtype=dYt.dtype, device=dYt.device),
            topo.shape,
        )
        return torch.sparse.sampled_addmm(pattern, dYt, Xt.T, beta=0.0).values()

    def edit(
        self, topo: TorchCSR, drop: Any = (), add_rows: Any = (), add_cols: Any = ()
    ) -> tuple[TorchCSR, Remap]:
        host = topo.to_csr(torch.zeros(topo.nnz, dtype=torch.float32))
        W2, remap = host.edit(drop, add_rows, add_cols)
        return TorchCSR.from_csr(W2, topo.col.device), remap

    def remap(self, arr: Any, remap: Remap, fill: Any = 0) -> torch.Tensor:
        if tuple(arr.shape[:1]) != (remap.old_nnz,):
            raise ValueError(
                f"per-entry array has length {tuple(arr.shape[:1])}, expected ({remap.old_nnz},)"
            )
        out = torch.full((remap.new_nnz, *arr.shape[1:]), fill, dtype=arr.dtype, device=arr.device)
        kept = torch.from_numpy(remap.kept).to(arr.device)
        src = torch.from_numpy(remap.source[remap.kept]).to(arr.device)
        out[kept] = arr[src]
        return out

    def sgd_step(self, w: Any, g: Any, *, lr: float, weight_decay: float = 0.0) -> None:
        w.sub_(lr * (g + weight_decay * w))

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
        gi = g + weight_decay * w
        d.mul_(momentum).sub_(lr * gi)
        if nesterov:
            w.add_(momentum * d - lr * gi)
        else:
            w.add_(d)

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
        b1, b2 = float(betas[0]), float(betas[1])
        if decoupled:
            w.mul_(1.0 - lr * weight_decay)
            gi = g
        else:
            gi = g + weight_decay * w
        step_size: Any
        sqrt_bc2: Any
        if isinstance(step, torch.Tensor):  # per-entry counters (SMET)
            step.add_(1)
            t = step.to(torch.float64)
            step_size = (lr / (1.0 - b1**t)).to(w.dtype)
            sqrt_bc2 = torch.sqrt(1.0 - b2**t).to(w.dtype)
            scale: Any = (
                torch.clamp(t / warmup_steps, max=1.0).to(w.dtype) if warmup_steps > 0 else 1.0
            )
        else:
            t_i = int(step)
            step_size = lr / (1.0 - b1**t_i)
            sqrt_bc2 = math.sqrt(1.0 - b2**t_i)
            scale = min(t_i / warmup_steps, 1.0) if warmup_steps > 0 else 1.0
        m.mul_(b1).add_(gi, alpha=1.0 - b1).mul_(scale)
        v.mul_(b2).addcmul_(gi, gi, value=1.0 - b2)
        w.sub_(step_size * m / (v.sqrt() / sqrt_bc2 + eps))
