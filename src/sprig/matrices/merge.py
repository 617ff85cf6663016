"""One-pass topology edit of a CSR matrix: drop entries and insert new positions.

:meth:`CSRMatrix.edit <sprig.matrices.csr.CSRMatrix.edit>` used to go through flat ``int64``
keys of every entry (sort positions, ``searchsorted``, scatter, divide back into rows and
columns): about 65 bytes of temporaries per stored entry, which made a topology update the
memory peak of a wide network (2.4 GB above the resident set for a 784-500000-500000-10 MLP,
``docs/benchmarks.md`` "scale"). :func:`merge_rows` instead merges, row by row, the kept entries
(already sorted by column) with the inserted ones (sorted by row, then column) directly into
the new ``indices``, ``data`` and ``source`` arrays: the only temporaries are the ``keep`` mask
(1 byte per entry) and the new ``indptr``. The result is the same matrix and the same
old-to-new mapping as before, entry for entry.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from ..typing import INDEX_DTYPE, INDPTR_DTYPE, FloatArray, IntArray

_JIT: dict[str, Any] = {"nogil": True, "cache": True, "boundscheck": False}


@nb.njit(**_JIT)
def _row_counts(indptr, keep, add_rows, out):  # pragma: no cover - jitted
    rows = indptr.shape[0] - 1
    for i in range(rows):
        n = 0
        for k in range(indptr[i], indptr[i + 1]):
            if keep[k]:
                n += 1
        out[i + 1] = n
    for r in add_rows:
        out[r + 1] += 1
    for i in range(rows):
        out[i + 1] += out[i]


@nb.njit(**_JIT)
def _merge(indptr, indices, data, keep, add_rows, add_cols, add_vals, new_indptr,
           new_indices, new_data, source):  # pragma: no cover - jitted  # fmt: skip
    # Returns the number of inserted positions that collide with a kept entry (0 if valid).
    rows = indptr.shape[0] - 1
    a = 0
    n_add = add_rows.shape[0]
    hits = 0
    for i in range(rows):
        p = new_indptr[i]
        k = indptr[i]
        end = indptr[i + 1]
        while True:
            while k < end and not keep[k]:
                k += 1
            has_old = k < end
            has_add = a < n_add and add_rows[a] == i
            if not has_old and not has_add:
                break
            if has_add and (not has_old or add_cols[a] <= indices[k]):
                if has_old and add_cols[a] == indices[k]:
                    hits += 1
                new_indices[p] = add_cols[a]
                new_data[p] = add_vals[a]
                source[p] = -1
                a += 1
            else:
                new_indices[p] = indices[k]
                new_data[p] = data[k]
                source[p] = k
                k += 1
            p += 1
    return hits


def merge_rows(
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    keep: np.ndarray,
    add_rows: IntArray,
    add_cols: IntArray,
    add_vals: FloatArray,
) -> tuple[IntArray, IntArray, FloatArray, IntArray, int]:
    """Merge the kept entries of a CSR matrix with inserted ones, row by row.

    ``add_rows``/``add_cols``/``add_vals`` must be sorted by ``(row, col)`` and distinct, with
    rows and columns in range (the caller checks). Returns ``(indptr, indices, data, source,
    hits)``: the new CSR arrays, ``source[p]`` the old position of new entry ``p`` (``-1`` if
    inserted), and the number of inserted positions that are already stored (kept) — a
    non-zero ``hits`` means the edit is invalid and the arrays must be discarded.
    """
    rows = indptr.shape[0] - 1
    new_indptr = np.zeros(rows + 1, dtype=INDPTR_DTYPE)
    _row_counts(indptr, keep, add_rows, new_indptr)
    nnz = int(new_indptr[-1])
    new_indices = np.empty(nnz, dtype=INDEX_DTYPE)
    new_data = np.empty(nnz, dtype=data.dtype)
    source = np.empty(nnz, dtype=np.int64)
    hits = _merge(indptr, indices, data, keep, add_rows, add_cols, add_vals, new_indptr,
                  new_indices, new_data, source)  # fmt: skip
    return new_indptr, new_indices, new_data, source, int(hits)
