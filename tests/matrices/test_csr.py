"""CSRMatrix construction, invariants, conversions and topology edits."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from sprig.matrices import CSRMatrix, Remap, nnz_from_density
from strategies import csr_matrices


def test_random_has_exact_nnz_and_valid_structure():
    rng = np.random.default_rng(0)
    W = CSRMatrix.random((1024, 3072), density=0.0423828125, rng=rng)
    assert W.nnz == 133325
    assert W.indices.dtype == np.int32 and W.indptr.dtype == np.int64
    assert W.dtype == np.float32


@pytest.mark.parametrize("density", [0.0, -0.1, 1.5, float("nan")])
def test_density_outside_unit_interval_is_rejected(density):
    with pytest.raises(ValueError, match="density must be in \\(0, 1\\]"):
        nnz_from_density((3, 4), density)


def test_invariants_are_checked_at_construction():
    ip = np.array([0, 2, 3], np.int64)
    with pytest.raises(ValueError, match="sorted and unique"):
        CSRMatrix((2, 4), ip, np.array([2, 1, 0], np.int32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="sorted and unique"):
        CSRMatrix((2, 4), ip, np.array([1, 1, 0], np.int32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="column indices must lie"):
        CSRMatrix((2, 4), ip, np.array([1, 4, 0], np.int32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="int64"):
        CSRMatrix(
            (2, 4), ip.astype(np.int32), np.array([0, 1, 0], np.int32), np.zeros(3, np.float32)
        )
    with pytest.raises(ValueError, match="float32 or float64"):
        CSRMatrix((2, 4), ip, np.array([0, 1, 0], np.int32), np.zeros(3, np.int32))
    # a row may start below the previous row's last column
    CSRMatrix((2, 4), ip, np.array([1, 3, 0], np.int32), np.zeros(3, np.float32))


@given(csr_matrices(max_dim=20))
def test_dense_and_scipy_round_trips(W):
    A = W.toarray()
    assert np.array_equal(CSRMatrix.from_scipy(sp.csr_array(A)).toarray(), A)
    assert np.array_equal(W.to_scipy().toarray(), A)
    B = CSRMatrix.from_dense(A, pattern=A != 0)
    assert np.array_equal(B.toarray(), A)
    rows, cols = np.nonzero(A)
    perm = np.random.default_rng(0).permutation(len(rows))
    C = CSRMatrix.from_coords(
        A.shape, rows[perm], cols[perm], A[rows, cols][perm], dtype=np.float64
    )
    assert np.array_equal(C.toarray(), A)


@given(csr_matrices(max_dim=24), st.integers(0, 2**32 - 1), st.data())
def test_edit_keeps_invariants_and_carries_per_entry_arrays(W, seed, data):
    rng = np.random.default_rng(seed)
    n_drop = data.draw(st.integers(0, W.nnz))
    drop = rng.choice(W.nnz, n_drop, replace=False)
    # free positions after the drop (dropped ones may come back as new entries)
    dense_mask = W.toarray() != 0
    occupied = np.zeros(W.shape, bool)
    occupied[W.row_of, W.indices] = True
    keep_mask = np.ones(W.nnz, bool)
    keep_mask[drop] = False
    occupied[:] = False
    occupied[W.row_of[keep_mask], W.indices[keep_mask]] = True
    free = np.flatnonzero(~occupied.reshape(-1))
    n_add = data.draw(st.integers(0, len(free)))
    add = rng.choice(free, n_add, replace=False)
    rows, cols = add // W.shape[1], add % W.shape[1]
    vals = rng.standard_normal(n_add)
    W2, remap = W.edit(drop, rows, cols, vals)
    assert W2.nnz == W.nnz - n_drop + n_add
    assert remap.new_nnz == W2.nnz and remap.old_nnz == W.nnz
    # expected dense result
    expect = W.toarray()
    expect[W.row_of[drop], W.indices[drop]] = 0
    expect[rows, cols] = vals
    got_mask = np.zeros(W.shape, bool)
    got_mask[W2.row_of, W2.indices] = True
    exp_mask = occupied.copy()
    exp_mask[rows, cols] = True
    assert np.array_equal(got_mask, exp_mask)
    assert np.array_equal(W2.toarray(), np.where(exp_mask, expect, 0))
    # a per-entry array follows its entry; inserted entries get the fill
    tag = np.arange(W.nnz, dtype=np.float64)
    moved = remap.apply(tag, fill=-1.0)
    assert np.array_equal(moved[remap.inserted], -np.ones(n_add))
    kept_old = remap.source[remap.kept]
    assert np.array_equal(W2.row_of[remap.kept], W.row_of[kept_old])
    assert np.array_equal(W2.indices[remap.kept], W.indices[kept_old])
    assert np.array_equal(moved[remap.kept], kept_old)
    assert np.array_equal(np.sort(remap.dropped), np.sort(drop))
    del dense_mask


def _edit_by_keys(W, drop, rows, cols, vals):
    """The flat-key edit that ``merge_rows`` replaced (sort, searchsorted, scatter)."""
    keep = np.ones(W.nnz, bool)
    keep[drop] = False
    kept_pos = np.flatnonzero(keep)
    kept_keys = W.keys[kept_pos]
    add_keys = np.asarray(rows, np.int64) * W.shape[1] + np.asarray(cols, np.int64)
    order = np.argsort(add_keys, kind="stable")
    add_keys, vals = add_keys[order], np.asarray(vals, W.dtype)[order]
    add_new = np.searchsorted(kept_keys, add_keys) + np.arange(add_keys.size)
    kept_new = np.arange(kept_keys.size) + np.searchsorted(add_keys, kept_keys)
    n = kept_keys.size + add_keys.size
    keys, data, source = np.empty(n, np.int64), np.empty(n, W.dtype), np.full(n, -1, np.int64)
    keys[kept_new], keys[add_new] = kept_keys, add_keys
    data[kept_new], data[add_new] = W.data[kept_pos], vals
    source[kept_new] = kept_pos
    return keys, data, source


@given(
    csr_matrices(max_dim=24), st.integers(0, 2**32 - 1), st.sampled_from([np.float32, np.float64])
)
def test_edit_equals_the_flat_key_reference(W, seed, dtype):
    W = W.astype(dtype)
    rng = np.random.default_rng(seed)
    drop = rng.choice(W.nnz, rng.integers(0, W.nnz + 1), replace=False)
    keep = np.ones(W.nnz, bool)
    keep[drop] = False
    occupied = np.zeros(W.shape[0] * W.shape[1], bool)
    occupied[W.keys[keep]] = True
    free = np.flatnonzero(~occupied)
    add = rng.choice(free, rng.integers(0, free.size + 1), replace=False)  # unsorted
    vals = rng.standard_normal(add.size)
    rows, cols = add // W.shape[1], add % W.shape[1]
    W2, remap = W.edit(drop, rows, cols, vals)
    keys, data, source = _edit_by_keys(W, drop, rows, cols, vals)
    assert np.array_equal(W2.keys, keys)
    assert W2.data.dtype == dtype and np.array_equal(W2.data, data)
    assert remap.source.dtype == np.int64 and np.array_equal(remap.source, source)


def test_edit_rejects_bad_requests():
    W = CSRMatrix.from_dense(np.array([[1.0, 0, 2], [0, 3, 0]]))
    with pytest.raises(ValueError, match="already stored"):
        W.edit(add_rows=[0], add_cols=[0])
    with pytest.raises(ValueError, match="distinct"):
        W.edit(add_rows=[0, 0], add_cols=[1, 1])
    with pytest.raises(ValueError, match="drop positions"):
        W.edit(drop=[5])
    with pytest.raises(ValueError, match="unique"):
        W.edit(drop=[1, 1])
    with pytest.raises(ValueError, match="out of range"):
        W.edit(add_rows=[2], add_cols=[0])
    # dropping and re-adding the same position in one edit is allowed: it is new
    W2, remap = W.edit(drop=[0], add_rows=[0], add_cols=[0], add_values=[9.0])
    assert W2.toarray()[0, 0] == 9.0 and remap.source[0] == -1


def test_contains_and_remap_identity():
    W = CSRMatrix.from_dense(np.array([[1.0, 0, 2], [0, 3, 0]]))
    assert list(W.contains([0, 0, 1, 1], [0, 1, 1, 2])) == [True, False, True, False]
    r = Remap.identity(3)
    assert np.array_equal(r.apply(np.array([1.0, 2, 3])), [1, 2, 3])
    with pytest.raises(ValueError, match="length"):
        r.apply(np.zeros(2))
