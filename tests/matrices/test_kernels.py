"""Every sparse kernel equals its dense reference (float32 and float64, any density)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sprig.matrices import CSRMatrix
from sprig.matrices.kernels import balanced_blocks, gather_transpose
from strategies import csr_matrices

TOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(W=csr_matrices(max_dim=64), n=st.integers(1, 33), seed=st.integers(0, 2**31))
def test_products_equal_dense_reference(dtype, W, n, seed):
    W = W.astype(dtype)
    rng = np.random.default_rng(seed)
    K, D = W.shape
    Xt = rng.standard_normal((D, n)).astype(dtype)
    dYt = rng.standard_normal((K, n)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    A = W.toarray().astype(np.float64)
    tol = TOL[dtype] * max(1.0, np.sqrt(D + K))

    Y = W.matmul_fm(Xt, b)
    assert Y.dtype == dtype
    np.testing.assert_allclose(Y, A @ Xt + b[:, None], atol=tol * 10, rtol=tol)
    dX = W.rmatmul_fm(dYt)
    np.testing.assert_allclose(dX, A.T @ dYt, atol=tol * 10, rtol=tol)
    sums = np.empty(K, dtype)
    g = W.sampled_fm(dYt, Xt, row_sums=sums)
    np.testing.assert_allclose(sums, dYt.astype(np.float64).sum(axis=1), atol=tol * 10, rtol=tol)
    dense_grad = dYt.astype(np.float64) @ Xt.T.astype(np.float64)
    np.testing.assert_allclose(g, dense_grad[W.row_of, W.indices], atol=tol * 10, rtol=tol)


def test_backward_data_with_prefetched_values_equals_dense_reference():
    # more stored values than PREFETCH_BYTES: the permuted values are prefetched
    from sprig.matrices import kernels

    rng = np.random.default_rng(4)
    nnz = kernels.PREFETCH_BYTES // 4 + 1000
    W = CSRMatrix.random((700, 600), nnz=nnz, rng=rng, values=lambda n, r: r.standard_normal(n))
    W = W.astype(np.float32)
    dYt = rng.standard_normal((700, 3)).astype(np.float32)
    expected = W.toarray().astype(np.float64).T @ dYt
    np.testing.assert_allclose(W.rmatmul_fm(dYt), expected, rtol=1e-4, atol=1e-4)


def test_empty_matrix_and_no_bias():
    W = CSRMatrix.random((5, 7), nnz=0, rng=np.random.default_rng(0))
    Xt = np.ones((7, 3), np.float32)
    assert np.array_equal(W.matmul_fm(Xt), np.zeros((5, 3)))
    assert np.array_equal(W.rmatmul_fm(np.ones((5, 3), np.float32)), np.zeros((7, 3)))
    assert W.sampled_fm(np.ones((5, 3), np.float32), Xt).shape == (0,)


def test_outputs_can_be_reused_and_data_substituted():
    rng = np.random.default_rng(1)
    W = CSRMatrix.random((6, 9), nnz=20, rng=rng, values=lambda n, r: r.standard_normal(n))
    Xt = rng.standard_normal((9, 4)).astype(np.float32)
    out = np.full((6, 4), np.nan, np.float32)
    W.matmul_fm(Xt, out=out)
    np.testing.assert_allclose(out, W.toarray() @ Xt, rtol=1e-5, atol=1e-6)
    twice = W.data * 2
    np.testing.assert_allclose(W.matmul_fm(Xt, data=twice), 2 * out, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        W.matmul_fm(Xt, data=twice[:3])


def test_layout_and_dtype_checks():
    W = CSRMatrix.random((3, 4), nnz=5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape \\(4, N\\)"):
        W.matmul_fm(np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        W.matmul_fm(np.ones((4, 2), np.float64))
    with pytest.raises(ValueError, match="contiguous"):
        W.matmul_fm(np.ones((2, 4), np.float32).T)


@given(st.lists(st.integers(0, 50), min_size=1, max_size=200))
def test_balanced_blocks_cover_all_rows(counts):
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    b = balanced_blocks(indptr, 8)
    assert b[0] == 0 and b[-1] == len(counts)
    assert np.all(np.diff(b) > 0) and len(b) <= 9


def test_gather_transpose():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 130)).astype(np.float32)
    rows = rng.permutation(50)[:17]
    assert np.array_equal(gather_transpose(X, rows), X[rows].T)
    assert gather_transpose(X, rows).flags.c_contiguous
