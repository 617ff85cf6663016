"""The fused backward pass (``CSRMatrix.backward_fm`` / ``kernels.backward``) equals its dense
reference and the two separate products (SDDMM + backward-data) it replaces."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sprig
import sprig.runtime
from sprig.matrices import CSRMatrix, kernels
from strategies import csr_matrices

TOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(
    W=csr_matrices(max_dim=64),
    n=st.integers(1, 33),
    seed=st.integers(0, 2**31),
    relu=st.booleans(),
    data=st.booleans(),
)
def test_fused_backward_equals_dense_reference_and_separate_products(dtype, W, n, seed, relu, data):
    W = W.astype(dtype)
    rng = np.random.default_rng(seed)
    K, D = W.shape
    Xt = rng.standard_normal((D, n)).astype(dtype)
    dYt = rng.standard_normal((K, n)).astype(dtype)
    mask = rng.standard_normal((K, n)).astype(dtype) if relu else None
    vals = rng.standard_normal(W.nnz).astype(dtype) if data else None
    A = (W if vals is None else W.with_data(vals)).toarray().astype(np.float64)
    dZ = dYt.astype(np.float64) * (mask > 0 if relu else 1.0)
    tol = TOL[dtype] * max(1.0, np.sqrt(D + K + n))

    sums = np.empty(K, dtype)
    d1 = dYt.copy()
    g, dX = W.backward_fm(d1, Xt, data=vals, row_sums=sums, mask=mask)
    assert g.dtype == dtype and dX.dtype == dtype and dX.shape == (D, n) and g.shape == (W.nnz,)
    np.testing.assert_allclose(g, (dZ @ Xt.T)[W.row_of, W.indices], atol=tol * 10, rtol=tol)
    np.testing.assert_allclose(dX, A.T @ dZ, atol=tol * 10, rtol=tol)
    np.testing.assert_allclose(sums, dZ.sum(axis=1), atol=tol * 10, rtol=tol)
    if relu:  # the ReLU derivative is applied to dYt in place, as in sampled_fm
        np.testing.assert_array_equal(d1, np.where(mask > 0, dYt, 0))

    # the separate products: the same input gradient bit for bit, the weight gradient and the
    # row sums to rounding (another summation order)
    d2 = dYt.copy()
    sums2 = np.empty(K, dtype)
    g2 = W.sampled_fm(d2, Xt, row_sums=sums2, mask=mask)
    dX2 = W.rmatmul_fm(d2, data=vals)
    np.testing.assert_array_equal(dX, dX2)
    np.testing.assert_allclose(g, g2, atol=tol * 10, rtol=tol)
    np.testing.assert_array_equal(sums, sums2)


@pytest.mark.parametrize("threads", [1, 2])
def test_fused_backward_parallel_path_is_independent_of_threads(threads):
    # above SERIAL_WORK (parallel driver) and above PREFETCH_BYTES (prefetching); the result
    # must not depend on the thread count (each output element: one thread, fixed order)
    rng = np.random.default_rng(7)
    W = CSRMatrix.random((900, 700), nnz=150_000, rng=rng, dtype=np.float32)
    W.data[:] = rng.standard_normal(W.nnz).astype(np.float32)
    Xt = rng.standard_normal((700, 9)).astype(np.float32)
    dYt = rng.standard_normal((900, 9)).astype(np.float32)
    mask = rng.standard_normal((900, 9)).astype(np.float32)
    assert W.nnz * 9 >= kernels.SERIAL_WORK and W.nnz * 4 > kernels.PREFETCH_BYTES
    old = sprig.runtime.get_num_threads()
    try:
        sprig.set_num_threads(1)
        ref = W.backward_fm(dYt.copy(), Xt, row_sums=np.empty(900, np.float32), mask=mask)
        sprig.set_num_threads(threads)
        sums = np.empty(900, np.float32)
        got = W.backward_fm(dYt.copy(), Xt, row_sums=sums, mask=mask)
    finally:
        sprig.set_num_threads(old)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    dZ = np.where(mask > 0, dYt, 0).astype(np.float64)
    A = W.toarray().astype(np.float64)
    np.testing.assert_allclose(got[1], A.T @ dZ, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[0], (dZ @ Xt.T)[W.row_of, W.indices], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sums, dZ.sum(axis=1), rtol=1e-4, atol=1e-4)


def test_fused_backward_empty_matrix_and_panels_fallback(monkeypatch):
    W = CSRMatrix.random((5, 7), nnz=0, rng=np.random.default_rng(0))
    g, dX = W.backward_fm(np.ones((5, 3), np.float32), np.ones((7, 3), np.float32))
    assert g.shape == (0,) and np.array_equal(dX, np.zeros((7, 3)))
    # when a product would run by panels, the two panelled products are used instead
    rng = np.random.default_rng(1)
    W = CSRMatrix.random((40, 50), nnz=300, rng=rng, dtype=np.float64)
    Xt, dYt = rng.standard_normal((50, 4)), rng.standard_normal((40, 4))
    ref = W.backward_fm(dYt, Xt)
    monkeypatch.setattr(kernels, "PANEL_BYTES", 64)
    g, dX = W.backward_fm(dYt, Xt)
    np.testing.assert_allclose(g, ref[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dX, ref[1], rtol=1e-12, atol=1e-12)


def test_fused_backward_rejects_bad_operands():
    W = CSRMatrix.random((4, 6), nnz=10, rng=np.random.default_rng(0), dtype=np.float32)
    Xt, dYt = np.ones((6, 3), np.float32), np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="dYt must have shape"):
        W.backward_fm(np.ones((5, 3), np.float32), Xt)
    with pytest.raises(ValueError, match="batch sizes differ"):
        W.backward_fm(np.ones((4, 2), np.float32), Xt)
    with pytest.raises(ValueError, match="row_sums must have shape"):
        W.backward_fm(dYt, Xt, row_sums=np.empty(3, np.float32))
    with pytest.raises(ValueError, match="mask"):
        W.backward_fm(dYt, Xt, mask=np.ones((4, 2), np.float32))
