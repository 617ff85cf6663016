"""Array type aliases shared by the whole package.

sprig's internal layout is *feature-major*: a batch of activations is an array of shape
``(features, N)``, C-contiguous, so one feature's values over the batch are contiguous (see
``sprig.matrices.kernels`` for why). Public entry points (``MLP.predict``, ``fit``, the
estimator) take batch-first ``(N, features)`` arrays and transpose once at the boundary.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

FloatArray: TypeAlias = NDArray[np.floating[Any]]
IntArray: TypeAlias = NDArray[np.integer[Any]]
BoolArray: TypeAlias = NDArray[np.bool_]

#: Index dtype of CSR column indices (measured faster than int64 and accepted by SciPy/torch).
INDEX_DTYPE = np.int32
#: Row-pointer dtype: int64 so nnz may exceed 2**31 on very large layers.
INDPTR_DTYPE = np.int64
#: Supported value dtypes.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_dtype(dtype: Any) -> np.dtype[Any]:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise ``ValueError``."""
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt
