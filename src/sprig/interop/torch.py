"""PyTorch interop (optional extra ``sprig[torch]``): a sparse linear layer for torch models
whose three products run on sprig's CSR kernels.

``SprigSparseLinear`` is an ``nn.Module`` holding a :class:`~sprig.matrices.CSRMatrix`; its
``forward`` is a ``torch.autograd.Function`` whose backward computes ``dX = dY W`` and the
weight gradient **at the stored positions only** (SDDMM), exposed as the ``(nnz,)`` gradient
of the ``values`` parameter — no dense ``(out × in)`` tensor is created. CPU tensors only;
this module is imported by nothing in sprig.

Deprecated: use :class:`sprig.torch.SparseLinear` (CPU and CUDA, int32 topology buffers,
``state_dict`` with the topology, DST through :class:`sprig.torch.TopologyUpdater`).
Constructing ``SprigSparseLinear`` emits a ``DeprecationWarning``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError("sprig.interop.torch needs PyTorch: pip install torch==2.13.0") from e

from ..matrices.csr import CSRMatrix
from ..matrices.kernels import gather_transpose


def _fm(t: torch.Tensor) -> np.ndarray:
    """Batch-first torch tensor → feature-major C-contiguous NumPy array (one pass)."""
    a = t.detach().cpu().contiguous().numpy()
    return gather_transpose(a, np.arange(a.shape[0]))


class _SparseLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, X: torch.Tensor, values: torch.Tensor, bias: torch.Tensor | None, W: CSRMatrix
    ) -> torch.Tensor:
        data = values.detach().cpu().numpy()
        Xt = _fm(X)
        Yt = W.matmul_fm(Xt, None if bias is None else bias.detach().cpu().numpy(), data=data)
        ctx.save_for_backward(values)
        ctx.W, ctx.Xt, ctx.has_bias = W, Xt, bias is not None
        return torch.from_numpy(np.ascontiguousarray(Yt.T))

    @staticmethod
    def backward(ctx: Any, dY: torch.Tensor) -> tuple[Any, ...]:
        (values,) = ctx.saved_tensors
        W, Xt = ctx.W, ctx.Xt
        dYt = _fm(dY)
        data = values.detach().cpu().numpy()
        dX = dvalues = dbias = None
        if ctx.needs_input_grad[0]:
            dX = torch.from_numpy(np.ascontiguousarray(W.rmatmul_fm(dYt, data=data).T))
        if ctx.needs_input_grad[1]:
            dvalues = torch.from_numpy(W.sampled_fm(dYt, Xt))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            dbias = torch.from_numpy(dYt.sum(axis=1))
        return dX, dvalues, dbias, None


class SprigSparseLinear(nn.Module):
    """``Y = X Wᵀ + b`` with ``W`` a CSR matrix of shape ``(out_features, in_features)``.

    Args:
        weight: the sparse weight (its values initialise the ``values`` parameter).
        bias: learn a bias (zeros).

    The topology is fixed inside the module; :meth:`set_weight` installs an edited one (the
    caller carries optimizer state, e.g. with ``sprig.matrices.Remap``).
    """

    def __init__(self, weight: CSRMatrix, bias: bool = True) -> None:
        warnings.warn(
            "sprig.interop.torch.SprigSparseLinear is deprecated; use sprig.torch.SparseLinear "
            "(sprig.torch.SparseLinear.from_csr(weight) for an existing CSRMatrix)",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__()
        self.weight_csr = weight
        dtype = torch.float64 if weight.dtype == np.float64 else torch.float32
        self.values = nn.Parameter(torch.tensor(weight.data, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(weight.shape[0], dtype=dtype)) if bias else None

    @property
    def in_features(self) -> int:
        return self.weight_csr.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight_csr.shape[0]

    def set_weight(self, weight: CSRMatrix) -> None:
        """Replace the topology (and values) with ``weight`` of the same shape."""
        if weight.shape != self.weight_csr.shape:
            raise ValueError(f"weight shape {weight.shape} != {self.weight_csr.shape}")
        self.weight_csr = weight
        self.values = nn.Parameter(torch.tensor(weight.data, dtype=self.values.dtype))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise ValueError(f"expected input (N, {self.in_features}), got {tuple(X.shape)}")
        if X.dtype != self.values.dtype:
            raise ValueError(f"input dtype {X.dtype} differs from the layer's {self.values.dtype}")
        out: torch.Tensor = _SparseLinearFn.apply(X, self.values, self.bias, self.weight_csr)
        return out

    def extra_repr(self) -> str:
        W = self.weight_csr
        return f"in={W.shape[1]}, out={W.shape[0]}, nnz={W.nnz}, density={W.density:.4g}"
