"""Sorted key-set helpers equal NumPy's set routines."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sprig.matrices.keysets import union_sorted, unique_sorted

keys = st.lists(st.integers(0, 2**40), max_size=200)


@given(keys, keys)
def test_union_and_unique_equal_numpy(a, b):
    a, b = np.array(a, np.int64), np.array(b, np.int64)
    np.testing.assert_array_equal(union_sorted(a, b), np.union1d(a, b))
    np.testing.assert_array_equal(unique_sorted(a), np.unique(a))
    assert union_sorted(a, b).dtype == np.int64
