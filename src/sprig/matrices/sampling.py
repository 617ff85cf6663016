r"""Fast uniform random sparsity patterns and ``O(nnz)`` CSR checks for very large matrices.

:func:`random_pattern` returns ``nnz`` distinct positions drawn uniformly from a ``rows × cols``
matrix, as canonical CSR (``indptr``, sorted ``indices``), without sorting flat keys:
independent uniform flat keys are drawn with ``rng.integers``, bucketed by row (a counting
sort), sorted and de-duplicated per row in parallel, and the missing count (the collisions,
about ``nnz² / (2 rows cols)``) is drawn again until exactly ``nnz`` distinct positions are
held. The accepted set is the set of the first ``nnz`` distinct values of an i.i.d. uniform
sequence, which is a uniform ``nnz``-subset by symmetry. Time ``O(nnz)`` (plus a per-row sort
of ``nnz / rows`` entries), memory ``≈ 16 bytes · nnz`` transient; a 500000 × 500000 pattern
with 20 M entries takes about a second on two cores, where ``Generator.choice(size, nnz,
replace=False)`` and a sort of the keys took minutes.

The result depends only on ``rng``'s stream (no thread-count dependence).
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from ..typing import INDEX_DTYPE, INDPTR_DTYPE, IntArray

#: From this many stored entries on, ``CSRMatrix.random`` samples with :func:`random_pattern`
#: and the ``CSRMatrix`` constructor checks rows with :func:`check_rows` (smaller matrices
#: keep the NumPy paths: no JIT compilation for them, and their random draws are unchanged).
LARGE_NNZ = 1 << 20

_JIT: dict[str, Any] = {"nogil": True, "cache": True, "error_model": "numpy", "boundscheck": False}


@nb.njit(**_JIT)
def _bucket(keys, cols, indptr, out):  # pragma: no cover - jitted
    # Counting sort of flat keys by row: out[indptr[r]:indptr[r+1]] = columns of row r.
    n_rows = indptr.shape[0] - 1
    fill = indptr[:n_rows].copy()
    for q in range(keys.shape[0]):
        r = keys[q] // cols
        out[fill[r]] = keys[q] - r * cols
        fill[r] += 1


@nb.njit(parallel=True, **_JIT)
def _sort_unique_rows(indptr, cols_buf, counts):  # pragma: no cover - jitted
    # Sort each row's columns in place and move its distinct values to the row's front.
    for r in nb.prange(indptr.shape[0] - 1):
        a, b = indptr[r], indptr[r + 1]
        if b - a > 1:
            cols_buf[a:b] = np.sort(cols_buf[a:b])
        m = 0
        for q in range(a, b):
            if m == 0 or cols_buf[q] != cols_buf[a + m - 1]:
                cols_buf[a + m] = cols_buf[q]
                m += 1
        counts[r] = m


@nb.njit(parallel=True, **_JIT)
def _compact(indptr, cols_buf, new_indptr, out):  # pragma: no cover - jitted
    for r in nb.prange(indptr.shape[0] - 1):
        a = indptr[r]
        o = new_indptr[r]
        for q in range(new_indptr[r + 1] - o):
            out[o + q] = cols_buf[a + q]


@nb.njit(parallel=True, **_JIT)
def _to_keys(indptr, indices, cols, out):  # pragma: no cover - jitted
    for r in nb.prange(indptr.shape[0] - 1):
        base = np.int64(r) * cols
        for q in range(indptr[r], indptr[r + 1]):
            out[q] = base + indices[q]


def _unique_csr(keys: IntArray, rows: int, cols: int) -> tuple[IntArray, IntArray]:
    """Canonical CSR of the distinct flat ``keys`` (any order)."""
    indptr = np.zeros(rows + 1, dtype=INDPTR_DTYPE)
    np.cumsum(np.bincount(keys // cols, minlength=rows), out=indptr[1:])
    buf = np.empty(keys.shape[0], dtype=INDEX_DTYPE)
    _bucket(keys, np.int64(cols), indptr, buf)
    counts = np.empty(rows, dtype=INDPTR_DTYPE)
    _sort_unique_rows(indptr, buf, counts)
    if int(counts.sum()) == keys.shape[0]:
        return indptr, buf
    new_indptr = np.zeros(rows + 1, dtype=INDPTR_DTYPE)
    np.cumsum(counts, out=new_indptr[1:])
    out = np.empty(int(new_indptr[-1]), dtype=INDEX_DTYPE)
    _compact(indptr, buf, new_indptr, out)
    return new_indptr, out


def random_pattern(
    rows: int, cols: int, nnz: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """``(indptr, indices)`` of ``nnz`` distinct uniformly random positions (module docstring).

    Requires ``0 <= nnz <= rows · cols / 2`` (denser patterns should enumerate instead: the
    redraws would then dominate).

    >>> ip, ix = random_pattern(3, 5, 6, np.random.default_rng(0))
    >>> int(ip[-1]), bool(np.all(np.diff(ix[ip[0]:ip[1]]) > 0))
    (6, True)
    """
    size = rows * cols
    if not 0 <= nnz <= size // 2:
        raise ValueError(f"nnz must be in [0, {size // 2}] for a {rows}x{cols} pattern, got {nnz}")
    keys = rng.integers(0, size, size=nnz, dtype=np.int64)
    while True:
        indptr, indices = _unique_csr(keys, rows, cols)
        missing = nnz - indices.shape[0]
        if missing == 0:
            return indptr, indices
        held = np.empty(indices.shape[0], dtype=np.int64)
        _to_keys(indptr, indices, np.int64(cols), held)
        keys = np.concatenate([held, rng.integers(0, size, size=missing, dtype=np.int64)])


@nb.njit(parallel=True, **_JIT)
def _rows_sorted(indptr, indices, cols, bad):  # pragma: no cover - jitted
    for r in nb.prange(indptr.shape[0] - 1):
        a, b = indptr[r], indptr[r + 1]
        flag = 0
        if b < a:
            flag = 1
        else:
            prev = -1
            for q in range(a, b):
                c = indices[q]
                if c < 0 or c >= cols:
                    flag = 2
                    break
                if c <= prev:
                    flag = 3
                    break
                prev = c
        bad[r] = flag


def check_rows(indptr: IntArray, indices: IntArray, cols: int) -> int:
    """0 if every row's column indices are in ``[0, cols)`` and strictly increasing; else 1
    (``indptr`` decreases), 2 (an index out of range) or 3 (unsorted or duplicate). ``O(nnz)``,
    parallel over rows, no temporaries of size ``nnz``. ``indptr`` must start at 0 and end at
    ``len(indices)`` (checked by the caller)."""
    bad = np.empty(indptr.shape[0] - 1, dtype=np.int8)
    _rows_sorted(indptr, indices, np.int64(cols), bad)
    return int(bad.max()) if bad.size else 0
