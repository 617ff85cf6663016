r"""JIT-compiled sparse kernels: the only place with index arithmetic over CSR arrays.

All activations are *feature-major*: ``Xt`` has shape ``(in_features, N)`` and is C-contiguous,
so each stored weight does one contiguous length-``N`` multiply-add, which vectorises. The
measurements in ``shared/reference/kernels.md`` (and ``benchmarks/``) found this layout 5-20x
faster than batch-major loops and faster than SciPy and ``torch.sparse``.

With ``W`` of shape ``(K, D)`` stored in CSR (``indptr``, ``indices``, ``data``) and batch size
``N``, the three products of a training step are, in the feature-major form used here:

* forward            ``Yt = W Xt + b 1ᵀ``                  (``spmm``)
* backward-data      ``dXt = Wᵀ dYt``                       (``spmm_transposed``; a gather over a
  column index, no atomics)
* weight gradient    ``dW[k] = dYt[i, :] · Xt[j, :]`` for each stored ``k = (i, j)`` (``sddmm``)

Each costs ``O(N · nnz)`` time and allocates nothing of size ``K × D``.

Parallelism: rows (or columns) are split into blocks of roughly equal non-zero count
(:func:`balanced_blocks`), and ``prange`` runs over blocks. The number of threads is Numba's
(``sprig.set_num_threads``); no kernel queries it, which keeps the on-disk JIT cache valid.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..typing import FloatArray, IntArray

_JIT = {"nogil": True, "cache": True, "fastmath": True}
#: Work blocks per kernel call; more blocks than threads so uneven rows balance out.
N_BLOCKS = 64


def balanced_blocks(indptr: IntArray, n_blocks: int = N_BLOCKS) -> IntArray:
    """Split rows ``0..len(indptr)-1`` into at most ``n_blocks`` ranges of similar nnz.

    Returns the block boundaries ``starts`` (``int64``, first 0, last = number of rows), so
    block ``b`` covers rows ``starts[b]:starts[b+1]``. Row costs are taken as ``nnz + 1`` so
    empty rows (which still write their output row) are counted too.
    """
    n_rows = len(indptr) - 1
    if n_rows <= 0:
        return np.zeros(1, dtype=np.int64)
    cost = np.asarray(indptr, dtype=np.int64) + np.arange(n_rows + 1, dtype=np.int64)
    targets = np.linspace(0, cost[-1], min(n_blocks, n_rows) + 1)
    starts = np.searchsorted(cost, targets, side="left").astype(np.int64)
    starts[0], starts[-1] = 0, n_rows
    return np.unique(starts)


@nb.njit(parallel=True, **_JIT)
def _spmm(blocks, indptr, indices, data, Xt, bias, out):  # pragma: no cover - jitted
    n = Xt.shape[1]
    for blk in nb.prange(len(blocks) - 1):
        for i in range(blocks[blk], blocks[blk + 1]):
            row = out[i]
            b0 = bias[i] if bias.shape[0] > 0 else out.dtype.type(0)
            for t in range(n):
                row[t] = b0
            for k in range(indptr[i], indptr[i + 1]):
                w = data[k]
                x = Xt[indices[k]]
                for t in range(n):
                    row[t] += w * x[t]


@nb.njit(parallel=True, **_JIT)
def _spmm_t(blocks, col_ptr, row_idx, perm, data, dYt, out):  # pragma: no cover - jitted
    n = dYt.shape[1]
    for blk in nb.prange(len(blocks) - 1):
        for j in range(blocks[blk], blocks[blk + 1]):
            col = out[j]
            for t in range(n):
                col[t] = 0
            for p in range(col_ptr[j], col_ptr[j + 1]):
                w = data[perm[p]]
                y = dYt[row_idx[p]]
                for t in range(n):
                    col[t] += w * y[t]


@nb.njit(parallel=True, **_JIT)
def _sddmm(blocks, indptr, indices, dYt, Xt, out):  # pragma: no cover - jitted
    n = Xt.shape[1]
    for blk in nb.prange(len(blocks) - 1):
        for i in range(blocks[blk], blocks[blk + 1]):
            dy = dYt[i]
            for k in range(indptr[i], indptr[i + 1]):
                x = Xt[indices[k]]
                acc = out.dtype.type(0)
                for t in range(n):
                    acc += dy[t] * x[t]
                out[k] = acc


@nb.njit(parallel=True, **_JIT)
def _gather_transpose(X, rows, out):  # pragma: no cover - jitted
    # out[:, t] = X[rows[t], :], tiled so both the reads and the writes stay in cache.
    n = rows.shape[0]
    d = X.shape[1]
    tile = 64
    n_tiles = (d + tile - 1) // tile
    for jt in nb.prange(n_tiles):
        j0 = jt * tile
        j1 = min(j0 + tile, d)
        for t in range(n):
            src = X[rows[t]]
            for j in range(j0, j1):
                out[j, t] = src[j]


def _check_fm(name: str, A: FloatArray, rows: int, dtype: np.dtype) -> None:
    if A.ndim != 2 or A.shape[0] != rows:
        raise ValueError(f"{name} must have shape ({rows}, N), got {A.shape}")
    if A.dtype != dtype:
        raise ValueError(f"{name} has dtype {A.dtype}, the weights have {dtype}")
    if not A.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (feature-major)")


def spmm(
    blocks: IntArray,
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    Xt: FloatArray,
    bias: FloatArray | None = None,
    out: FloatArray | None = None,
) -> FloatArray:
    """Forward product ``Yt = W Xt + b 1ᵀ`` for CSR ``W`` of shape ``(len(indptr)-1, D)``."""
    K = len(indptr) - 1
    if out is None:
        out = np.empty((K, Xt.shape[1]), dtype=data.dtype)
    b = np.empty(0, dtype=data.dtype) if bias is None else bias
    _spmm(blocks, indptr, indices, data, Xt, b, out)
    return out


def spmm_transposed(
    blocks: IntArray,
    col_ptr: IntArray,
    row_idx: IntArray,
    perm: IntArray,
    data: FloatArray,
    dYt: FloatArray,
    n_cols: int,
    out: FloatArray | None = None,
) -> FloatArray:
    """Backward-data product ``dXt = Wᵀ dYt`` as a gather through W's column index."""
    if out is None:
        out = np.empty((n_cols, dYt.shape[1]), dtype=data.dtype)
    _spmm_t(blocks, col_ptr, row_idx, perm, data, dYt, out)
    return out


def sddmm(
    blocks: IntArray,
    indptr: IntArray,
    indices: IntArray,
    dYt: FloatArray,
    Xt: FloatArray,
    out: FloatArray | None = None,
) -> FloatArray:
    """Sampled product ``dW[k] = dYt[i, :] · Xt[j, :]`` for each stored ``k = (i, j)``."""
    if out is None:
        out = np.empty(len(indices), dtype=dYt.dtype)
    _sddmm(blocks, indptr, indices, dYt, Xt, out)
    return out


def gather_transpose(X: FloatArray, rows: IntArray, out: FloatArray | None = None) -> FloatArray:
    """Return ``X[rows].T`` as a C-contiguous ``(features, len(rows))`` array in one pass.

    This is how batch-first data becomes a feature-major batch without a separate copy and
    transpose.
    """
    if X.ndim != 2 or not X.flags.c_contiguous:
        raise ValueError(f"X must be a C-contiguous 2-D array, got shape {X.shape}")
    rows = np.asarray(rows, dtype=np.int64)
    if out is None:
        out = np.empty((X.shape[1], len(rows)), dtype=X.dtype)
    if len(rows):
        _gather_transpose(X, rows, out)
    return out
