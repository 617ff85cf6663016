r"""``SparseLinear``: a truly sparse ``nn.Linear`` whose weight is never dense.

The weight ``W`` of shape ``(out_features, in_features)`` is stored in CSR form on the module's
device: the values are the ``(nnz,)`` parameter :attr:`SparseLinear.values`, the topology the
int32 buffers ``crow_indices`` ``(out + 1,)`` and ``col_indices`` ``(nnz,)``. A
``torch.autograd.Function`` computes, with ``X`` the input flattened to ``(N, in)``::

    Y  = X Wᵀ + b        (spmm)
    dX = dY W            (spmm over Wᵀ)
    dW = (dYᵀ X) at the stored positions only   (SDDMM; the gradient of ``values``)
    db = dYᵀ 1

Nothing of size ``out × in`` is created in forward, backward or an optimizer step.

Two paths (attribute :attr:`SparseLinear.kernel`):

* ``"sprig"`` (CPU, float32/float64): sprig's Numba kernels through
  :class:`sprig.backend.NumpyOps`, on NumPy views of the torch tensors (no copy of the weight;
  a batch-major input and output gradient are transposed once, by tiles, to sprig's
  feature-major layout and the input gradient goes back batch-major; the output is a
  transposed view; a feature-major input is used without a copy);
* ``"torch"`` (any device; what CUDA uses): ``torch.sparse`` CSR products through
  :class:`sprig.backend.torch.TorchOps` (cuSPARSE SpMM/SDDMM on CUDA);
* ``"auto"`` (default): ``"sprig"`` for CPU float32/float64, else ``"torch"``.

``torch.autocast``: the layer computes in its own dtype (the input is cast to it; the output
has that dtype), so an autocast region never changes its numbers. ``torch.compile``: the
product is excluded from tracing (``torch.compiler.disable``), i.e. a graph break around each
sparse layer; results equal eager mode. Double backward is not supported.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ..backend.numpy import NumpyOps
from ..backend.torch import TorchCSR, TorchOps
from ..matrices import CSRMatrix
from ..matrices.kernels_bm import transpose

__all__ = ["SparseLinear"]

_NUMPY = NumpyOps()
_TORCH = TorchOps()
KERNELS = ("auto", "sprig", "torch")
_CEILING = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


class torch_threads:  # lower case: used like a function, ``with torch_threads():``
    """Run sprig's Numba kernels with PyTorch's intra-op thread count
    (``torch.get_num_threads()``, at most Numba's ceiling) inside the block, so that
    ``torch.set_num_threads`` governs the sparse layers as it governs PyTorch's own ops.

    Without it the kernels used Numba's default (every core) beside a PyTorch set to one
    thread: with another process on the second core, each parallel region then waited for a
    descheduled worker (a GPT step at width 256 took 1.9 s sparse vs 0.9 s dense, one torch
    thread, another run beside it; ``experiments/gpt_char.py``, docs/results.md §5a). Numba's
    setting is per calling
    thread and restored on exit; results do not depend on the thread count.
    """

    __slots__ = ("old",)

    def __enter__(self) -> None:
        n = min(torch.get_num_threads(), _CEILING)
        self.old = numba.get_num_threads()
        if n != self.old:
            numba.set_num_threads(n)

    def __exit__(self, *exc: object) -> None:
        if numba.get_num_threads() != self.old:
            numba.set_num_threads(self.old)


def _fm(t: torch.Tensor) -> np.ndarray:
    """(N, F) CPU tensor -> feature-major C-contiguous (F, N) NumPy array: a view when ``t`` is
    a transposed C-contiguous array, else one tiled transpose (or strided copy)."""
    a = t.detach()
    if a.T.is_contiguous():
        return a.T.numpy()
    if a.is_contiguous():
        return transpose(a.numpy())
    return np.ascontiguousarray(a.numpy().T)


class _SprigPath:
    """CPU products on sprig's kernels; the topology is a cached :class:`CSRMatrix`.

    Layouts follow the input: a batch-major (C-contiguous) input is transposed once (by tiles,
    :func:`~sprig.matrices.kernels_bm.transpose`) to sprig's feature-major layout and its
    gradient is returned batch-major (autograd would otherwise copy a transposed gradient
    into the input's layout with a slower transpose); a feature-major input (a transposed
    view, e.g. another ``SparseLinear``'s output after element-wise ops) is used as it is and
    gets a transposed view back. The output is a transposed view of the kernel's result:
    returning it batch-major instead (one more tiled transpose) made the GPT training step of
    ``benchmarks/gpt_step.py`` slower (0.99-1.05x dense vs 0.94-0.95x; CPU time, interleaved
    rounds, two runs)."""

    @staticmethod
    def forward(layer: SparseLinear, X2: torch.Tensor, values: torch.Tensor, bias: Any) -> Any:
        W = layer._host_csr()
        fm_in = X2.T.is_contiguous() and not X2.is_contiguous()
        Xt = _fm(X2)
        b = None if bias is None else bias.detach().numpy()
        Yt = _NUMPY.spmm(W, values.detach().numpy(), Xt, b)
        return torch.from_numpy(Yt).T, (W, Xt, fm_in)

    @staticmethod
    def backward(saved: Any, values: torch.Tensor, dY2: torch.Tensor, needs: Any) -> Any:
        W, Xt, fm_in = saved
        dYt = _fm(dY2)
        dX = dW = db = None
        vals = values.detach().numpy()
        dXt = None
        if needs[1] or needs[2]:
            sums = np.empty(W.shape[0], dtype=dYt.dtype)
            if needs[0]:  # both products in one pass
                gW, dXt = _NUMPY.backward(W, vals, dYt, Xt, row_sums=sums)
            else:
                gW = W.sampled_fm(dYt, Xt, row_sums=sums)
            dW, db = torch.from_numpy(gW), torch.from_numpy(sums)
        if needs[0]:
            if dXt is None:
                dXt = _NUMPY.spmm_t(W, vals, dYt)
            # A transposed view, as the forward output, for a feature-major input: element-wise
            # ops keep that layout, so between stacked sparse layers activations and gradients
            # pass without copies. Batch-major for a batch-major input.
            dX = torch.from_numpy(dXt).T if fm_in else torch.from_numpy(transpose(dXt))
        return dX, dW, db, (Xt, dYt)


class _TorchPath:
    """``torch.sparse`` products on the module's device (CUDA's path, also runs on CPU)."""

    @staticmethod
    def forward(layer: SparseLinear, X2: torch.Tensor, values: torch.Tensor, bias: Any) -> Any:
        topo = layer._device_topology()
        Yt = _TORCH.spmm(topo, values.detach(), X2.detach().T, None if bias is None else bias)
        return Yt.T, (topo, X2.detach())

    @staticmethod
    def backward(saved: Any, values: torch.Tensor, dY2: torch.Tensor, needs: Any) -> Any:
        topo, X2 = saved
        dX = dW = db = None
        dYt = dY2.T
        if needs[0]:
            dX = _TORCH.spmm_t(topo, values.detach(), dYt).T
        if needs[1]:
            dW = _TORCH.sddmm(topo, dYt, X2.T)
        if needs[2]:
            db = dY2.sum(0)
        return dX, dW, db, (X2.T, dYt)


class _SparseLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        X2: torch.Tensor,
        values: torch.Tensor,
        bias: torch.Tensor | None,
        layer: SparseLinear,
        path: Any,
    ) -> torch.Tensor:
        with torch_threads():  # sprig's kernels (the sprig path) at PyTorch's thread count
            Y2, saved = path.forward(layer, X2, values, bias)
        ctx.path, ctx.saved, ctx.layer = path, saved, layer
        ctx.has_bias = bias is not None
        ctx.save_for_backward(values)
        return Y2

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dY2: torch.Tensor) -> tuple[Any, ...]:
        (values,) = ctx.saved_tensors
        needs = (
            ctx.needs_input_grad[0],
            ctx.needs_input_grad[1],
            ctx.has_bias and ctx.needs_input_grad[2],
        )
        with torch_threads():
            dX, dW, db, sample = ctx.path.backward(ctx.saved, values, dY2, needs)
        layer = ctx.layer
        if layer._record_sample:
            layer._sample = sample
        return dX, dW if needs[1] else None, db if needs[2] else None, None, None


def _apply_eager(layer: SparseLinear, X2: torch.Tensor, path: Any) -> torch.Tensor:
    out: torch.Tensor = _SparseLinearFn.apply(X2, layer.values, layer.bias, layer, path)
    return out


_apply_disabled: Any = None


def _apply(layer: SparseLinear, X2: torch.Tensor, path: Any) -> torch.Tensor:
    """The product, excluded from ``torch.compile`` tracing. ``torch.compiler.disable`` loads
    TorchDynamo (seconds of import time), so it is applied only once Dynamo is loaded, which
    any ``torch.compile`` does before it traces."""
    global _apply_disabled
    if "torch._dynamo" not in sys.modules:
        return _apply_eager(layer, X2, path)
    if _apply_disabled is None:
        _apply_disabled = torch.compiler.disable(_apply_eager)
    out: torch.Tensor = _apply_disabled(layer, X2, path)
    return out


def _xavier_actual(n: int, fan_in: Any, fan_out: float, rng: np.random.Generator) -> Any:
    """``U(±1/√fan_in)`` with the actual (stored) fan-in of each entry's row."""
    return rng.uniform(-1.0, 1.0, size=n) / np.sqrt(np.maximum(fan_in, 1))


class SparseLinear(nn.Module):
    r"""``Y = X Wᵀ + b`` with a sparse ``W`` (CSR) of shape ``(out_features, in_features)``.

    Args:
        in_features, out_features: as ``nn.Linear``.
        bias: learn a bias (initialised as ``nn.Linear``'s, ``U(±1/√in_features)``).
        density: fraction of stored weights in ``(0, 1]``; exactly
            ``round(density · out · in)`` positions, drawn uniformly at random.
        device, dtype: as ``nn.Linear`` (dtype default: ``torch.get_default_dtype()``).
        init: ``(n, fan_in, fan_out, rng) -> values`` for the stored entries (a
            :mod:`sprig.initializers` initializer); default ``U(±1/√fan_in)`` with the stored
            fan-in of the entry's row (keeps a sparse unit's pre-activation variance).
        rng: NumPy generator or seed for the topology and the initial values.
        kernel: ``"auto"``, ``"sprig"`` or ``"torch"`` (module docstring).

    Examples:
        >>> import torch
        >>> layer = SparseLinear(8, 4, density=0.25, rng=0)
        >>> layer.nnz, tuple(layer.values.shape), layer(torch.ones(2, 3, 8)).shape
        (8, (8,), torch.Size([2, 3, 4]))
    """

    crow_indices: torch.Tensor
    col_indices: torch.Tensor

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        density: float,
        device: Any = None,
        dtype: Any = None,
        init: Callable[..., Any] | None = None,
        rng: np.random.Generator | int | None = None,
        kernel: str = "auto",
    ) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        self.in_features, self.out_features = in_features, out_features
        self.kernel = kernel
        dtype = dtype or torch.get_default_dtype()
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        W = CSRMatrix.random((out_features, in_features), density=density, rng=gen)
        fan_in = np.diff(W.indptr)[W.row_of].astype(np.float64)
        vals = (init or _xavier_actual)(W.nnz, fan_in, float(out_features), gen)
        self.values = nn.Parameter(torch.as_tensor(np.asarray(vals), dtype=dtype, device=device))
        self.values.sparse_size = out_features * in_features  # type: ignore[attr-defined]
        self.register_buffer("crow_indices", torch.empty(0, dtype=torch.int32, device=device))
        self.register_buffer("col_indices", torch.empty(0, dtype=torch.int32, device=device))
        self._set_index(W.indptr, W.indices)
        if bias:
            bound = 1.0 / np.sqrt(in_features)
            b = gen.uniform(-bound, bound, size=out_features)
            self.bias: nn.Parameter | None = nn.Parameter(
                torch.as_tensor(b, dtype=dtype, device=device)
            )
        else:
            self.register_parameter("bias", None)
        self._record_sample = False
        self._sample: Any = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_csr(
        cls, W: CSRMatrix, bias: Any = None, *, device: Any = None, dtype: Any = None
    ) -> SparseLinear:
        """A layer holding ``W`` (values copied); ``bias``: ``None`` (no bias) or values."""
        out_f, in_f = W.shape
        layer = cls(
            in_f,
            out_f,
            bias is not None,
            density=1.0 / (in_f * out_f) if W.nnz == 0 else W.density,
            device=device,
            dtype=dtype,
        )
        dtype = layer.values.dtype
        layer.set_topology(W.indptr, W.indices, torch.as_tensor(W.data, dtype=dtype))
        if bias is not None:
            with torch.no_grad():
                layer.bias.copy_(torch.as_tensor(np.asarray(bias), dtype=dtype))  # type: ignore[union-attr]
        return layer

    def _set_index(self, indptr: Any, indices: Any) -> None:
        dev = self.values.device
        self.crow_indices = torch.as_tensor(np.asarray(indptr, dtype=np.int32), device=dev)
        self.col_indices = torch.as_tensor(np.asarray(indices, dtype=np.int32), device=dev)
        self._cache: dict[str, Any] = {}

    def set_topology(self, indptr: Any, indices: Any, values: torch.Tensor) -> None:
        """Install a new topology (validated) and its values; the ``values`` Parameter object
        is kept (so optimizers keep referring to it), its data replaced. Optimizer state and
        gradients are the caller's (see :class:`sprig.torch.TopologyUpdater`)."""
        ip = np.asarray(indptr, dtype=np.int64)
        ix = np.ascontiguousarray(indices, dtype=np.int32)
        CSRMatrix(self.shape, ip, ix, np.zeros(len(ix), np.float32))  # validates
        if tuple(values.shape) != (len(ix),):
            raise ValueError(f"values has shape {tuple(values.shape)}, expected ({len(ix)},)")
        self.values.data = values.detach().to(self.values.device, self.values.dtype).contiguous()
        self._set_index(ip, ix)

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int]:
        """``(out_features, in_features)``."""
        return (self.out_features, self.in_features)

    @property
    def nnz(self) -> int:
        """Number of stored weights."""
        return int(self.values.numel())

    @property
    def density(self) -> float:
        """``nnz / (out · in)``."""
        return self.nnz / (self.out_features * self.in_features)

    def to_csr(self) -> CSRMatrix:
        """A host :class:`CSRMatrix` copy of the weight."""
        return CSRMatrix(
            self.shape,
            self.crow_indices.cpu().numpy().astype(np.int64),
            np.ascontiguousarray(self.col_indices.cpu().numpy()),
            self.values.detach().cpu().numpy().copy(),
        )

    def dense_weight(self) -> torch.Tensor:
        """The dense ``(out, in)`` weight (for export and tests only)."""
        W = torch.zeros(self.shape, dtype=self.values.dtype, device=self.values.device)
        rows = torch.repeat_interleave(
            torch.arange(self.out_features, device=W.device), torch.diff(self.crow_indices.long())
        )
        W[rows, self.col_indices.long()] = self.values.detach()
        return W

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, nnz={self.nnz}, density={self.density:.4g}"
        )

    # ------------------------------------------------------------------ caches
    def _host_csr(self) -> CSRMatrix:
        """The topology as a :class:`CSRMatrix` whose indices (and placeholder values) share
        the module's memory; the products always receive the current values explicitly."""
        key = f"host:{self.values.dtype}"
        W = self._cache.get(key)
        if W is None:
            W = CSRMatrix(
                self.shape,
                self.crow_indices.numpy().astype(np.int64),
                self.col_indices.numpy(),
                self.values.detach().numpy(),
            )
            self._cache[key] = W
        return W

    def _device_topology(self) -> TorchCSR:
        key = f"torch:{self.col_indices.device}"
        topo = self._cache.get(key)
        if topo is None:
            topo = TorchCSR(self.shape, self.crow_indices, self.col_indices)
            self._cache[key] = topo
        return topo

    def _apply(self, fn: Any, recurse: bool = True) -> Any:  # .to(), .cuda(), .double()...
        out = super()._apply(fn, recurse)
        self._cache = {}
        return out

    # ------------------------------------------------------------------ forward
    def _path(self, X: torch.Tensor) -> Any:
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        cpu = X.device.type == "cpu" and self.values.device.type == "cpu"
        ok = self.values.dtype in (torch.float32, torch.float64)
        if self.kernel == "sprig":
            if not (cpu and ok):
                raise ValueError(
                    "kernel='sprig' needs CPU float32/float64 tensors, got "
                    f"{X.device}/{self.values.dtype}; use kernel='torch' or 'auto'"
                )
            return _SprigPath
        if self.kernel == "torch" or not (cpu and ok):
            return _TorchPath
        return _SprigPath

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"{self.__class__.__name__}: input has shape {tuple(X.shape)}, expected "
                f"(..., {self.in_features})"
            )
        dtype = self.values.dtype
        if X.dtype != dtype:
            if not torch.is_autocast_enabled(X.device.type):
                raise ValueError(
                    f"{self.__class__.__name__}: input dtype {X.dtype} differs from the "
                    f"weight dtype {dtype}"
                )
            X = X.to(dtype)  # autocast: compute in the layer's own precision
        lead = X.shape[:-1]
        X2 = X.reshape(-1, self.in_features)
        Y2 = _apply(self, X2, self._path(X2))
        return Y2.reshape(*lead, self.out_features)

    # ------------------------------------------------------------------ state dict
    def _load_from_state_dict(
        self, state_dict: Any, prefix: str, local_metadata: Any, strict: bool, *args: Any
    ) -> None:
        # A checkpoint may hold another topology: resize values and index buffers first.
        keys = [prefix + k for k in ("crow_indices", "col_indices", "values")]
        if all(k in state_dict for k in keys):
            crow, col, vals = (state_dict[k] for k in keys)
            if tuple(crow.shape) == (self.out_features + 1,):
                self.set_topology(crow.cpu().numpy(), col.cpu().numpy(), vals)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, *args)
