"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from sprig.matrices import CSRMatrix


@st.composite
def csr_matrices(draw, max_dim: int = 64, dtype=np.float64, min_dim: int = 1):
    """Random CSR matrices: shapes min_dim..max_dim, any density in [0, 1] (incl. nnz = 0,
    empty rows and columns)."""
    rows = draw(st.integers(min_dim, max_dim))
    cols = draw(st.integers(min_dim, max_dim))
    nnz = draw(st.integers(0, rows * cols))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return CSRMatrix.random(
        (rows, cols), nnz=nnz, rng=rng, dtype=dtype, values=lambda n, r: r.standard_normal(n)
    )
