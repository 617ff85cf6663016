r"""Batch-major <-> feature-major layout changes at the edge of sprig's kernels.

sprig's products run feature-major (``Xt`` of shape ``(features, N)``: each stored weight is one
contiguous length-``N`` multiply-add). PyTorch tensors are batch-major (``(N, features)``,
C-contiguous), so at the boundary (:mod:`sprig.torch.linear`) the input and the output
gradient are transposed once, and the input gradient goes back batch-major when the input
came that way. :func:`transpose` does these copies by blocks of ``TILE`` columns (blocks in
parallel), each as ``L x L`` register tiles (``L`` = 8 float32, 4 float64): ``L`` vector loads
of tile rows, an in-register transpose (LLVM ``shufflevector``: unpack/shuffle/permute on
x86), ``L`` vector stores. It reads and writes arrays whose rows are contiguous but which may
be column slices of wider arrays.

Measured on the shared 2-core Xeon (1 thread, output preallocated, minimum of 30 calls; load
~14, so +-20 %), float32, element-by-element tiles (the previous version) -> register tiles:
(100, 3072) 0.43 -> 0.19 ms, (3072, 100) 0.35-0.42 -> 0.26-0.27 ms, (100, 1024) 0.15-0.17 ->
0.05 ms, (2048, 512) 2.2-2.4 -> 2.6 ms (memory-bound); float64 within +-25 % either way.
With allocation: (100, 3072) float32 0.37 ms vs ``gather_transpose`` 0.39, NumPy 0.49, torch
``.T.contiguous()`` 0.84; (2048, 512) 2.6 ms vs 3.7, 9.9 and 4.4 ms. Inside a layer call the
three transposes cost more than alone (their operands are not in cache): ~1.3 ms of a 5.5 ms
call at density 0.01 (``benchmarks/torch_linear.py``).

Two batch-major *fused* products were also tried (the backward-data
and forward products writing their output transposed from a small scratch in L1, so the
feature-major intermediate is never stored): in the layer they were no faster than the
feature-major product followed by :func:`transpose` (1.9x vs 1.8x the native layer at
density 0.01, 2.0-2.2x vs 2.0-2.2x on GPT-sized (32 x 64)-token layers), so they are not here;
nor is padding the batch of power-of-two token counts (no consistent gain, +-10 %).
Batch-major forward and fused backward passes that read ``X`` by blocks of input features
through an L1 scratch (so neither ``Xt`` nor ``dXt`` is stored) are measured in
``benchmarks/batch_major.py`` (docs/benchmarks.md section ``batch_major``): as fast as
transpose + product at density 0.01 (forward) or slower (backward, and both at 0.05-0.1).

A transpose is a copy: the result does not depend on the number of threads.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ..typing import FloatArray
from .kernels import _JIT

__all__ = ["TILE", "transpose"]

#: Columns per block of :func:`transpose` (the unit of parallel work; each block is copied as
#: register tiles). 32 was the fastest of 8, 16, 32 for element-by-element tiles on
#: (2048, 512) and (512, 2048) float32.
TILE = 32
#: Below this many elements :func:`transpose` runs on the calling thread.
SERIAL_ELEMENTS = 1 << 16


def _mask(idx: list[int]) -> ir.Constant:
    return ir.Constant(ir.VectorType(ir.IntType(32), len(idx)), idx)


# Shuffle masks of the AVX register transposes (unpacklo/hi, shuffle_ps, permute2f128), as
# LLVM ``shufflevector`` operands: the backend emits the matching instructions on x86 and
# equivalent ones elsewhere.
_LO8, _HI8 = [0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15]
_S10, _S32 = [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]
_P20_8, _P31_8 = [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]
_LO4, _HI4, _P20_4, _P31_4 = [0, 4, 2, 6], [1, 5, 3, 7], [0, 1, 4, 5], [2, 3, 6, 7]


def _transpose_network(builder: Any, rows: list[Any]) -> list[Any]:
    """The columns of a square tile held in ``len(rows)`` (8 or 4) vector registers."""

    def sh(x: Any, y: Any, m: list[int]) -> Any:
        return builder.shuffle_vector(x, y, _mask(m))

    r = rows
    if len(r) == 4:
        t = [sh(r[0], r[1], _LO4), sh(r[0], r[1], _HI4), sh(r[2], r[3], _LO4)]
        t.append(sh(r[2], r[3], _HI4))
        return [sh(t[k], t[k + 2], m) for m in (_P20_4, _P31_4) for k in (0, 1)]
    t = []
    for k in range(0, 8, 2):
        t += [sh(r[k], r[k + 1], _LO8), sh(r[k], r[k + 1], _HI8)]
    u = []
    for k in (0, 1, 4, 5):
        u += [sh(t[k], t[k + 2], _S10), sh(t[k], t[k + 2], _S32)]
    return [sh(u[k], u[k + 4], m) for m in (_P20_8, _P31_8) for k in range(4)]


@intrinsic
def _tile(typingctx, X, t0, j0, out):  # pragma: no cover - compile-time
    """``out[j0 + c, t0 + a] = X[t0 + a, j0 + c]`` for ``a, c < L`` (L = 8 float32, 4
    float64): L vector loads of tile rows, a register transpose, L vector stores."""
    sig = types.void(X, t0, j0, out)

    def codegen(context, builder, signature, args):
        xty, tty, jty, oty = signature.args
        lanes = 8 if xty.dtype == types.float32 else 4
        elem = ir.FloatType() if lanes == 8 else ir.DoubleType()
        vptr = ir.VectorType(elem, lanes).as_pointer()
        xa = context.make_array(xty)(context, builder, args[0])
        oa = context.make_array(oty)(context, builder, args[3])
        t = context.cast(builder, args[1], tty, types.intp)
        j = context.cast(builder, args[2], jty, types.intp)
        align = xty.dtype.bitwidth // 8
        rows = []
        for a in range(lanes):
            ta = builder.add(t, ir.Constant(t.type, a))
            p = cgutils.get_item_pointer(context, builder, xty, xa, [ta, j], wraparound=False)
            rows.append(builder.load(builder.bitcast(p, vptr), align=align))
        for c, col in enumerate(_transpose_network(builder, rows)):
            jc = builder.add(j, ir.Constant(j.type, c))
            p = cgutils.get_item_pointer(context, builder, oty, oa, [jc, t], wraparound=False)
            builder.store(col, builder.bitcast(p, vptr), align=align)
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(**_JIT)
def _transpose_cols(X, out, c0, c1):  # pragma: no cover - jitted
    # out[j, t] = X[t, j] for the column blocks c0:c1 (block c: columns c*TILE:(c+1)*TILE).
    # L x L register tiles (L = 8 float32, 4 float64), the remainders element by element.
    n, d = X.shape
    lanes = 8 if X.itemsize == 4 else 4
    nL = n - n % lanes
    for c in range(c0, c1):
        j0 = c * TILE
        j1 = min(j0 + TILE, d)
        jL = j0 + (j1 - j0) // lanes * lanes
        for t in range(0, nL, lanes):
            for j in range(j0, jL, lanes):
                _tile(X, t, j, out)
        for t in range(0, nL):
            for j in range(jL, j1):
                out[j, t] = X[t, j]
        for j in range(j0, j1):
            for t in range(nL, n):
                out[j, t] = X[t, j]


@nb.njit(parallel=True, **_JIT)
def _transpose_par(X, out):  # pragma: no cover - jitted
    d = X.shape[1]
    n_tiles = (d + TILE - 1) // TILE
    for c in nb.prange(n_tiles):
        _transpose_cols(X, out, c, c + 1)


def _rows_contiguous(A: FloatArray) -> bool:
    """2-D with contiguous rows (unit column stride): C-contiguous, or a column slice of it."""
    return A.ndim == 2 and (A.size == 0 or A.shape[1] == 1 or A.strides[1] == A.itemsize)


def transpose(X: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """Copy ``X.T`` (``(n, d) -> (d, n)``) into ``out`` by tiles and return ``out`` (a new
    C-contiguous array when ``None``).

    ``X`` and ``out`` need contiguous rows only (a column slice ``A[:, :n]`` of a C-contiguous
    array is fine), so a padded feature-major array is written or read in place.

    >>> import numpy as np
    >>> X = np.arange(6.0).reshape(2, 3)
    >>> transpose(X).tolist(), transpose(X).flags.c_contiguous
    ([[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]], True)
    """
    if not isinstance(X, np.ndarray) or X.dtype not in (np.float32, np.float64):
        raise ValueError(f"X must be a float32 or float64 array, got {getattr(X, 'dtype', X)!r}")
    if not _rows_contiguous(X):
        raise ValueError(f"X must be a 2-D array with contiguous rows, got shape {X.shape}")
    n, d = X.shape
    if out is None:
        out = np.empty((d, n), dtype=X.dtype)
    elif out.shape != (d, n) or out.dtype != X.dtype or not _rows_contiguous(out):
        raise ValueError(
            f"out must be a {X.dtype} array of shape {(d, n)} with contiguous rows, got "
            f"{out.dtype} {out.shape}"
        )
    if n * d == 0:
        return out
    if n * d < SERIAL_ELEMENTS:
        _transpose_cols(X, out, 0, (d + TILE - 1) // TILE)
    else:
        _transpose_par(X, out)
    return out
