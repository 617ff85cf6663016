r"""CSR sparse weight matrices with an editable topology.

A :class:`CSRMatrix` holds ``W`` of shape ``(rows, cols)`` as ``indptr`` (int64, ``rows + 1``),
``indices`` (int32, sorted and unique within each row) and ``data`` (float32 or float64).
The *topology* (``indptr``, ``indices``) is immutable: an edit returns a new matrix plus a
:class:`~sprig.matrices.remap.Remap`. The *values* in ``data`` are updated in place by
optimizers. Derived indexes (the CSC gather index used by the backward-data kernel, the
balanced work blocks) are computed lazily once per topology and cached.

Memory: ``4 (int32 index) + itemsize (value)`` bytes per stored entry, plus ``8 (rows + 1)``
for ``indptr``; the CSC index adds ``12`` bytes per entry once backward-data is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..typing import INDEX_DTYPE, INDPTR_DTYPE, FloatArray, IntArray, check_float_dtype
from . import kernels, sampling
from .merge import merge_rows
from .remap import Remap

#: Draws ``n`` values for new entries: ``(n, rng) -> values``.
ValueSampler = Callable[[int, np.random.Generator], FloatArray]


def nnz_from_density(shape: tuple[int, int], density: float) -> int:
    """Exact number of stored entries for ``density`` (rounded half away from zero, as Nerva).

    Raises:
        ValueError: if ``density`` is not in ``(0, 1]``.

    Examples:
        >>> nnz_from_density((1024, 3072), 0.0423828125)
        133325
    """
    if not (0.0 < density <= 1.0) or not np.isfinite(density):
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    size = shape[0] * shape[1]
    return min(size, int(np.floor(density * size + 0.5)))


@dataclass(frozen=True, eq=False)
class CSRMatrix:
    """A sparse matrix in canonical CSR form (sorted, unique column indices per row).

    Construct with :meth:`random`, :meth:`from_dense`, :meth:`from_scipy` or
    :meth:`from_coords`; the constructor itself validates the invariants in ``O(nnz)``.

    Raises:
        ValueError: if the arrays violate an invariant (the message says which).
    """

    shape: tuple[int, int]
    indptr: IntArray
    indices: IntArray
    data: FloatArray

    def __post_init__(self) -> None:
        rows, cols = self.shape
        if rows < 0 or cols < 0:
            raise ValueError(f"shape must be non-negative, got {self.shape}")
        ip, ix, d = self.indptr, self.indices, self.data
        if ip.dtype != INDPTR_DTYPE or ix.dtype != INDEX_DTYPE:
            raise ValueError(
                f"indptr must be int64 and indices int32, got {ip.dtype} and {ix.dtype}"
            )
        check_float_dtype(d.dtype)
        if ip.shape != (rows + 1,):
            raise ValueError(f"indptr must have shape ({rows + 1},), got {ip.shape}")
        nnz = len(ix)
        if ix.ndim != 1 or d.shape != (nnz,):
            raise ValueError(f"indices {ix.shape} and data {d.shape} must be 1-D of equal length")
        if ip[0] != 0 or ip[-1] != nnz:
            raise ValueError(f"indptr must start at 0 and end at nnz={nnz}, got {ip[0]}..{ip[-1]}")
        if nnz >= sampling.LARGE_NNZ:  # parallel O(nnz) check without temporaries
            code = sampling.check_rows(ip, ix, cols)
            if code:
                raise ValueError(
                    {
                        1: "indptr must be non-decreasing",
                        2: f"column indices must lie in [0, {cols})",
                        3: "column indices must be sorted and unique within each row",
                    }[code]
                )
        steps = np.diff(ip) if nnz < sampling.LARGE_NNZ else np.zeros(0, ip.dtype)
        if steps.size and steps.min() < 0:
            raise ValueError("indptr must be non-decreasing")
        if 0 < nnz < sampling.LARGE_NNZ:
            if ix.min() < 0 or ix.max() >= cols:
                raise ValueError(f"column indices must lie in [0, {cols})")
            # Within a row indices must strictly increase; a row start may go down.
            up = np.diff(ix.astype(np.int64)) > 0
            up[ip[1:-1][(ip[1:-1] > 0) & (ip[1:-1] < nnz)] - 1] = True
            if not up.all():
                raise ValueError("column indices must be sorted and unique within each row")
        for a in (ip, ix, d):
            if not a.flags.c_contiguous:
                raise ValueError("CSR arrays must be C-contiguous")

    # ----------------------------------------------------------------- basic properties
    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return len(self.indices)

    @property
    def dtype(self) -> np.dtype[Any]:
        """Value dtype."""
        return self.data.dtype

    @property
    def density(self) -> float:
        """``nnz / (rows · cols)`` (1.0 for an empty shape)."""
        size = self.shape[0] * self.shape[1]
        return self.nnz / size if size else 1.0

    @property
    def nbytes(self) -> int:
        """Bytes held by the CSR arrays (not counting cached indexes)."""
        return int(self.indptr.nbytes + self.indices.nbytes + self.data.nbytes)

    def __repr__(self) -> str:
        return (
            f"CSRMatrix(shape={self.shape}, nnz={self.nnz}, density={self.density:.4g}, "
            f"dtype={self.dtype})"
        )

    # ----------------------------------------------------------------- cached indexes
    @cached_property
    def row_of(self) -> IntArray:
        """Row index of every stored entry, ``(nnz,)`` int32."""
        return np.repeat(np.arange(self.shape[0], dtype=INDEX_DTYPE), np.diff(self.indptr))

    @cached_property
    def keys(self) -> IntArray:
        """Row-major flat position ``row · cols + col`` of every entry (sorted ascending).

        Read-only (it may be shared, e.g. as a DST record's initial ever-active set); built
        without caching :attr:`row_of`: 8 bytes per entry.
        """
        keys = np.repeat(
            np.arange(self.shape[0], dtype=np.int64) * self.shape[1], np.diff(self.indptr)
        )
        keys += self.indices
        keys.flags.writeable = False
        return keys

    @cached_property
    def row_blocks(self) -> IntArray:
        """Row ranges of similar nnz for the parallel row kernels."""
        return kernels.balanced_blocks(self.indptr)

    @cached_property
    def csc(self) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        """Column index ``(col_ptr, row_idx, perm, col_blocks)``.

        ``perm[p]`` is the CSR position of the ``p``-th entry in column-major order, so
        ``data[perm]`` is the CSC value array; rows ascend within each column. Built by one
        counting sort (``O(nnz)``), ``int32`` ``row_idx`` and ``perm`` (``int64`` from 2³¹
        entries on): 8 bytes per entry. Rebuilt only when the topology changes.
        """
        counts = np.bincount(self.indices, minlength=self.shape[1])
        col_ptr = np.zeros(self.shape[1] + 1, dtype=np.int64)
        np.cumsum(counts, out=col_ptr[1:])
        row_idx = np.empty(self.nnz, dtype=INDEX_DTYPE)
        perm: IntArray = np.empty(self.nnz, dtype=INDEX_DTYPE if self.nnz < 2**31 else np.int64)
        kernels.csc_fill(self.indptr, self.indices, col_ptr, row_idx, perm)
        return col_ptr, row_idx, perm, kernels.balanced_blocks(col_ptr)

    @cached_property
    def _panel_cache(self) -> dict[tuple[str, int], IntArray]:
        return {}

    def panels(self, n: int, *, transposed: bool = False) -> IntArray:
        """``starts`` ``(n + 1, rows)`` of ``n`` equal column panels (``transposed``: ``(n + 1,
        cols)`` of row panels over the column index), for the panelled kernels; cached per
        topology. Memory ``8 (n + 1)`` bytes per row (column)."""
        key = ("t" if transposed else "r", n)
        got = self._panel_cache.get(key)
        if got is None:
            if transposed:
                ptr, idx = self.csc[0], self.csc[1]
                lines, other = self.shape[1], self.shape[0]
            else:
                ptr, idx = self.indptr, self.indices
                lines, other = self.shape
            if n == 1:
                got = np.stack([ptr[:-1], ptr[1:]])
            else:
                bounds = np.linspace(0, other, n + 1).astype(np.int64)
                got = np.empty((n + 1, lines), dtype=np.int64)
                kernels.panel_starts(ptr, idx, bounds, got)
            for old in [k for k in self._panel_cache if k[0] == key[0]]:
                del self._panel_cache[old]  # keep one panel count per direction
            self._panel_cache[key] = got
        return got

    # ----------------------------------------------------------------- constructors
    @classmethod
    def random(
        cls,
        shape: tuple[int, int],
        *,
        nnz: int | None = None,
        density: float | None = None,
        rng: np.random.Generator,
        dtype: Any = np.float32,
        values: ValueSampler | None = None,
    ) -> CSRMatrix:
        """A matrix with exactly ``nnz`` entries at uniformly random distinct positions.

        Give either ``nnz`` or ``density`` (converted with :func:`nnz_from_density`). Values
        come from ``values(nnz, rng)`` (default: zeros). Sampling costs ``O(nnz log nnz)``
        time and memory, independent of the dense size; from
        :data:`~sprig.matrices.sampling.LARGE_NNZ` entries on (at most half the positions) the
        positions come from :func:`~sprig.matrices.sampling.random_pattern` (``O(nnz)``,
        parallel: seconds for 20 M entries), a different but equally uniform draw.
        """
        rows, cols = _check_shape(shape)
        size = rows * cols
        if (nnz is None) == (density is None):
            raise ValueError("give exactly one of nnz= or density=")
        if nnz is None:
            assert density is not None
            nnz = nnz_from_density((rows, cols), density)
        if not 0 <= nnz <= size:
            raise ValueError(f"nnz must be in [0, {size}] for shape {shape}, got {nnz}")
        dt = check_float_dtype(dtype)
        if sampling.LARGE_NNZ <= nnz <= size // 2:
            indptr, indices = sampling.random_pattern(rows, cols, nnz, rng)
            vals = np.zeros(nnz, dt) if values is None else np.asarray(values(nnz, rng), dtype=dt)
            return cls((rows, cols), indptr, indices, vals)
        keys = np.sort(rng.choice(size, size=nnz, replace=False)) if nnz < size else np.arange(size)
        vals = np.zeros(nnz, dt) if values is None else np.asarray(values(nnz, rng), dtype=dt)
        return cls._from_sorted_keys((rows, cols), keys.astype(np.int64), vals)

    @classmethod
    def from_dense(cls, A: Any, *, pattern: Any = None, dtype: Any = None) -> CSRMatrix:
        """Store the non-zeros of dense ``A`` (or the positions where ``pattern`` is true)."""
        A = np.asarray(A)
        if A.ndim != 2:
            raise ValueError(f"expected a 2-D array, got shape {A.shape}")
        mask = A != 0 if pattern is None else np.asarray(pattern, dtype=bool)
        if mask.shape != A.shape:
            raise ValueError(f"pattern shape {mask.shape} does not match {A.shape}")
        keys = np.flatnonzero(mask).astype(np.int64)
        if dtype is None:
            dtype = A.dtype if A.dtype.kind == "f" else np.float32
        dt = check_float_dtype(dtype)
        return cls._from_sorted_keys(A.shape, keys, A.reshape(-1)[keys].astype(dt))

    @classmethod
    def from_scipy(cls, S: Any, *, dtype: Any = None) -> CSRMatrix:
        """Convert any ``scipy.sparse`` matrix/array (explicit zeros are kept as entries)."""
        S = sp.csr_array(S)
        S.sum_duplicates()
        S.sort_indices()
        dt = check_float_dtype(
            dtype if dtype is not None else (S.dtype if S.dtype.kind == "f" else np.float32)
        )
        return cls(
            (int(S.shape[0]), int(S.shape[1])),
            np.ascontiguousarray(S.indptr, dtype=INDPTR_DTYPE),
            np.ascontiguousarray(S.indices, dtype=INDEX_DTYPE),
            np.ascontiguousarray(S.data, dtype=dt),
        )

    @classmethod
    def from_coords(
        cls,
        shape: tuple[int, int],
        rows: Any,
        cols: Any,
        values: Any = None,
        *,
        dtype: Any = np.float32,
    ) -> CSRMatrix:
        """Build from coordinates in any order; duplicate positions are an error."""
        n_rows, n_cols = _check_shape(shape)
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        if r.shape != c.shape or r.ndim != 1:
            raise ValueError("rows and cols must be 1-D arrays of equal length")
        if r.size and (r.min() < 0 or r.max() >= n_rows or c.min() < 0 or c.max() >= n_cols):
            raise ValueError(f"coordinates out of range for shape {shape}")
        keys = r * n_cols + c
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        if keys.size > 1 and np.any(keys[1:] == keys[:-1]):
            raise ValueError("duplicate coordinates")
        dt = check_float_dtype(dtype)
        vals = np.zeros(len(keys), dt) if values is None else np.asarray(values, dt)[order]
        return cls._from_sorted_keys((n_rows, n_cols), keys, vals)

    @classmethod
    def _from_sorted_keys(
        cls, shape: tuple[int, int], keys: IntArray, values: FloatArray
    ) -> CSRMatrix:
        rows, cols = shape
        if cols == 0:
            return cls(
                shape,
                np.zeros(rows + 1, INDPTR_DTYPE),
                np.zeros(0, INDEX_DTYPE),
                np.ascontiguousarray(values),
            )
        r = keys // cols
        indptr = np.zeros(rows + 1, dtype=INDPTR_DTYPE)
        np.cumsum(np.bincount(r, minlength=rows), out=indptr[1:])
        return cls(shape, indptr, (keys % cols).astype(INDEX_DTYPE), np.ascontiguousarray(values))

    # ----------------------------------------------------------------- conversions
    def toarray(self) -> FloatArray:
        """Dense copy (for tests and small matrices only)."""
        out = np.zeros(self.shape, dtype=self.dtype)
        out[self.row_of, self.indices] = self.data
        return out

    def to_scipy(self) -> sp.csr_array:
        """A ``scipy.sparse.csr_array`` sharing nothing with this matrix."""
        return sp.csr_array(
            (self.data.copy(), self.indices.copy(), self.indptr.copy()), shape=self.shape
        )

    def with_data(self, data: FloatArray) -> CSRMatrix:
        """Same topology, new values (validated length and dtype)."""
        return CSRMatrix(self.shape, self.indptr, self.indices, np.ascontiguousarray(data))

    def copy(self) -> CSRMatrix:
        """Deep copy."""
        return CSRMatrix(self.shape, self.indptr.copy(), self.indices.copy(), self.data.copy())

    def astype(self, dtype: Any) -> CSRMatrix:
        """Copy with values converted to ``dtype`` (float32 or float64)."""
        return self.with_data(self.data.astype(check_float_dtype(dtype)))

    # ----------------------------------------------------------------- queries
    def contains(self, rows: Any, cols: Any) -> Any:
        """Boolean array: is ``(rows[t], cols[t])`` a stored position? ``O(t log nnz)``."""
        keys = np.asarray(rows, dtype=np.int64) * self.shape[1] + np.asarray(cols, dtype=np.int64)
        pos = np.searchsorted(self.keys, keys)
        pos = np.minimum(pos, max(self.nnz - 1, 0))
        return (self.keys[pos] == keys) if self.nnz else np.zeros(keys.shape, dtype=bool)

    # ----------------------------------------------------------------- topology edits
    def edit(
        self,
        drop: Any = (),
        add_rows: Any = (),
        add_cols: Any = (),
        add_values: Any = None,
    ) -> tuple[CSRMatrix, Remap]:
        """Remove entries and insert new positions in one pass.

        Args:
            drop: positions in ``data`` (0..nnz-1) to remove; unique.
            add_rows, add_cols: coordinates to insert; must be distinct and must not be stored
                after the drop (a position may be dropped and re-added in the same edit: it
                then counts as new).
            add_values: values of the inserted entries (default 0).

        Returns:
            ``(W_new, remap)``: the edited matrix and the old-to-new entry mapping.

        Cost: ``O(nnz + k log k)`` for ``k`` inserted entries (one merge pass per row,
        :func:`~sprig.matrices.merge.merge_rows`); no dense intermediate.

        Raises:
            ValueError: on out-of-range, duplicate or already-stored positions.
        """
        rows, cols = self.shape
        drop = np.asarray(drop, dtype=np.int64).reshape(-1)
        keep = np.ones(self.nnz, dtype=bool)
        if drop.size:
            if drop.min() < 0 or drop.max() >= self.nnz:
                raise ValueError(f"drop positions must lie in [0, {self.nnz})")
            keep[drop] = False
            if self.nnz - keep.sum() != drop.size:
                raise ValueError("drop positions must be unique")
        r = np.asarray(add_rows, dtype=np.int64).reshape(-1)
        c = np.asarray(add_cols, dtype=np.int64).reshape(-1)
        if r.shape != c.shape:
            raise ValueError("add_rows and add_cols must have equal length")
        if r.size and (r.min() < 0 or r.max() >= rows or c.min() < 0 or c.max() >= cols):
            raise ValueError(f"inserted coordinates out of range for shape {self.shape}")
        vals = (
            np.zeros(r.size, self.dtype)
            if add_values is None
            else np.asarray(add_values, dtype=self.dtype).reshape(-1)
        )
        if vals.shape != r.shape:
            raise ValueError(f"add_values has {vals.size} values for {r.size} positions")

        order = np.argsort(r * cols + c, kind="stable")
        r, c, vals = r[order], c[order], vals[order]
        if r.size > 1 and np.any((r[1:] == r[:-1]) & (c[1:] == c[:-1])):
            raise ValueError("inserted positions must be distinct")
        # one pass per row, no per-entry int64 keys (merge.py: ~14 B/entry of new arrays)
        indptr, indices, data, source, hits = merge_rows(
            self.indptr, self.indices, self.data, keep, r, c, vals
        )
        if hits:
            raise ValueError(f"{hits} inserted positions are already stored")
        return CSRMatrix(self.shape, indptr, indices, data), Remap(source, self.nnz)

    # ----------------------------------------------------------------- products
    def matmul_fm(
        self,
        Xt: FloatArray,
        bias: FloatArray | None = None,
        out: FloatArray | None = None,
        *,
        data: FloatArray | None = None,
        relu: bool = False,
    ) -> FloatArray:
        """``Yt = W Xt + b 1ᵀ`` with ``Xt`` feature-major ``(cols, N)``; cost ``O(N · nnz)``.

        ``data`` substitutes other values on the same pattern (e.g. DropConnect's masked
        weights) without building a new matrix. ``relu`` returns ``max(Yt, 0)`` instead (fused:
        no extra pass). When ``Xt`` exceeds :data:`~sprig.matrices.kernels.PANEL_BYTES` the
        product runs by column panels (:meth:`panels`).
        """
        kernels._check_fm("Xt", Xt, self.shape[1], self.dtype)
        vals = self._values(data)
        starts = self.panels(kernels.n_panels(self.shape[1], Xt.shape[1], Xt.itemsize))
        return kernels.spmm(
            self.row_blocks,
            self.indptr,
            self.indices,
            vals,
            Xt,
            bias,
            out,
            starts=starts,
            relu=relu,
        )

    def rmatmul_fm(
        self, dYt: FloatArray, out: FloatArray | None = None, *, data: FloatArray | None = None
    ) -> FloatArray:
        """``dXt = Wᵀ dYt`` with ``dYt`` feature-major ``(rows, N)``; cost ``O(N · nnz)``.

        By row panels of ``W`` when ``dYt`` exceeds :data:`~sprig.matrices.kernels.PANEL_BYTES`.
        """
        kernels._check_fm("dYt", dYt, self.shape[0], self.dtype)
        col_ptr, row_idx, perm, blocks = self.csc
        starts = self.panels(
            kernels.n_panels(self.shape[0], dYt.shape[1], dYt.itemsize), transposed=True
        )
        return kernels.spmm_transposed(
            blocks,
            col_ptr,
            row_idx,
            perm,
            self._values(data),
            dYt,
            self.shape[1],
            out,
            starts=starts,
        )

    def backward_fm(
        self,
        dYt: FloatArray,
        Xt: FloatArray,
        out: FloatArray | None = None,
        *,
        data: FloatArray | None = None,
        row_sums: FloatArray | None = None,
        mask: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Both backward products: ``(`` :meth:`sampled_fm` ``(dYt, Xt, out, row_sums=,
        mask=), `` :meth:`rmatmul_fm` ``(dYt, data=))`` — the weight gradient at the stored
        positions and ``dXt = Wᵀ dYt`` — in one pass over the column index that gathers each
        stored weight's row of ``dYt`` once for both (:func:`~sprig.matrices.kernels.backward`;
        ~0.65x the time of the two products, docs/benchmarks.md). Equal to the two separate
        products up to rounding; by those two products when either would run by panels.
        """
        self._check_gradient_operands(dYt, Xt, row_sums, mask)
        n = Xt.shape[1]
        if kernels.n_panels(self.shape[1], n, Xt.itemsize) > 1 or (
            kernels.n_panels(self.shape[0], n, dYt.itemsize) > 1
        ):
            grad = self.sampled_fm(dYt, Xt, out, row_sums=row_sums, mask=mask)
            return grad, self.rmatmul_fm(dYt, data=data)
        col_ptr, row_idx, perm, col_blocks = self.csc
        return kernels.backward(
            col_blocks,
            self.row_blocks,
            col_ptr,
            row_idx,
            perm,
            self._values(data),
            dYt,
            Xt,
            out,
            row_sums=row_sums,
            mask=mask,
        )

    def _check_gradient_operands(
        self,
        dYt: FloatArray,
        Xt: FloatArray,
        row_sums: FloatArray | None,
        mask: FloatArray | None,
    ) -> None:
        """The checks of :meth:`sampled_fm` and :meth:`backward_fm`."""
        kernels._check_fm("dYt", dYt, self.shape[0], self.dtype)
        kernels._check_fm("Xt", Xt, self.shape[1], self.dtype)
        if dYt.shape[1] != Xt.shape[1]:
            raise ValueError(f"batch sizes differ: dYt {dYt.shape} vs Xt {Xt.shape}")
        if row_sums is not None and row_sums.shape != (self.shape[0],):
            raise ValueError(f"row_sums must have shape ({self.shape[0]},)")
        if mask is not None:
            kernels._check_fm("mask", mask, self.shape[0], self.dtype)
            if mask.shape != dYt.shape:
                raise ValueError(f"mask {mask.shape} must have the shape of dYt {dYt.shape}")

    def _values(self, data: FloatArray | None) -> FloatArray:
        if data is None:
            return self.data
        if data.shape != self.data.shape or data.dtype != self.dtype:
            raise ValueError(f"data must have shape {self.data.shape} and dtype {self.dtype}")
        return data

    def sampled_fm(
        self,
        dYt: FloatArray,
        Xt: FloatArray,
        out: FloatArray | None = None,
        *,
        row_sums: FloatArray | None = None,
        mask: FloatArray | None = None,
    ) -> FloatArray:
        """Values of ``dYt Xtᵀ`` at the stored positions only (SDDMM); cost ``O(N · nnz)``.

        ``row_sums`` (optional, ``(rows,)``) receives ``dYt 1`` in the same pass. ``mask``
        (optional, shape of ``dYt``): first ``dYt[mask <= 0] = 0`` **in place** — the
        derivative of a ReLU fused into :meth:`matmul_fm`, whose output is the mask.
        """
        self._check_gradient_operands(dYt, Xt, row_sums, mask)
        starts = self.panels(kernels.n_panels(self.shape[1], Xt.shape[1], Xt.itemsize))
        return kernels.sddmm(
            self.row_blocks,
            self.indptr,
            self.indices,
            dYt,
            Xt,
            out,
            row_sums=row_sums,
            starts=starts,
            mask=mask,
        )


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 2 or any(int(s) != s or s < 0 for s in shape):
        raise ValueError(f"shape must be two non-negative integers, got {shape!r}")
    return int(shape[0]), int(shape[1])
