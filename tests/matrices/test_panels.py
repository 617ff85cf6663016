"""The large-matrix layouts against the plain ones: column/row panels, fused ReLU, the CSC
counting sort, the fast random pattern and the parallel row check."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sprig.matrices import CSRMatrix, kernels, sampling
from strategies import csr_matrices


def _data(W, n, seed, dtype):
    rng = np.random.default_rng(seed)
    Xt = rng.standard_normal((W.shape[1], n)).astype(dtype)
    dYt = rng.standard_normal((W.shape[0], n)).astype(dtype)
    b = rng.standard_normal(W.shape[0]).astype(dtype)
    return Xt, dYt, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(
    W=csr_matrices(max_dim=40),
    n=st.integers(1, 9),
    seed=st.integers(0, 2**31),
    panel_bytes=st.integers(1, 400),
)
@settings(max_examples=40)
def test_panelled_products_equal_whole_rows(dtype, W, n, seed, panel_bytes):
    W = W.astype(dtype)
    Xt, dYt, b = _data(W, n, seed, dtype)
    whole = (W.matmul_fm(Xt, b), W.rmatmul_fm(dYt), W.sampled_fm(dYt, Xt))
    old = kernels.PANEL_BYTES, kernels.SERIAL_WORK
    try:
        kernels.PANEL_BYTES, kernels.SERIAL_WORK = panel_bytes, 0  # many panels, parallel path
        W2 = W.copy()
        paneled = (W2.matmul_fm(Xt, b), W2.rmatmul_fm(dYt), W2.sampled_fm(dYt, Xt))
    finally:
        kernels.PANEL_BYTES, kernels.SERIAL_WORK = old
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, c in zip(whole, paneled, strict=True):
        np.testing.assert_allclose(c, a, rtol=tol, atol=tol * 10)


def test_panels_split_rows_into_contiguous_ranges():
    W = CSRMatrix.random((30, 50), nnz=400, rng=np.random.default_rng(0))
    s = W.panels(4)
    assert s.shape == (5, 30)
    assert np.array_equal(s[0], W.indptr[:-1]) and np.array_equal(s[-1], W.indptr[1:])
    bounds = np.linspace(0, 50, 5).astype(int)
    for p in range(4):
        for i in range(30):
            cols = W.indices[s[p, i] : s[p + 1, i]]
            assert np.all((cols >= bounds[p]) & (cols < bounds[p + 1]))
    t = W.panels(3, transposed=True)
    col_ptr = W.csc[0]
    assert np.array_equal(t[0], col_ptr[:-1]) and np.array_equal(t[-1], col_ptr[1:])
    assert W.panels(4) is s  # cached


@pytest.mark.parametrize("serial", [True, False])
def test_fused_relu_and_mask_equal_separate_steps(serial):
    rng = np.random.default_rng(3)
    W = CSRMatrix.random((40, 30), nnz=300, rng=rng, values=lambda n, r: r.standard_normal(n))
    Xt, dYt, b = _data(W, 7, 4, np.float32)
    old = kernels.SERIAL_WORK
    kernels.SERIAL_WORK = 1 << 30 if serial else 0
    try:
        Z = W.matmul_fm(Xt, b)
        Y = W.matmul_fm(Xt, b, relu=True)
        np.testing.assert_array_equal(Y, np.maximum(Z, 0))
        dZ = dYt * (Z > 0)
        sums = np.empty(40, np.float32)
        g = W.sampled_fm(dYt, Xt, row_sums=sums, mask=Y)
    finally:
        kernels.SERIAL_WORK = old
    np.testing.assert_array_equal(dYt, dZ)  # masked in place
    np.testing.assert_allclose(sums, dZ.sum(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g, W.sampled_fm(dZ, Xt), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="mask"):
        W.sampled_fm(dYt, Xt, mask=Y[:, :3].copy())


@given(W=csr_matrices(max_dim=30))
def test_csc_counting_sort_equals_stable_argsort(W):
    col_ptr, row_idx, perm, _ = W.csc
    ref = np.argsort(W.indices, kind="stable")
    assert np.array_equal(perm, ref)
    assert np.array_equal(row_idx, W.row_of[ref])
    assert np.array_equal(
        col_ptr, np.concatenate([[0], np.cumsum(np.bincount(W.indices, minlength=W.shape[1]))])
    )


@given(
    rows=st.integers(1, 40),
    cols=st.integers(1, 40),
    frac=st.floats(0, 0.5),
    seed=st.integers(0, 2**31),
)
def test_random_pattern_is_canonical_and_exact(rows, cols, frac, seed):
    nnz = int(frac * rows * cols)
    ip, ix = sampling.random_pattern(rows, cols, nnz, np.random.default_rng(seed))
    W = CSRMatrix((rows, cols), ip, ix, np.zeros(nnz, np.float32))  # validates canonical form
    assert W.nnz == nnz
    assert sampling.check_rows(ip, ix, cols) == 0


def test_random_pattern_is_uniform():
    # every position of a 4x5 matrix is picked with probability nnz/size (chi-square style)
    rng = np.random.default_rng(0)
    counts = np.zeros(20)
    trials = 4000
    for _ in range(trials):
        ip, ix = sampling.random_pattern(4, 5, 6, rng)
        rows = np.repeat(np.arange(4), np.diff(ip))
        counts[rows * 5 + ix] += 1
    expected = trials * 6 / 20
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    with pytest.raises(ValueError, match="nnz"):
        sampling.random_pattern(2, 2, 3, rng)


def test_large_random_uses_fast_pattern_and_row_check(monkeypatch):
    monkeypatch.setattr(sampling, "LARGE_NNZ", 10)
    W = CSRMatrix.random((50, 60), nnz=100, rng=np.random.default_rng(1))
    assert W.nnz == 100 and sampling.check_rows(W.indptr, W.indices, 60) == 0
    with pytest.raises(ValueError, match="sorted and unique"):
        CSRMatrix((50, 60), W.indptr, W.indices[::-1].copy(), W.data)
    bad = W.indices.copy()
    bad[5] = 60
    with pytest.raises(ValueError, match="must lie in"):
        CSRMatrix((50, 60), W.indptr, bad, W.data)


def test_check_rows_codes():
    ip = np.array([0, 2, 3], np.int64)
    assert sampling.check_rows(ip, np.array([0, 2, 1], np.int32), 3) == 0
    assert sampling.check_rows(ip, np.array([2, 0, 1], np.int32), 3) == 3
    assert sampling.check_rows(ip, np.array([0, 3, 1], np.int32), 3) == 2
    assert sampling.check_rows(np.array([0, 2, 1, 3]), np.array([0, 1, 2], np.int32), 3) == 1
