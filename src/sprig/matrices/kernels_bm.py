r"""Batch-major <-> feature-major layout changes at the edge of sprig's kernels.

sprig's products run feature-major (``Xt`` of shape ``(features, N)``: each stored weight is one
contiguous length-``N`` multiply-add). PyTorch tensors are batch-major (``(N, features)``,
C-contiguous), so at the boundary (:mod:`sprig.torch.linear`) the input and the output
gradient are transposed once, and the input gradient goes back batch-major when the input
came that way. :func:`transpose` does these copies by ``TILE x TILE`` tiles, columns of tiles
in parallel; it reads and writes arrays whose rows are contiguous but which may be column
slices of wider arrays (a batch padded to a width that avoids cache-set conflicts, see
``sprig.torch.linear._width``).

Measured on the shared 2-core Xeon (1 thread, float32, minimum of repeated calls; the machine
was heavily loaded, so +-30 %): (100, 3072) -> 0.29-0.38 ms (``gather_transpose`` 0.31-0.42,
NumPy 0.41, torch ``.T.contiguous()`` 0.65-0.83); (2048, 512) -> 2.2-2.7 ms (``gather_transpose``
12-17 ms, torch 19-23 ms). Two batch-major *fused* products were also tried (the backward-data
and forward products writing their output transposed from a small scratch in L1, so the
feature-major intermediate is never stored): in the layer they were no faster than the
feature-major product followed by :func:`transpose` (1.9x vs 1.8x the native layer at
density 0.01, 2.0-2.2x vs 2.0-2.2x on GPT-sized (32 x 64)-token layers), so they are not here;
nor is padding the batch of power-of-two token counts (no consistent gain, +-10 %).

A transpose is a copy: the result does not depend on the number of threads.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..typing import FloatArray
from .kernels import _JIT

__all__ = ["TILE", "transpose"]

#: Side of the square tiles :func:`transpose` copies (32 x 4 bytes: two cache lines per tile
#: row in float32). Measured fastest of 8, 16, 32 on (2048, 512) and (512, 2048) float32.
TILE = 32
#: Below this many elements :func:`transpose` runs on the calling thread.
SERIAL_ELEMENTS = 1 << 16


@nb.njit(**_JIT)
def _transpose_cols(X, out, c0, c1):  # pragma: no cover - jitted
    # out[j, t] = X[t, j] for the column tiles c0:c1 (tile c covers columns c*TILE:...).
    n, d = X.shape
    nT = n - n % TILE
    for c in range(c0, c1):
        j0 = c * TILE
        j1 = min(j0 + TILE, d)
        for t0 in range(0, nT, TILE):
            for j in range(j0, j1):
                for a in range(TILE):
                    out[j, t0 + a] = X[t0 + a, j]
        for j in range(j0, j1):
            for t in range(nT, n):
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
