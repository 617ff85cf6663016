"""Gradient clipping against torch.nn.utils and by hand."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import sprig.clipping
from sprig.clipping import clip_grad_norm, clip_grad_value, global_norm
from sprig.errors import DivergenceError


def test_doctests():
    assert doctest.testmod(sprig.clipping, raise_on_error=False).failed == 0


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=7), rng.normal(size=0)]
    params = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.tensor(g)
    expected = torch.nn.utils.clip_grad_norm_(params, max_norm)
    norm = clip_grad_norm(grads, max_norm)
    assert isinstance(norm, float)
    assert norm == pytest.approx(float(expected), rel=1e-12)
    for p, g in zip(params, grads, strict=True):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_in_place_float32_and_no_op_below():
    g = np.array([3.0, 4.0], dtype=np.float32)
    buf = g
    assert clip_grad_norm([g], 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(g, [3.0, 4.0])
    clip_grad_norm([g], 1.0)
    assert g is buf and g.dtype == np.float32
    assert global_norm([g]) == pytest.approx(1.0, rel=1e-5)


def test_sparse_grads_norm_equals_masked_dense_norm():
    rng = np.random.default_rng(1)
    dense = rng.normal(size=(5, 6))
    mask = rng.random((5, 6)) < 0.3
    assert global_norm([dense[mask]]) == pytest.approx(np.linalg.norm(dense * mask))


def test_non_finite_norm():
    g = np.array([np.inf, 1.0])
    with np.errstate(all="ignore"):
        assert clip_grad_norm([g], 1.0) == np.inf
        np.testing.assert_array_equal(g, [np.inf, 1.0])
        with pytest.raises(DivergenceError, match="inf"):
            clip_grad_norm([g], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    g = np.linspace(-3, 3, 13)
    t = torch.tensor(g)
    p = torch.nn.Parameter(torch.zeros(13, dtype=torch.float64))
    p.grad = t.clone()
    torch.nn.utils.clip_grad_value_([p], 1.5)
    clip_grad_value([g], 1.5)
    np.testing.assert_array_equal(g, p.grad.numpy())


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_thresholds_raise_naming_the_value(bad):
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([np.ones(2)], bad)
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value([np.ones(2)], bad)
