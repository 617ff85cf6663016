"""Prune and grow criteria: counts, uniqueness, exclusion, RigL streaming == dense top-k."""

from __future__ import annotations

import doctest
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sprig.matrices import CSRMatrix
from sprig.sparsity import grow as G
from sprig.sparsity import prune as P
from sprig.sparsity.info import GradientSample, LayerInfo, momentum_of


def test_doctests() -> None:
    for mod in (G, P):
        assert doctest.testmod(mod).failed == 0


@st.composite
def matrices(draw, max_side=12):
    rows = draw(st.integers(1, max_side))
    cols = draw(st.integers(1, max_side))
    nnz = draw(st.integers(0, rows * cols))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    W = CSRMatrix.random(
        (rows, cols),
        nnz=nnz,
        rng=rng,
        dtype=np.float64,
        values=lambda n, r: np.round(r.standard_normal(n), 1),  # ties and zeros on purpose
    )
    return W, rng


def _info(W, rng, n=5):
    return LayerInfo(
        grad=rng.standard_normal(W.nnz),
        momentum=rng.standard_normal(W.nnz),
        sample=GradientSample(
            rng.standard_normal((W.shape[1], n)), rng.standard_normal((W.shape[0], n))
        ),
    )


def _valid_positions(pos, nnz):
    assert pos.dtype == np.int64
    assert np.all(np.diff(pos) > 0)
    assert pos.size == 0 or (pos[0] >= 0 and pos[-1] < nnz)


@given(matrices(), st.floats(0, 1))
def test_prune_criteria(Wr, frac) -> None:
    W, rng = Wr
    k = int(frac * W.nnz)
    info = _info(W, rng)
    a = np.abs(W.data)
    for crit in (P.magnitude, P.random, P.sensitivity, P.mest(0.5), P.soft_magnitude(2.0)):
        pos = crit(W, k, rng, info)
        _valid_positions(pos, W.nnz)
        assert pos.size == k
    mag = P.magnitude(W, k)
    if 0 < k < W.nnz:  # every dropped |w| <= every kept |w|
        kept = np.setdiff1d(np.arange(W.nnz), mag)
        assert a[mag].max() <= a[kept].min()
    assert np.array_equal(mag, P.magnitude(W, k))  # deterministic
    thr = P.threshold(0.3)(W, 0, rng)
    assert np.array_equal(thr, np.flatnonzero(a <= 0.3))
    # SET: positive and negative separately.
    s = P.set_prune(W, frac)
    _valid_positions(s, W.nnz)
    npos, nneg = int((W.data > 0).sum()), int((W.data < 0).sum())
    assert int((W.data[s] > 0).sum()) == int(np.floor(frac * npos + 0.5))
    assert int((W.data[s] < 0).sum()) == int(np.floor(frac * nneg + 0.5))
    assert np.array_equal(np.sort(s[W.data[s] == 0]), np.flatnonzero(W.data == 0))  # zeros go


def test_magnitude_ties_smaller_position_first() -> None:
    W = CSRMatrix.from_dense(np.array([[1.0, 1.0, 1.0, 0.5]]))
    assert P.magnitude(W, 2).tolist() == [0, 3]


def test_soft_magnitude_prefers_small_and_drops_zeros() -> None:
    rng = np.random.default_rng(0)
    data = np.concatenate([np.full(50, 0.01), np.full(50, 10.0)])
    W = CSRMatrix.from_coords((1, 100), np.zeros(100), np.arange(100), data, dtype=np.float64)
    pos = P.soft_magnitude(1.0)(W, 50, rng)
    assert (pos < 50).mean() > 0.9
    W0 = W.with_data(np.where(np.arange(100) < 3, 0.0, data))
    assert set(P.soft_magnitude(1.0)(W0, 3, rng).tolist()) == {0, 1, 2}


def test_prune_errors() -> None:
    W = CSRMatrix.from_dense(np.eye(3))
    with pytest.raises(ValueError, match=r"in \[0, 3\], got 4"):
        P.magnitude(W, 4)
    with pytest.raises(ValueError, match=r"info\.grad"):
        P.sensitivity(W, 1, None, LayerInfo())
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        P.mest()(W, 1, None, LayerInfo(grad=np.zeros(2)))


@given(matrices(), st.integers(0, 200), st.booleans())
def test_grow_criteria(Wr, k, use_exclude) -> None:
    W, rng = Wr
    size = W.shape[0] * W.shape[1]
    exclude = rng.choice(size, size=min(3, size), replace=False) if use_exclude else None
    forbidden = np.union1d(W.keys, exclude if exclude is not None else [])
    free = size - forbidden.size
    info = _info(W, rng)
    for crit in (G.random_grow, G.gradient_grow, G.sampled_gradient_grow, G.momentum_grow):
        r, c = crit(W, k, rng, info, exclude=exclude)
        keys = r * W.shape[1] + c
        assert keys.size == min(k, free)  # exact count, or every free position
        assert np.all(np.diff(keys) > 0)  # sorted, no duplicates
        assert not np.isin(keys, forbidden).any()
        assert r.size == 0 or (r.max() < W.shape[0] and c.max() < W.shape[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (7, 300), (64, 33), (200, 50)])
def test_rigl_streamed_equals_dense_topk(shape, dtype) -> None:
    rng = np.random.default_rng(1)
    W = CSRMatrix.random(shape, density=0.2, rng=rng, dtype=dtype)
    Xt = rng.standard_normal((shape[1], 9)).astype(dtype)
    dYt = rng.standard_normal((shape[0], 9)).astype(dtype)
    info = LayerInfo(sample=GradientSample(Xt, dYt))
    dense = np.abs(dYt.astype(np.float64) @ Xt.T.astype(np.float64)).reshape(-1)
    dense[W.keys] = -1
    k = min(40, dense.size - W.nnz)
    ref = np.sort(np.argsort(-dense, kind="stable")[:k])
    for block in (1, 3 * shape[1] * np.dtype(dtype).itemsize, 1 << 24):
        r, c = G.gradient_grow(W, k, None, info, block_bytes=block)
        assert np.array_equal(r * shape[1] + c, ref)


def test_rigl_memory_small() -> None:
    """Peak extra memory of streamed RigL stays far below the dense gradient's size."""
    rng = np.random.default_rng(0)
    n = 4096
    W = CSRMatrix.random((n, n), density=0.01, rng=rng)
    info = LayerInfo(
        sample=GradientSample(
            rng.standard_normal((n, 32), dtype=np.float32),
            rng.standard_normal((n, 32), dtype=np.float32),
        )
    )
    _ = W.keys
    tracemalloc.start()
    G.gradient_grow(W, W.nnz // 3, None, info, block_bytes=1 << 20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.1 * n * n * 4, peak


@pytest.mark.parametrize("limit", [10**9, 10])
@pytest.mark.parametrize("chunk", [5, 37, 1 << 22])
def test_sampled_gradient_by_row_blocks(monkeypatch, chunk, limit) -> None:
    """Above ``CANDIDATE_CHUNK`` candidates, sampled growth draws and scores them by row
    blocks: with every free position a candidate it is exact RigL; otherwise an exact count
    of distinct free positions, reproducible from the seed, spread over all row blocks."""
    monkeypatch.setattr(G, "CANDIDATE_CHUNK", chunk)
    monkeypatch.setattr(G, "HYPERGEOMETRIC_LIMIT", limit)  # 10: the multinomial counts
    rng = np.random.default_rng(3)
    W = CSRMatrix.random((40, 30), density=0.2, rng=rng, dtype=np.float64)
    exclude = np.array([1, 2, 95, 1199])
    info = _info(W, rng)
    k = 25
    ref = G.gradient_grow(W, k, None, info, exclude=exclude)
    every = G.sampled_gradient_grow(W, k, rng, info, exclude=exclude, candidates=1000)
    if limit > 10:  # exact counts: every free position is a candidate
        assert np.array_equal(ref[0], every[0]) and np.array_equal(ref[1], every[1])
    forbidden = np.union1d(W.keys, exclude)
    a = G.sampled_gradient_grow(W, k, np.random.default_rng(9), info, exclude=exclude, candidates=2)
    b = G.sampled_gradient_grow(W, k, np.random.default_rng(9), info, exclude=exclude, candidates=2)
    keys = a[0] * 30 + a[1]
    assert keys.size == k and np.all(np.diff(keys) > 0) and not np.isin(keys, forbidden).any()
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    # uniform candidates: with c = 1 (random growth) every row block gets its share
    rows = np.concatenate(
        [
            G.sampled_gradient_grow(W, 200, np.random.default_rng(s), info, candidates=1)[0]
            for s in range(20)
        ]
    )
    per_half = np.bincount(rows >= 20, minlength=2)
    assert abs(per_half[0] - per_half[1]) < 0.15 * rows.size


def test_random_grow_uniform_and_nearly_full() -> None:
    rng = np.random.default_rng(0)
    W = CSRMatrix.from_dense(np.eye(4))
    counts = np.zeros(16)
    for _ in range(600):
        r, c = G.random_grow(W, 3, rng)
        counts[r * 4 + c] += 1
    free = counts[~np.eye(4, dtype=bool).reshape(-1)]
    assert counts[np.eye(4, dtype=bool).reshape(-1)].sum() == 0
    assert free.min() > 100 and free.max() < 200  # expectation 150
    full = CSRMatrix.from_dense(np.ones((3, 3)))
    assert G.random_grow(full, 5, rng)[0].size == 0
    # Large sparse layer: rejection path, exact count.
    big = CSRMatrix.random((3000, 3000), density=0.01, rng=rng)
    r, c = G.random_grow(big, 50_000, rng, exclude=big.keys[:10] + 1)
    assert r.size == 50_000 and not big.contains(r, c).any()


def test_snfs_redistribute() -> None:
    out = G.snfs_redistribute(10, [0.0, 0.0], [3, 100])
    assert sum(out) == 10 and out[0] <= 3
    assert G.snfs_redistribute(1000, [1.0, 2.0], [5, 7]) == [5, 7]
    assert G.snfs_redistribute(7, [1.0, 0.0], [3, 10]) == [3, 4]


@given(
    st.integers(0, 500),
    st.lists(st.tuples(st.floats(0, 10), st.integers(0, 100)), min_size=1, max_size=6),
)
def test_snfs_redistribute_properties(total, layers) -> None:
    m = [x for x, _ in layers]
    cap = [c for _, c in layers]
    out = G.snfs_redistribute(total, m, cap)
    assert sum(out) == min(total, sum(cap))
    assert all(0 <= o <= c for o, c in zip(out, cap, strict=True))


def test_momentum_of() -> None:
    class AdamLike:
        m = np.array([1.0, -2.0])
        v = np.array([1.0, 4.0])

    class Mom:
        delta = np.array([3.0])

    np.testing.assert_allclose(momentum_of(AdamLike()), [1.0, -1.0], rtol=1e-6)
    assert momentum_of(Mom()).tolist() == [3.0]
    assert momentum_of(object()) is None
