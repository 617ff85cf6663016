"""Sets of flat positions (``row · cols + col``, int64) as sorted arrays.

``np.unique``/``np.union1d`` use a hash table in NumPy 2 that was measured 10x slower than a
sort plus a neighbour comparison on the key sets of topology updates (1.3M keys: 1.2 s vs
86 ms), so DST code uses these instead.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..typing import IntArray


def unique_sorted(keys: IntArray) -> NDArray[np.int64]:
    """Sorted distinct values of ``keys`` (int64)."""
    x = np.sort(np.asarray(keys, dtype=np.int64).reshape(-1))
    if x.size < 2:
        return x
    keep = np.empty(x.size, dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def union_sorted(a: IntArray, b: IntArray) -> NDArray[np.int64]:
    """Sorted distinct values of ``a ∪ b``."""
    return unique_sorted(
        np.concatenate([np.asarray(a, np.int64).reshape(-1), np.asarray(b, np.int64).reshape(-1)])
    )
