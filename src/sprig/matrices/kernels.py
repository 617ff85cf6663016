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

Each costs ``O(N · nnz)`` time and allocates nothing of size ``K × D``. A training step needs
the last two together: :func:`backward` computes both in one pass over the column index, so
each stored weight gathers one row (of ``dYt``) instead of two (~0.65-0.72x the time of the
two products on the 2-core Xeon, 1 thread, layers of 10⁴ to 4·10⁶ weights; docs/benchmarks.md).

Wide layers: when the gathered operand (``Xt`` for the forward product and the weight
gradient, ``dYt`` for backward-data) is larger than :data:`PANEL_BYTES`, the stored entries are
processed by panels: ``P`` column panels of ``W`` (row panels for backward-data), one after the
other, each over all rows. CSR rows are sorted, so the part of a row inside a panel is one
contiguous range: a ``(P + 1, rows)`` table of range starts (:func:`panel_starts`, cached per
topology by ``CSRMatrix.panels``) is the whole layout, the values stay in CSR order. The slice
of the gathered operand a panel reads stays in cache while every row that needs it is
processed; the output rows are revisited once per panel (streamed) instead.

Fusions: the forward product can apply a ReLU to each output row while it is in cache
(``relu=True``); the weight gradient can apply the ReLU derivative to ``dYt`` in place
(``mask=Y``) in the pass that computes the bias gradient.

Parallelism: rows (or columns) are split into blocks of roughly equal non-zero count
(:func:`balanced_blocks`), and ``prange`` runs over blocks; products with fewer than
:data:`SERIAL_WORK` multiply-adds run serially on the calling thread. The number of threads is
Numba's (``sprig.set_num_threads``); no kernel queries it, which keeps the on-disk JIT cache
valid.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ..typing import FloatArray, IntArray

_JIT: dict[str, Any] = {
    "nogil": True,
    "cache": True,
    "fastmath": True,
    "error_model": "numpy",
    "boundscheck": False,
}
#: Work blocks per kernel call; more blocks than threads so uneven rows balance out.
N_BLOCKS = 64
#: Below this many multiply-adds (``nnz · N``) a product runs on the calling thread: a parallel
#: region costs ~5 µs to open and close (more when another process holds a core), which is
#: more than the work of a small layer.
SERIAL_WORK = 1 << 17
#: How many stored entries ahead the gather loops prefetch the dense rows they will read, and
#: the size of the gathered dense operand above which they do (smaller ones stay in L2).
PREFETCH_AHEAD = 8
PREFETCH_BYTES = 1 << 19
#: How many entries ahead backward-data prefetches the values it reads through the column
#: permutation (``data[perm[p]]``, one scattered load per stored weight) when the value array
#: exceeds PREFETCH_BYTES: without it those loads miss the cache on layers of a few hundred
#: thousand entries and the product ran at ~60 % of the forward product's speed (single
#: thread, 1024x1024 at density 0.4; benchmarks/kernel_revisions.py, docs/benchmarks.md).
PERM_AHEAD = 32
#: Largest gathered operand (bytes) a product reads in one pass. Above it the stored entries
#: are processed by column panels (forward, weight gradient) or row panels (backward-data) so
#: that the slice of the gathered operand a panel uses stays in the last-level cache while
#: every row that needs it is processed; the output rows are then revisited once per panel
#: (sequential traffic) instead of every stored weight fetching its row from DRAM. Measured on
#: the shared 2-core Xeon (105 MiB L3, 1 thread, 250,000² layer, 10 M entries, batch 100):
#: 5 panels of 20 MiB were 10-23 % *slower* than one pass for all three products, and 4 panels
#: at 500,000² were no faster (docs/benchmarks.md, "scale"); so panels start only above 256 MiB
#: until a quiet machine with a smaller cache shows a gain.
PANEL_BYTES = 256 << 20


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


@intrinsic
def _prefetch(typingctx, arr, row, col):  # pragma: no cover - compile-time
    """``llvm.prefetch`` (read, high locality) of the cache line holding ``arr[row, col]``."""
    sig = types.void(arr, row, col)

    def codegen(context, builder, signature, args):
        aryty, rowty, colty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        r = context.cast(builder, args[1], rowty, types.intp)
        c = context.cast(builder, args[2], colty, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [r, c], wraparound=False)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [cgutils.voidptr_t], fnty)
        builder.call(fn, [builder.bitcast(ptr, cgutils.voidptr_t), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _prefetch1(typingctx, arr, i):  # pragma: no cover - compile-time
    """``llvm.prefetch`` (read, high locality) of the cache line holding ``arr[i]`` (1-D)."""
    sig = types.void(arr, i)

    def codegen(context, builder, signature, args):
        aryty, ity = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = context.cast(builder, args[1], ity, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [idx], wraparound=False)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [cgutils.voidptr_t], fnty)
        builder.call(fn, [builder.bitcast(ptr, cgutils.voidptr_t), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(inline="always", **_JIT)
def _prefetch_row(A, r, n):  # pragma: no cover - jitted
    # The first, middle and last cache line of the row A[r, :n]; the hardware prefetcher
    # follows the rest. (Prefetching every line cost more than it saved.)
    _prefetch(A, r, 0)
    _prefetch(A, r, n // 2)
    _prefetch(A, r, n - 1)


# Kernel bodies. Each handles the rows (columns) ``r0:r1``; a parallel driver runs them over
# the blocks with ``prange``, a serial one over all rows at once. The inner loops run over the
# batch (contiguous, length N) with 2-D indexing (no row views) and take four stored weights
# per pass: four length-N rows of the dense operand are streamed together and the output row
# is loaded and stored once per four weights instead of once per weight. When the gathered
# operand does not fit in L2 (PREFETCH_BYTES) the rows needed PREFETCH_AHEAD entries later are
# prefetched. Together ~1.3-1.6x faster than one weight per pass without prefetch
# (benchmarks/kernels.py, docs/benchmarks.md). Sums are associated as (w0x0 + w1x1) +
# (w2x2 + w3x3), so results differ from a sequential sum by rounding only.


@nb.njit(**_JIT)
def _spmm_rows(r0, r1, lo, hi, indices, data, Xt, bias, out, first, last, relu):  # pragma: no cover
    # Row i uses the stored entries lo[i]:hi[i] (the whole row, or one column panel of it).
    # ``first``: the pass writes the row (bias included); ``last``: ReLU applies after it.
    n = Xt.shape[1]
    nnz = indices.shape[0]
    pf = Xt.shape[0] * n * Xt.itemsize > PREFETCH_BYTES
    zero = out.dtype.type(0)
    has_bias = bias.shape[0] > 0
    for i in range(r0, r1):
        k = lo[i]
        end = hi[i]
        if first:
            b0 = bias[i] if has_bias else zero
            if k + 4 <= end:  # the first pass writes the row: no separate fill
                w0, w1, w2, w3 = data[k], data[k + 1], data[k + 2], data[k + 3]
                j0, j1, j2, j3 = indices[k], indices[k + 1], indices[k + 2], indices[k + 3]
                for t in range(n):
                    out[i, t] = b0 + (
                        (w0 * Xt[j0, t] + w1 * Xt[j1, t]) + (w2 * Xt[j2, t] + w3 * Xt[j3, t])
                    )
                k += 4
            else:
                for t in range(n):
                    out[i, t] = b0
        while k + 4 <= end:
            if pf and k + PREFETCH_AHEAD + 4 <= nnz:
                for q in range(k + PREFETCH_AHEAD, k + PREFETCH_AHEAD + 4):
                    _prefetch_row(Xt, indices[q], n)
            w0, w1, w2, w3 = data[k], data[k + 1], data[k + 2], data[k + 3]
            j0, j1, j2, j3 = indices[k], indices[k + 1], indices[k + 2], indices[k + 3]
            for t in range(n):
                out[i, t] += (w0 * Xt[j0, t] + w1 * Xt[j1, t]) + (w2 * Xt[j2, t] + w3 * Xt[j3, t])
            k += 4
        while k < end:
            w0 = data[k]
            j0 = indices[k]
            for t in range(n):
                out[i, t] += w0 * Xt[j0, t]
            k += 1
        if last and relu:  # fused ReLU while the row is in L1: max(z, 0)
            for t in range(n):
                if out[i, t] < zero:
                    out[i, t] = zero


@nb.njit(**_JIT)
def _spmm_t_cols(c0, c1, lo, hi, row_idx, perm, data, dYt, out, first):  # pragma: no cover
    n = dYt.shape[1]
    nnz = row_idx.shape[0]
    pf = dYt.shape[0] * n * dYt.itemsize > PREFETCH_BYTES
    pf_perm = nnz * data.itemsize > PREFETCH_BYTES  # small value arrays stay in cache
    zero = out.dtype.type(0)
    for j in range(c0, c1):
        p = lo[j]
        end = hi[j]
        if first:
            if p + 4 <= end:
                w0, w1 = data[perm[p]], data[perm[p + 1]]
                w2, w3 = data[perm[p + 2]], data[perm[p + 3]]
                i0, i1, i2, i3 = row_idx[p], row_idx[p + 1], row_idx[p + 2], row_idx[p + 3]
                for t in range(n):
                    out[j, t] = (w0 * dYt[i0, t] + w1 * dYt[i1, t]) + (
                        w2 * dYt[i2, t] + w3 * dYt[i3, t]
                    )
                p += 4
            else:
                for t in range(n):
                    out[j, t] = zero
        while p + 4 <= end:
            if pf and p + PREFETCH_AHEAD + 4 <= nnz:
                for q in range(p + PREFETCH_AHEAD, p + PREFETCH_AHEAD + 4):
                    _prefetch_row(dYt, row_idx[q], n)
            if pf_perm and p + PERM_AHEAD + 4 <= nnz:  # the scattered data[perm[.]], ahead
                for q in range(p + PERM_AHEAD, p + PERM_AHEAD + 4):
                    _prefetch1(data, perm[q])
            w0, w1 = data[perm[p]], data[perm[p + 1]]
            w2, w3 = data[perm[p + 2]], data[perm[p + 3]]
            i0, i1, i2, i3 = row_idx[p], row_idx[p + 1], row_idx[p + 2], row_idx[p + 3]
            for t in range(n):
                out[j, t] += (w0 * dYt[i0, t] + w1 * dYt[i1, t]) + (
                    w2 * dYt[i2, t] + w3 * dYt[i3, t]
                )
            p += 4
        while p < end:
            w0 = data[perm[p]]
            i0 = row_idx[p]
            for t in range(n):
                out[j, t] += w0 * dYt[i0, t]
            p += 1


@nb.njit(**_JIT)
def _sddmm_rows(r0, r1, lo, hi, indices, dYt, Xt, out, row_sums, mask, first):  # pragma: no cover
    # ``first`` (the first pass over the rows): zero dYt where mask <= 0 (a fused ReLU's
    # derivative, in place) and write the row sums, while dYt[i, :] is in cache.
    n = Xt.shape[1]
    nnz = indices.shape[0]
    pf = Xt.shape[0] * n * Xt.itemsize > PREFETCH_BYTES
    zero = out.dtype.type(0)
    sums = row_sums.shape[0] > 0
    masked = mask.shape[0] > 0
    for i in range(r0, r1):
        if first and (masked or sums):  # the ReLU derivative, then the bias gradient dY 1
            _mask_sums_rows(i, i + 1, dYt, row_sums, mask)
        k = lo[i]
        end = hi[i]
        while k + 4 <= end:  # four dot products share each load of dYt[i, t]
            if pf and k + PREFETCH_AHEAD + 4 <= nnz:
                for q in range(k + PREFETCH_AHEAD, k + PREFETCH_AHEAD + 4):
                    _prefetch_row(Xt, indices[q], n)
            j0, j1, j2, j3 = indices[k], indices[k + 1], indices[k + 2], indices[k + 3]
            a0 = zero
            a1 = zero
            a2 = zero
            a3 = zero
            for t in range(n):
                d = dYt[i, t]
                a0 += d * Xt[j0, t]
                a1 += d * Xt[j1, t]
                a2 += d * Xt[j2, t]
                a3 += d * Xt[j3, t]
            out[k] = a0
            out[k + 1] = a1
            out[k + 2] = a2
            out[k + 3] = a3
            k += 4
        while k < end:
            j0 = indices[k]
            a0 = zero
            for t in range(n):
                a0 += dYt[i, t] * Xt[j0, t]
            out[k] = a0
            k += 1


@nb.njit(**_JIT)
def _backward_cols(c0, c1, col_ptr, row_idx, perm, data, dYt, Xt, grad, dXt):  # pragma: no cover
    # Both backward products of the columns c0:c1 in one pass over W's column index: for each
    # stored (i, j) of column j, the gathered row dYt[i, :] serves the weight gradient
    # grad[k] = dYt[i, :] . Xt[j, :] (k = perm[p], its CSR position) and the input gradient
    # dXt[j, :] += w_k dYt[i, :]; Xt[j, :] and dXt[j, :] stay in L1 for the whole column.
    n = dYt.shape[1]
    nnz = row_idx.shape[0]
    pf = dYt.shape[0] * n * dYt.itemsize > PREFETCH_BYTES
    pf_perm = nnz * data.itemsize > PREFETCH_BYTES
    zero = dXt.dtype.type(0)
    for j in range(c0, c1):
        p = col_ptr[j]
        end = col_ptr[j + 1]
        for t in range(n):
            dXt[j, t] = zero
        while p + 4 <= end:
            if pf and p + PREFETCH_AHEAD + 4 <= nnz:
                for q in range(p + PREFETCH_AHEAD, p + PREFETCH_AHEAD + 4):
                    _prefetch_row(dYt, row_idx[q], n)
            if pf_perm and p + PERM_AHEAD + 4 <= nnz:
                for q in range(p + PERM_AHEAD, p + PERM_AHEAD + 4):
                    _prefetch1(data, perm[q])
            k0, k1, k2, k3 = perm[p], perm[p + 1], perm[p + 2], perm[p + 3]
            w0, w1, w2, w3 = data[k0], data[k1], data[k2], data[k3]
            i0, i1, i2, i3 = row_idx[p], row_idx[p + 1], row_idx[p + 2], row_idx[p + 3]
            a0 = zero
            a1 = zero
            a2 = zero
            a3 = zero
            for t in range(n):
                d0 = dYt[i0, t]
                d1 = dYt[i1, t]
                d2 = dYt[i2, t]
                d3 = dYt[i3, t]
                x = Xt[j, t]
                a0 += d0 * x
                a1 += d1 * x
                a2 += d2 * x
                a3 += d3 * x
                dXt[j, t] += (w0 * d0 + w1 * d1) + (w2 * d2 + w3 * d3)
            grad[k0] = a0
            grad[k1] = a1
            grad[k2] = a2
            grad[k3] = a3
            p += 4
        while p < end:
            k0 = perm[p]
            w0 = data[k0]
            i0 = row_idx[p]
            a0 = zero
            for t in range(n):
                d0 = dYt[i0, t]
                a0 += d0 * Xt[j, t]
                dXt[j, t] += w0 * d0
            grad[k0] = a0
            p += 1


@nb.njit(inline="always", **_JIT)
def _mask_sums_rows(r0, r1, dYt, row_sums, mask):  # pragma: no cover - jitted
    # dYt[i, mask[i] <= 0] = 0 in place (a fused ReLU's derivative), then row_sums[i] = dYt[i] 1.
    n = dYt.shape[1]
    zero = dYt.dtype.type(0)
    sums = row_sums.shape[0] > 0
    masked = mask.shape[0] > 0
    for i in range(r0, r1):
        if masked:
            for t in range(n):
                if not mask[i, t] > zero:
                    dYt[i, t] = zero
        if sums:
            s = zero
            for t in range(n):
                s += dYt[i, t]
            row_sums[i] = s


# Parallel drivers: ``starts`` is ``(P + 1, rows)``; panel ``p`` of row ``i`` is the entry range
# ``starts[p, i]:starts[p + 1, i]`` (P = 1: whole rows). Panels run one after the other, the
# row (column) blocks of a panel in parallel: every output element is computed by one thread,
# in a fixed order (panel, then entry), whatever the scheduling.


@nb.njit(parallel=True, **_JIT)
def _spmm(blocks, starts, indices, data, Xt, bias, out, relu):  # pragma: no cover - jitted
    n_panels = starts.shape[0] - 1
    for p in range(n_panels):
        lo = starts[p]
        hi = starts[p + 1]
        first = p == 0
        last = p == n_panels - 1
        for blk in nb.prange(len(blocks) - 1):
            _spmm_rows(
                blocks[blk],
                blocks[blk + 1],
                lo,
                hi,
                indices,
                data,
                Xt,
                bias,
                out,
                first,
                last,
                relu,
            )


@nb.njit(parallel=True, **_JIT)
def _spmm_t(blocks, starts, row_idx, perm, data, dYt, out):  # pragma: no cover - jitted
    n_panels = starts.shape[0] - 1
    for p in range(n_panels):
        lo = starts[p]
        hi = starts[p + 1]
        first = p == 0
        for blk in nb.prange(len(blocks) - 1):
            _spmm_t_cols(blocks[blk], blocks[blk + 1], lo, hi, row_idx, perm, data, dYt, out, first)


@nb.njit(parallel=True, **_JIT)
def _sddmm(blocks, starts, indices, dYt, Xt, out, row_sums, mask):  # pragma: no cover - jitted
    n_panels = starts.shape[0] - 1
    for p in range(n_panels):
        lo = starts[p]
        hi = starts[p + 1]
        first = p == 0
        for blk in nb.prange(len(blocks) - 1):
            _sddmm_rows(
                blocks[blk], blocks[blk + 1], lo, hi, indices, dYt, Xt, out, row_sums, mask, first
            )


@nb.njit(parallel=True, **_JIT)
def _backward(  # pragma: no cover - jitted
    col_blocks, row_blocks, col_ptr, row_idx, perm, data, dYt, Xt, grad, dXt, sums, mask
):
    # Two parallel loops, one after the other (each ends at a barrier): the first masks dYt
    # in place and writes the row sums, the second reads any row of dYt. Their ranges come
    # from different arrays, so Numba does not fuse them (tests/matrices/test_fused_backward.py
    # checks the masked result against the dense reference at 1 and 2 threads).
    if sums.shape[0] > 0 or mask.shape[0] > 0:
        for blk in nb.prange(len(row_blocks) - 1):
            _mask_sums_rows(row_blocks[blk], row_blocks[blk + 1], dYt, sums, mask)
    for blk in nb.prange(len(col_blocks) - 1):
        _backward_cols(
            col_blocks[blk], col_blocks[blk + 1], col_ptr, row_idx, perm, data, dYt, Xt, grad, dXt
        )


@nb.njit(parallel=True, **_JIT)
def panel_starts(indptr, indices, bounds, out):  # pragma: no cover - jitted
    """``out[p, i]`` = first position ``k`` of row ``i`` with ``indices[k] >= bounds[p]``
    (rows are sorted, so each panel of a row is one contiguous range); ``O(nnz + P rows)``."""
    n_bounds = bounds.shape[0]
    for i in nb.prange(indptr.shape[0] - 1):
        k = indptr[i]
        e = indptr[i + 1]
        for p in range(n_bounds):
            b = bounds[p]
            while k < e and indices[k] < b:
                k += 1
            out[p, i] = k


@nb.njit(**_JIT)
def csc_fill(indptr, indices, col_ptr, row_idx, perm):  # pragma: no cover - jitted
    """Counting sort of the entries by column: ``row_idx``/``perm`` in column-major order,
    rows ascending within each column (stable), ``O(nnz)``."""
    fill = col_ptr[:-1].copy()
    for i in range(indptr.shape[0] - 1):
        for k in range(indptr[i], indptr[i + 1]):
            q = fill[indices[k]]
            row_idx[q] = i
            perm[q] = k
            fill[indices[k]] = q + 1


def n_panels(gathered_rows: int, n: int, itemsize: int) -> int:
    """Column panels for a product gathering rows of a ``(gathered_rows, n)`` operand: 1 while
    it is at most :data:`PANEL_BYTES`, else enough panels of at most that size each."""
    size = gathered_rows * n * itemsize
    return 1 if size <= PANEL_BYTES else int(min(-(-size // PANEL_BYTES), max(gathered_rows, 1)))


@nb.njit(parallel=True, **_JIT)
def _gather_transpose(X, rows, out):  # pragma: no cover - jitted
    # out[:, t] = X[rows[t], :]. Eight source rows are read side by side so that every write
    # fills eight contiguous output values (2.4x faster than one row at a time, measured);
    # features are split into chunks for the threads.
    n = rows.shape[0]
    d = X.shape[1]
    n8 = n - n % 8
    chunk = 256
    for c in nb.prange((d + chunk - 1) // chunk):
        j0 = c * chunk
        j1 = min(j0 + chunk, d)
        for t in range(0, n8, 8):
            r0, r1, r2, r3 = rows[t], rows[t + 1], rows[t + 2], rows[t + 3]
            r4, r5, r6, r7 = rows[t + 4], rows[t + 5], rows[t + 6], rows[t + 7]
            for j in range(j0, j1):
                out[j, t] = X[r0, j]
                out[j, t + 1] = X[r1, j]
                out[j, t + 2] = X[r2, j]
                out[j, t + 3] = X[r3, j]
                out[j, t + 4] = X[r4, j]
                out[j, t + 5] = X[r5, j]
                out[j, t + 6] = X[r6, j]
                out[j, t + 7] = X[r7, j]
        for t in range(n8, n):
            r = rows[t]
            for j in range(j0, j1):
                out[j, t] = X[r, j]


#: Activation budget of one evaluation batch (bytes of the widest layer's output).
EVAL_BYTES = 128 << 20


def eval_rows(requested: int, widest: int, itemsize: int) -> int:
    """Rows per evaluation batch: ``requested``, capped so that a ``(widest, rows)``
    activation stays within :data:`EVAL_BYTES` (at least 1): bounded memory for very wide
    layers (a 1,024-row batch of a 500,000-wide layer would be 2 GB per activation).

    >>> eval_rows(1024, 1000, 4), eval_rows(1024, 500_000, 4)
    (1024, 67)
    """
    return max(1, min(int(requested), EVAL_BYTES // max(1, widest * itemsize)))


def _check_fm(name: str, A: FloatArray, rows: int, dtype: np.dtype) -> None:
    if A.ndim != 2 or A.shape[0] != rows:
        raise ValueError(f"{name} must have shape ({rows}, N), got {A.shape}")
    if A.dtype != dtype:
        raise ValueError(f"{name} has dtype {A.dtype}, the weights have {dtype}")
    if not A.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (feature-major)")


def _whole_rows(indptr: IntArray) -> IntArray:
    """``starts`` of one panel: ``[indptr[:-1], indptr[1:]]`` as a ``(2, rows)`` array."""
    return np.stack([indptr[:-1], indptr[1:]])


def spmm(
    blocks: IntArray,
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    Xt: FloatArray,
    bias: FloatArray | None = None,
    out: FloatArray | None = None,
    *,
    starts: IntArray | None = None,
    relu: bool = False,
) -> FloatArray:
    """Forward product ``Yt = W Xt + b 1ᵀ`` for CSR ``W`` of shape ``(len(indptr)-1, D)``.

    ``starts`` (``(P + 1, rows)``, from :func:`panel_starts`) runs the product by column
    panels; ``relu`` returns ``max(Yt, 0)`` (applied to each row while it is in cache).
    """
    K = len(indptr) - 1
    if out is None:
        out = np.empty((K, Xt.shape[1]), dtype=data.dtype)
    b = np.empty(0, dtype=data.dtype) if bias is None else bias
    if starts is None:
        starts = _whole_rows(indptr)
    if len(indices) * Xt.shape[1] < SERIAL_WORK and starts.shape[0] == 2:
        _spmm_rows(0, K, starts[0], starts[1], indices, data, Xt, b, out, True, True, relu)
    else:
        _spmm(blocks, starts, indices, data, Xt, b, out, relu)
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
    *,
    starts: IntArray | None = None,
) -> FloatArray:
    """Backward-data product ``dXt = Wᵀ dYt`` as a gather through W's column index.

    ``starts`` (``(P + 1, cols)`` over the column index) runs it by row panels of ``W``.
    """
    if out is None:
        out = np.empty((n_cols, dYt.shape[1]), dtype=data.dtype)
    if starts is None:
        starts = _whole_rows(col_ptr)
    if len(row_idx) * dYt.shape[1] < SERIAL_WORK and starts.shape[0] == 2:
        _spmm_t_cols(0, n_cols, starts[0], starts[1], row_idx, perm, data, dYt, out, True)
    else:
        _spmm_t(blocks, starts, row_idx, perm, data, dYt, out)
    return out


def sddmm(
    blocks: IntArray,
    indptr: IntArray,
    indices: IntArray,
    dYt: FloatArray,
    Xt: FloatArray,
    out: FloatArray | None = None,
    row_sums: FloatArray | None = None,
    *,
    starts: IntArray | None = None,
    mask: FloatArray | None = None,
) -> FloatArray:
    """Sampled product ``dW[k] = dYt[i, :] · Xt[j, :]`` for each stored ``k = (i, j)``.

    If ``row_sums`` (shape ``(rows,)``) is given it also receives ``dYt 1`` (a layer's bias
    gradient), computed while each row of ``dYt`` is in cache. If ``mask`` (shape of ``dYt``)
    is given, ``dYt`` is first set to 0 **in place** where ``mask <= 0`` (the derivative of
    a ReLU fused into the forward product: ``mask`` is its output). ``starts`` as in
    :func:`spmm`.
    """
    if out is None:
        out = np.empty(len(indices), dtype=dYt.dtype)
    sums = np.empty(0, dtype=dYt.dtype) if row_sums is None else row_sums
    m = np.empty((0, 0), dtype=dYt.dtype) if mask is None else mask
    if starts is None:
        starts = _whole_rows(indptr)
    if len(indices) * Xt.shape[1] < SERIAL_WORK and starts.shape[0] == 2:
        _sddmm_rows(0, len(indptr) - 1, starts[0], starts[1], indices, dYt, Xt, out, sums, m, True)
    else:
        _sddmm(blocks, starts, indices, dYt, Xt, out, sums, m)
    return out


def backward(
    col_blocks: IntArray,
    row_blocks: IntArray,
    col_ptr: IntArray,
    row_idx: IntArray,
    perm: IntArray,
    data: FloatArray,
    dYt: FloatArray,
    Xt: FloatArray,
    out: FloatArray | None = None,
    dXt: FloatArray | None = None,
    row_sums: FloatArray | None = None,
    *,
    mask: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Both backward products in one pass: ``(dW, dXt)`` = (:func:`sddmm`,
    :func:`spmm_transposed`), with ``row_sums`` and ``mask`` as in :func:`sddmm`.

    It walks W's column index (``col_ptr``, ``row_idx``, ``perm`` as in
    :func:`spmm_transposed`): each stored ``(i, j)`` reads the row ``dYt[i, :]`` once for its
    weight gradient (written at its CSR position ``perm[p]``) and for its term of ``dXt[j, :]``,
    so the backward pass gathers one row per stored weight instead of two (one of ``Xt`` in
    :func:`sddmm`, one of ``dYt`` in :func:`spmm_transposed`). ``mask`` and ``row_sums`` are
    applied in a first pass over the rows of ``dYt`` (``row_blocks``). Every output element
    is computed by one thread in a fixed order: the results do not depend on the thread count.
    """
    n_cols = len(col_ptr) - 1
    if out is None:
        out = np.empty(len(row_idx), dtype=dYt.dtype)
    if dXt is None:
        dXt = np.empty((n_cols, dYt.shape[1]), dtype=dYt.dtype)
    sums = np.empty(0, dtype=dYt.dtype) if row_sums is None else row_sums
    m = np.empty((0, 0), dtype=dYt.dtype) if mask is None else mask
    if len(row_idx) * dYt.shape[1] < SERIAL_WORK:
        if sums.shape[0] > 0 or m.shape[0] > 0:
            _mask_sums_rows(0, dYt.shape[0], dYt, sums, m)
        _backward_cols(0, n_cols, col_ptr, row_idx, perm, data, dYt, Xt, out, dXt)
    else:
        _backward(col_blocks, row_blocks, col_ptr, row_idx, perm, data, dYt, Xt, out, dXt, sums, m)
    return out, dXt


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
