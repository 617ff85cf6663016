"""Per-layer density rules: worked values, errors and properties."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sprig.sparsity import density as dens
from sprig.sparsity.density import (
    erdos_renyi,
    erk,
    layer_nnz,
    set_epsilon,
    shapes_from_sizes,
    uniform,
)


def test_doctests() -> None:
    assert doctest.testmod(dens).failed == 0


def test_nerva_worked_values() -> None:
    shapes = shapes_from_sizes([3072, 1024, 1024, 10])
    d = erk(shapes, 0.05)
    assert layer_nnz(shapes, d) == [133325, 66662, 10240]
    np.testing.assert_allclose(d, [0.0423828, 0.0635742, 1.0], atol=5e-8)
    d2 = erk(shapes_from_sizes([3072, 1024, 512, 10]), 0.05)
    np.testing.assert_allclose(d2, [0.0412997, 0.0929244, 1.0], atol=5e-8)
    assert erdos_renyi(shapes, 0.05) == d


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan"), float("inf")])
@pytest.mark.parametrize("rule", [uniform, erk, erdos_renyi])
def test_bad_density_names_value(rule, bad) -> None:
    with pytest.raises(ValueError, match=repr(bad).replace("(", r"\(")):
        rule([(4, 4)], bad)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        set_epsilon([(4, 4)], 0)
    with pytest.raises(ValueError, match="unknown density rule 'foo'"):
        dens.densities("foo", [(4, 4)], 0.5)
    with pytest.raises(ValueError, match="positive integers"):
        uniform([(0, 4)], 0.5)
    with pytest.raises(ValueError, match="2 densities for 1 layers"):
        layer_nnz([(4, 4)], [0.5, 0.5])


def test_full_density_is_dense() -> None:
    assert erk([(5, 7), (3, 5)], 1.0) == [1.0, 1.0]


def test_set_epsilon() -> None:
    assert set_epsilon([(1000, 784), (10, 10)], 20) == [20 * 1784 / 784000, 1.0]


shape_lists = st.lists(st.tuples(st.integers(1, 300), st.integers(1, 300)), min_size=1, max_size=5)


@given(shape_lists, st.floats(0.001, 1.0))
def test_properties(shapes, d) -> None:
    total = sum(r * c for r, c in shapes)
    for rule in (uniform, erk):
        ds = rule(shapes, d)
        assert len(ds) == len(shapes)
        assert all(0.0 < x <= 1.0 for x in ds)
        nnz = layer_nnz(shapes, ds)
        # Exact up to per-layer rounding (and the nnz >= 1 floor of tiny densities).
        assert abs(sum(nnz) - d * total) <= len(shapes) + 1e-6 * total
    # Dense layers of ERK are the ones with the largest raw score.
    ds = erk(shapes, d)
    raw = [(r + c) / (r * c) for r, c in shapes]
    for x, p in zip(ds, raw, strict=True):
        if x == 1.0:
            assert all(p >= q or y == 1.0 for q, y in zip(raw, ds, strict=True))
