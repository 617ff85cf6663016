"""Initializers: statistics on large samples, per-entry fans, sparse and dense helpers."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sprig.initializers import (
    REGISTRY,
    He,
    HeNormal,
    HeUniform,
    Normal,
    PyTorch,
    Uniform,
    Xavier,
    XavierNormal,
    XavierNormalized,
    XavierUniform,
    Zero,
    init_dense,
    init_sparse_values,
)
from sprig.matrices import CSRMatrix

N = 200_000


def _expected(init, D, K):
    """(mean, variance, bound or None) of each initializer's distribution."""
    if isinstance(init, Xavier | PyTorch):
        b = 1 / math.sqrt(D)
        return 0.0, b * b / 3, b
    if isinstance(init, XavierNormalized):
        b = math.sqrt(6 / (D + K))
        return 0.0, b * b / 3, b
    if isinstance(init, XavierNormal):
        return 0.0, 2 / (D + K), None
    if isinstance(init, He):
        return 0.0, 2 / D, None
    if isinstance(init, HeUniform):
        b = math.sqrt(6 / D)
        return 0.0, b * b / 3, b
    if isinstance(init, Uniform):
        return (init.a + init.b) / 2, (init.b - init.a) ** 2 / 12, max(-init.a, init.b)
    if isinstance(init, Normal):
        return init.mean, init.std**2, None
    assert isinstance(init, Zero)
    return 0.0, 0.0, 0.0


INITS = [cls() for cls in REGISTRY.values()] + [Uniform(0.0, 2.0), Normal(1.5, 0.3)]


@pytest.mark.parametrize("init", INITS, ids=repr)
def test_mean_and_variance(init):
    D, K = 50, 30
    x = init.init(N, D, K, np.random.default_rng(0))
    assert x.dtype == np.float64 and x.shape == (N,)
    mean, var, bound = _expected(init, D, K)
    sd = math.sqrt(var)
    assert abs(x.mean() - mean) <= 5 * sd / math.sqrt(N) + 1e-15
    assert x.var() == pytest.approx(var, rel=0.02, abs=1e-15)
    if bound is not None:
        assert np.abs(x).max() <= bound
        if bound > 0:
            assert np.abs(x).max() > 0.99 * bound


@pytest.mark.parametrize("init", INITS, ids=repr)
def test_per_entry_fans(init):
    # Half the entries have fan-in 4, half 400: each half has its own distribution.
    rng = np.random.default_rng(1)
    fan_in = np.where(np.arange(N) % 2 == 0, 4.0, 400.0)
    fan_out = np.where(np.arange(N) % 2 == 0, 10.0, 20.0)
    x = init.init(N, fan_in, fan_out, rng)
    for half, D, K in ((0, 4, 10), (1, 400, 20)):
        _, var, _ = _expected(init, D, K)
        assert x[half::2].var() == pytest.approx(var, rel=0.03, abs=1e-15)


def test_aliases_draw_the_same_distribution():
    args = (1000, 20, 30)
    a = XavierNormalized().init(*args, np.random.default_rng(2))
    b = XavierUniform().init(*args, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        He().init(*args, np.random.default_rng(3)), HeNormal().init(*args, np.random.default_rng(3))
    )


def test_pytorch_matches_nn_linear_bounds():
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    torch.manual_seed(0)
    lin = torch.nn.Linear(100, 2000, dtype=torch.float64)
    tw, tb = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    rng = np.random.default_rng(4)
    w = init_dense((2000, 100), PyTorch(), rng, np.float64)
    b = PyTorch().bias(2000, 100, 2000, rng)
    for ours, theirs in ((w, tw), (b, tb)):
        assert np.abs(ours).max() <= 0.1 and np.abs(theirs).max() <= 0.1
        assert ours.var() == pytest.approx(theirs.var(), rel=0.1)
    for cls in REGISTRY.values():
        if cls is not PyTorch:
            np.testing.assert_array_equal(cls().bias(5, 3, 4, rng), np.zeros(5))


def test_init_dense():
    rng = np.random.default_rng(5)
    W = init_dense((300, 400), He(), rng)
    assert W.shape == (300, 400) and W.dtype == np.float32
    assert W.var() == pytest.approx(2 / 400, rel=0.02)
    W = init_dense((300, 400), XavierNormal(), rng, np.float64)
    assert W.dtype == np.float64 and W.var() == pytest.approx(2 / 700, rel=0.02)
    assert init_dense((0, 5), He(), rng).shape == (0, 5)
    with pytest.raises(ValueError, match="shape"):
        init_dense((3,), He(), rng)
    with pytest.raises(ValueError, match="dtype"):
        init_dense((3, 3), He(), rng, np.int32)


def test_init_sparse_values_dense_and_actual_fans():
    rng = np.random.default_rng(6)
    # Rows 0..99 get 10 entries each (cols 0..9), rows 100..199 get 100 (cols 0..99); rows
    # 200..209 stay empty.
    rows = np.concatenate([np.repeat(np.arange(100), 10), np.repeat(np.arange(100, 200), 100)])
    cols = np.concatenate([np.tile(np.arange(10), 100), np.tile(np.arange(100), 100)])
    W = CSRMatrix.from_coords((210, 1000), rows, cols, dtype=np.float32)
    dense = init_sparse_values(W, He(), rng)
    actual = init_sparse_values(W, He(), rng, fan_in="actual")
    assert dense.dtype == actual.dtype == np.float32 and dense.shape == (W.nnz,)
    few, many = W.row_of < 100, W.row_of >= 100
    assert dense[few].var() == pytest.approx(2 / 1000, rel=0.15)
    assert dense[many].var() == pytest.approx(2 / 1000, rel=0.05)
    assert actual[few].var() == pytest.approx(2 / 10, rel=0.15)
    assert actual[many].var() == pytest.approx(2 / 100, rel=0.05)
    # actual fan-out: column j < 10 has 200 entries, the others 100
    xn = init_sparse_values(W, XavierNormal(), rng, fan_in="actual")
    sel = many & (W.indices >= 10)
    assert xn[sel].var() == pytest.approx(2 / (100 + 100), rel=0.05)


@pytest.mark.parametrize("mode", ["dense", "actual"])
def test_init_sparse_values_empty(mode):
    rng = np.random.default_rng(7)
    for W in (CSRMatrix.random((4, 5), nnz=0, rng=rng), CSRMatrix.random((0, 5), nnz=0, rng=rng)):
        assert init_sparse_values(W, He(), rng, fan_in=mode).shape == (0,)
    W = CSRMatrix.random((4, 5), nnz=3, rng=rng, dtype=np.float64)
    v = init_sparse_values(W, Xavier(), rng, fan_in=mode)
    assert v.dtype == np.float64 and np.all(np.isfinite(v))
    W.with_data(v)


def test_bad_inputs_raise_naming_the_value():
    rng = np.random.default_rng(8)
    with pytest.raises(ValueError, match="fan_in"):
        He().init(3, 0, 4, rng)
    with pytest.raises(ValueError, match="fan_out"):
        XavierNormal().init(3, 2, -1, rng)
    with pytest.raises(ValueError, match="fan_in"):
        He().init(3, np.array([1.0, 0.0, 2.0]), 4, rng)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        He().init(3, np.ones(4), 4, rng)
    with pytest.raises(ValueError, match="n must be"):
        He().init(-1, 2, 2, rng)
    with pytest.raises(ValueError, match=r"a must be < b, got a=1\.0, b=1\.0"):
        Uniform(1.0, 1.0)
    with pytest.raises(ValueError, match="std"):
        Normal(0.0, -1.0)
    W = CSRMatrix.random((3, 3), nnz=2, rng=rng)
    with pytest.raises(ValueError, match="'sparse'"):
        init_sparse_values(W, He(), rng, fan_in="sparse")  # type: ignore[arg-type]


def test_registry_names():
    assert set(REGISTRY) == {
        "xavier",
        "xavier_normalized",
        "xavier_uniform",
        "xavier_normal",
        "he",
        "he_uniform",
        "he_normal",
        "uniform",
        "normal",
        "zero",
        "pytorch",
    }
    for name, cls in REGISTRY.items():
        assert cls.name == name and dataclasses.is_dataclass(cls)
        assert cls().init(0, 3, 3, np.random.default_rng(0)).shape == (0,)


def test_initializers_are_callable_like_init():
    for cls in REGISTRY.values():
        a = cls()(10, 4.0, 5.0, np.random.default_rng(9))
        b = cls().init(10, 4.0, 5.0, np.random.default_rng(9))
        np.testing.assert_array_equal(a, b)
