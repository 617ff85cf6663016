"""The tiled (register-tile) transpose equals NumPy's: float32 and float64, any shape
(remainders of the 8 x 8 / 4 x 4 tiles), empty, rows of wider arrays, 1 or 2 threads."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sprig import runtime
from sprig.matrices.kernels_bm import SERIAL_ELEMENTS, TILE, transpose


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(n=st.integers(0, 3 * TILE + 5), d=st.integers(0, 3 * TILE + 5), seed=st.integers(0, 99))
def test_transpose_equals_numpy(dtype, n, d, seed):
    X = np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)
    T = transpose(X)
    assert T.dtype == dtype and T.shape == (d, n) and T.flags.c_contiguous
    assert np.array_equal(T, X.T)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(100, 3072), (2048, 64), (3, SERIAL_ELEMENTS)])
def test_parallel_transpose_and_thread_count(dtype, shape):
    X = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    before = runtime.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            runtime.set_num_threads(threads)  # capped at the NUMBA_NUM_THREADS ceiling
            results.append(transpose(X))
    finally:
        runtime.set_num_threads(before)
    assert np.array_equal(results[0], X.T) and np.array_equal(results[1], X.T)


def test_column_slices_in_and_out():
    rng = np.random.default_rng(1)
    wide = rng.standard_normal((40, 50))
    X = wide[:, :37]  # rows contiguous, not C-contiguous
    buf = np.full((37, 45), np.nan)
    out = transpose(X, buf[:, :40])
    assert out.base is buf or out.base is buf.base
    assert np.array_equal(buf[:, :40], X.T) and np.isnan(buf[:, 40:]).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="contiguous rows"):
        transpose(np.ones((4, 6))[:, ::2])
    with pytest.raises(ValueError, match="float32 or float64"):
        transpose(np.ones((4, 6), np.int64))
    with pytest.raises(ValueError, match="2-D"):
        transpose(np.ones(5))
    with pytest.raises(ValueError, match="shape"):
        transpose(np.ones((4, 6)), np.empty((4, 6)))
    with pytest.raises(ValueError, match="float32"):
        transpose(np.ones((4, 6), np.float64), np.empty((6, 4), np.float32))
