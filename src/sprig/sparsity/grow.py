r"""Grow criteria: which non-stored positions of a sparse weight to add.

A grow criterion is a callable ``(W, k, rng, info, *, exclude=None) -> (rows, cols)``: int64
coordinates of at most ``k`` distinct positions that are **not** stored in ``W`` and not in
``exclude`` (flat row-major keys ``row · cols + col``, e.g. the keys of the entries just
pruned, so they cannot be re-grown in the same update). Exactly ``k`` positions are returned
unless fewer than ``k`` positions are free, in which case all free positions are returned.
Coordinates come sorted by flat key. Each criterion declares the :class:`LayerInfo` fields it
reads in its ``needs`` attribute. New values are not chosen here (zero by default; see
``DSTAlgorithm.new_values``).

None of the criteria materialises anything of the dense size ``out × in``:

* :func:`random_grow` — uniform, rejection sampling of flat keys, ``O(k log(nnz + k))``;
* :func:`gradient_grow` — RigL's exact top-k of ``|dW|`` over free positions, streamed in row
  blocks of ``dW = dYt Xtᵀ``: time ``O(out · in · N)`` (the dense product, unavoidable for the
  exact criterion), memory ``O(nnz + k + block)``;
* :func:`sampled_gradient_grow` — top-k of ``|dW|`` over ``c·k`` random free candidates scored
  by an SDDMM, ``O(N c k)`` time and memory;
* :func:`momentum_grow` — SNFS's growth in its truly sparse form (see its docstring);
  :func:`snfs_redistribute` splits a total regrowth count across layers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..matrices import CSRMatrix
from ..matrices.keysets import union_sorted, unique_sorted
from ..specs.registry import GROW, POSITIVE_INT, Optional, Param
from ..typing import IntArray
from .info import GRADIENT_SAMPLE, GradientSample, LayerInfo, declare, needs_of


def _with_options(factory: Any, **options: Any) -> Any:
    """Builder of a registered grow criterion: the function, its options bound if any given
    (keeping its declared needs)."""
    if not options:
        return factory
    return declare(functools.partial(factory, **options), needs=needs_of(factory))


__all__ = [
    "GROW_CRITERIA",
    "GrowCriterion",
    "gradient_grow",
    "momentum_grow",
    "random_grow",
    "sample_free_keys",
    "sampled_gradient_grow",
    "snfs_redistribute",
]

Coords = tuple[IntArray, IntArray]

#: Default memory budget of the streamed gradient blocks in :func:`gradient_grow`.
BLOCK_BYTES = 32 * 2**20
#: Bytes per block element counted against ``block_bytes``: the value, the candidate index
#: (int64), its key and ``argpartition``'s index in the running merge (int64 each).
_BYTES_PER_ELEMENT = 32


class GrowCriterion(Protocol):
    """``(W, k, rng, info, *, exclude=None) -> (rows, cols)`` of new free positions."""

    def __call__(
        self,
        W: CSRMatrix,
        k: int,
        rng: np.random.Generator,
        info: LayerInfo | None = None,
        *,
        exclude: Any = None,
    ) -> Coords: ...


# --------------------------------------------------------------------------- helpers
def _forbidden(W: CSRMatrix, exclude: Any) -> IntArray:
    """Sorted unique flat keys that may not be grown: stored ∪ excluded."""
    if exclude is None or np.size(exclude) == 0:
        return W.keys
    ex = unique_sorted(exclude)
    size = W.shape[0] * W.shape[1]
    if ex.size and (ex[0] < 0 or ex[-1] >= size):
        raise ValueError(f"excluded keys must lie in [0, {size})")
    return union_sorted(W.keys, ex)


def _isin_sorted(keys: IntArray, sorted_set: IntArray) -> Any:
    if sorted_set.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, keys), sorted_set.size - 1)
    return sorted_set[pos] == keys


def _to_coords(W: CSRMatrix, keys: IntArray) -> Coords:
    keys = np.sort(np.asarray(keys, dtype=np.int64))
    return keys // W.shape[1], keys % W.shape[1]


def _check_k(k: Any) -> int:
    if int(k) != k or k < 0:
        raise ValueError(f"grow count k must be a non-negative integer, got {k!r}")
    return int(k)


#: Enumerate the free positions instead of rejection sampling when at most this fraction of
#: the matrix is free (expected redraw work k / free_fraction stays small otherwise).
ENUMERATE_BELOW_FREE_FRACTION = 0.25


def sample_free_keys(size: int, forbidden: IntArray, k: int, rng: np.random.Generator) -> IntArray:
    """``min(k, free)`` distinct flat keys drawn uniformly from ``[0, size) \\ forbidden``.

    ``forbidden`` must be sorted and unique. Rejection sampling: draw a batch of keys with
    replacement (sized by the expected acceptance rate), drop forbidden ones by
    ``np.searchsorted`` and duplicates by a sorted union, repeat until ``k`` are accepted, then
    keep a uniformly random ``k``-subset. The accepted set is exchangeable over the free
    positions, so the result is a uniform ``k``-subset. Cost ``O(k log(nnz + k))`` while at least
    a quarter of the positions are free; a nearly full matrix enumerates its free positions
    (``O(size)``, which is then ``O(nnz)``).
    """
    free = size - forbidden.size
    k = min(_check_k(k), free)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if free <= ENUMERATE_BELOW_FREE_FRACTION * size or k == free:
        mask = np.ones(size, dtype=bool)
        mask[forbidden] = False
        pool = np.flatnonzero(mask)
        return np.sort(rng.choice(pool, size=k, replace=False)).astype(np.int64)
    accepted = np.zeros(0, dtype=np.int64)
    rate = free / size
    while accepted.size < k:
        need = k - accepted.size
        m = int(need / rate * 1.1) + 16
        # sorted first: NumPy's searchsorted narrows each search from the previous one, ~20x
        # less CPU than random probes into a large key set (the result is a set: same draws)
        draw = np.sort(rng.integers(0, size, size=m, dtype=np.int64))
        draw = draw[~_isin_sorted(draw, forbidden)]
        accepted = union_sorted(accepted, draw)
    if accepted.size > k:
        accepted = np.sort(rng.choice(accepted, size=k, replace=False))
    return accepted


# --------------------------------------------------------------------------- random
@GROW.register("random", build=_with_options, doc="uniformly random empty positions")
def random_grow(
    W: CSRMatrix,
    k: int,
    rng: np.random.Generator,
    info: LayerInfo | None = None,
    *,
    exclude: Any = None,
) -> Coords:
    """``k`` positions drawn uniformly among the free (non-stored, non-excluded) positions.

    Exact count (``min(k, free)``), no duplicates (see :func:`sample_free_keys` for the cost).

    >>> W = CSRMatrix.from_dense(np.eye(3))
    >>> r, c = random_grow(W, 6, np.random.default_rng(0))
    >>> bool(W.contains(r, c).any()), len(r)
    (False, 6)
    """
    size = W.shape[0] * W.shape[1]
    return _to_coords(W, sample_free_keys(size, _forbidden(W, exclude), k, rng))


# --------------------------------------------------------------------------- RigL
def _topk_merge(
    best_keys: IntArray, best_scores: Any, keys: IntArray, scores: Any, k: int
) -> tuple[IntArray, Any]:
    """The ``k`` largest of two candidate sets; ties go to the smaller key."""
    keys = np.concatenate([best_keys, keys])
    scores = np.concatenate([best_scores, scores])
    if keys.size <= k:
        return keys, scores
    kth = scores[np.argpartition(scores, keys.size - k)[keys.size - k]]
    above = np.flatnonzero(scores > kth)
    eq = np.flatnonzero(scores == kth)
    eq = eq[np.argsort(keys[eq], kind="stable")][: k - above.size]
    sel = np.concatenate([above, eq])
    return keys[sel], scores[sel]


def _sample_of(W: CSRMatrix, info: LayerInfo | None, who: str) -> GradientSample:
    sample: GradientSample = (info or LayerInfo()).need("sample", None, who)
    sample.check(W.shape)
    return sample


@GROW.register("gradient", build=_with_options, doc="largest |dense gradient| (RigL)")
def gradient_grow(
    W: CSRMatrix,
    k: int,
    rng: np.random.Generator | None = None,
    info: LayerInfo | None = None,
    *,
    exclude: Any = None,
    block_bytes: int = BLOCK_BYTES,
) -> Coords:
    r"""RigL (Evci et al. 2020): the ``k`` free positions of largest ``|dL/dW|``.

    Needs ``info.sample = GradientSample(Xt, dYt)``. The dense gradient ``dW = dYt Xtᵀ`` is
    never materialised: it is computed in blocks of ``b`` rows (``32 · b · in ≤ block_bytes``,
    at least one row: 32 bytes per block element cover the value, the candidate indices and
    the merge) into one reused buffer; the stored (and excluded) positions of the block are
    overwritten with ``-1`` (scores are ``|dW| ≥ 0``), and a running top-``k`` keeps only
    entries above the current ``k``-th best score. Peak extra memory ``≈ block_bytes +
    ~20 bytes · k`` whatever the layer size (``benchmarks/rigl_memory.py`` measures it with
    ``tracemalloc``: 16384 × 16384 layer, 1 % density, ``N = 128``, ``k = 0.3 nnz``:
    59 MiB, 5.8 % of the 1 GiB dense gradient, 15 s on 2 cores). Time ``O(out · in · N)`` for
    the products (the exact criterion needs every gradient entry).

    Ties are broken toward smaller flat keys. Returns ``min(k, free)`` positions.
    """
    k = _check_k(k)
    sample = _sample_of(W, info, "gradient growth")
    rows, cols = W.shape
    forbidden = _forbidden(W, exclude)
    k = min(k, rows * cols - forbidden.size)
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    dYt, Xt = sample.dYt, sample.Xt
    b = max(1, min(rows, int(block_bytes) // max(1, cols * _BYTES_PER_ELEMENT)))
    buf = np.empty((b, cols), dtype=dYt.dtype)
    XtT = Xt.T
    best_keys: IntArray = np.zeros(0, dtype=np.int64)
    best_scores = np.zeros(0, dtype=dYt.dtype)
    # Forbidden keys split by block through one searchsorted over the sorted key array.
    for r0 in range(0, rows, b):
        r1 = min(rows, r0 + b)
        blk = buf[: r1 - r0]
        with np.errstate(under="ignore"):  # tiny gradient products are harmless
            np.matmul(dYt[r0:r1], XtT, out=blk)
        np.abs(blk, out=blk)
        lo, hi = np.searchsorted(forbidden, [r0 * cols, r1 * cols])
        flat = blk.reshape(-1)
        flat[forbidden[lo:hi] - r0 * cols] = -1
        thr = best_scores.min() if best_keys.size >= k else -0.5
        idx = np.flatnonzero(flat > thr)
        if idx.size:
            best_keys, best_scores = _topk_merge(
                best_keys, best_scores, idx + r0 * cols, flat[idx], k
            )
    return _to_coords(W, best_keys)


declare(gradient_grow, needs={GRADIENT_SAMPLE})


@GROW.register(
    "sampled_gradient",
    Param("candidates", Optional(POSITIVE_INT), None, doc="candidates per grown entry"),
    build=_with_options,
    doc="largest |gradient| among randomly sampled candidates",
)
def sampled_gradient_grow(
    W: CSRMatrix,
    k: int,
    rng: np.random.Generator,
    info: LayerInfo | None = None,
    *,
    exclude: Any = None,
    candidates: float = 10.0,
) -> Coords:
    r"""Approximate RigL: top-``k`` ``|dW|`` among ``⌈c·k⌉`` uniformly random free candidates.

    The candidates come from :func:`sample_free_keys`; their gradient values are computed with
    one SDDMM (``CSRMatrix.from_coords(...).sampled_fm(dYt, Xt)``), so time and memory are
    ``O(N · c · k)`` instead of RigL's ``O(N · out · in)`` time. ``candidates = c`` (≥ 1) trades
    accuracy for cost; ``c = 1`` is random growth.

    Accuracy vs exact RigL (measured, ``benchmarks/rigl_memory.py --sampled``: first layer
    1000 × 784 at 10 % density of an untrained 784-1000-10 ReLU MLP, one MNIST batch of
    ``N = 128``, ``k = 0.3 nnz``): overlap of the chosen set with RigL's / captured share of
    RigL's gradient mass ``Σ|g|`` = 0.17 / 0.48 at ``c = 5``, 0.34 / 0.68 at ``c = 10``,
    0.67 / 0.88 at ``c = 20`` (random growth, ``c = 1``: 0.04 / 0.13). Roughly, the chosen set
    is the top ``k`` of a random ``c k / free`` share of the free positions.
    """
    k = _check_k(k)
    if not candidates >= 1:
        raise ValueError(f"candidates factor must be >= 1, got {candidates!r}")
    sample = _sample_of(W, info, "sampled gradient growth")
    size = W.shape[0] * W.shape[1]
    forbidden = _forbidden(W, exclude)
    k = min(k, size - forbidden.size)
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    m = int(np.ceil(candidates * k))
    dYt, Xt = np.ascontiguousarray(sample.dYt), np.ascontiguousarray(sample.Xt)
    if m <= CANDIDATE_CHUNK:
        cand = sample_free_keys(size, forbidden, m, rng)
        C = CSRMatrix.from_coords(
            W.shape, cand // W.shape[1], cand % W.shape[1], dtype=sample.dYt.dtype
        )
        scores = np.abs(C.sampled_fm(dYt, Xt))
        keys, _ = _topk_merge(np.zeros(0, np.int64), scores[:0], C.keys, scores, k)
        return _to_coords(W, keys)
    return _to_coords(W, _sampled_topk_by_rows(W.shape, forbidden, m, k, dYt, Xt, rng))


#: Above this many candidates, sampled gradient growth draws and scores them by blocks of rows
#: (bounded memory: ~60 bytes per candidate of a block instead of per candidate of the layer).
CANDIDATE_CHUNK = 1 << 22
HYPERGEOMETRIC_LIMIT = 10**9


def _sampled_topk_by_rows(
    shape: tuple[int, int],
    forbidden: IntArray,
    m: int,
    k: int,
    dYt: Any,
    Xt: Any,
    rng: np.random.Generator,
) -> IntArray:
    """Top-``k`` ``|dW|`` keys among ``m`` uniformly random free positions, by row blocks.

    The row blocks' free counts ``f_b`` are exact; the candidates per block come from one
    multivariate hypergeometric draw ``m_b ~ MHG(f, m)``, and a uniform ``m_b``-subset of each
    block's free positions is drawn and scored. The union is a uniform ``m``-subset of all
    free positions (the same law as one draw over the layer), and the running top-``k`` over
    blocks is the top-``k`` of the union. From :data:`HYPERGEOMETRIC_LIMIT` free positions on
    (NumPy's exact sampler stops there) the counts are multinomial, ``m_b ~ Mult(m, f / Σf)``
    capped at ``f_b``: there ``m ≤ Σf / 10`` in practice (``c k`` against ``10⁹``), and the
    two laws differ by ``O(m / Σf)`` per block.
    """
    rows, cols = shape
    n_blocks = -(-m // CANDIDATE_CHUNK)
    bounds = np.linspace(0, rows, n_blocks + 1).astype(np.int64)
    starts = bounds[:-1] * cols
    ends = bounds[1:] * cols
    lo = np.searchsorted(forbidden, starts)
    hi = np.searchsorted(forbidden, ends)
    free = (ends - starts) - (hi - lo)
    m = min(m, int(free.sum()))
    if free.sum() < HYPERGEOMETRIC_LIMIT:
        counts = rng.multivariate_hypergeometric(free, m, method="marginals")
    else:  # NumPy's exact sampler stops at 10⁹; then m ≪ free and MHG ≈ multinomial
        counts = np.minimum(rng.multinomial(m, free / free.sum()), free)
    best_keys: IntArray = np.zeros(0, np.int64)
    best_scores = np.zeros(0, dYt.dtype)
    for b in range(n_blocks):
        if counts[b] == 0:
            continue
        r0, r1 = int(bounds[b]), int(bounds[b + 1])
        local = sample_free_keys(
            int(ends[b] - starts[b]), forbidden[lo[b] : hi[b]] - starts[b], int(counts[b]), rng
        )
        C = CSRMatrix.from_coords((r1 - r0, cols), local // cols, local % cols, dtype=dYt.dtype)
        scores = np.abs(C.sampled_fm(np.ascontiguousarray(dYt[r0:r1]), Xt))
        best_keys, best_scores = _topk_merge(best_keys, best_scores, C.keys + starts[b], scores, k)
        del C, scores, local
    return best_keys


declare(sampled_gradient_grow, needs={GRADIENT_SAMPLE})


# --------------------------------------------------------------------------- SNFS
@GROW.register("momentum", build=_with_options, doc="largest |momentum| (SNFS)")
def momentum_grow(
    W: CSRMatrix,
    k: int,
    rng: np.random.Generator | None = None,
    info: LayerInfo | None = None,
    *,
    exclude: Any = None,
    block_bytes: int = BLOCK_BYTES,
) -> Coords:
    r"""SNFS growth (Dettmers & Zettlemoyer 2019), truly sparse adaptation.

    SNFS grows the missing weights of largest ``|momentum|``, which requires a dense momentum
    buffer for weights that do not exist. A truly sparse model has no such buffer, so here a
    non-stored weight's momentum is taken as that of a buffer started at zero now: its
    magnitude is proportional to ``|dW|`` for SGD momentum and for Adam's ``m/(√v+ε)`` (equal
    to ``sign(g)`` up to ε after one step, ranked by ``|g|`` before ε dominates), so growth
    ranks free positions by the current batch gradient exactly as RigL
    (:func:`gradient_grow`, same cost and memory). The *momentum* part of SNFS survives in the
    redistribution across layers (:func:`snfs_redistribute`), which uses the mean ``|momentum|``
    of the active weights from the optimizer state (``info.momentum``).
    """
    return gradient_grow(W, k, rng, info, exclude=exclude, block_bytes=block_bytes)


declare(momentum_grow, needs={GRADIENT_SAMPLE})


def snfs_redistribute(
    total_k: int, mean_momentum: Sequence[float], capacities: Sequence[int]
) -> list[int]:
    """Split ``total_k`` regrowth across layers ∝ mean ``|momentum|`` (SNFS), within capacity.

    Layer ``l`` gets ``≈ total_k · m_l / Σ m`` (largest-remainder rounding, so the counts add up
    exactly), capped at ``capacities[l]`` (its free positions); what a capped layer cannot take
    is redistributed over the others in proportion again. Layers with ``m_l = 0`` get nothing
    unless every layer with ``m_l > 0`` is full (then the rest is split ∝ free capacity).
    The result sums to ``min(total_k, Σ capacities)``.

    >>> snfs_redistribute(10, [1.0, 1.0, 2.0], [100, 100, 100])
    [3, 2, 5]
    >>> snfs_redistribute(10, [1.0, 1.0, 8.0], [100, 100, 2])
    [4, 4, 2]
    """
    m = np.asarray(mean_momentum, dtype=np.float64)
    cap = np.asarray(capacities, dtype=np.int64)
    if m.shape != cap.shape or m.ndim != 1:
        raise ValueError("mean_momentum and capacities must be 1-D of equal length")
    if np.any(~np.isfinite(m)) or np.any(m < 0) or np.any(cap < 0):
        raise ValueError("mean momenta must be finite and >= 0, capacities >= 0")
    remaining = min(_check_k(total_k), int(cap.sum()))
    out = np.zeros(m.size, dtype=np.int64)
    while remaining > 0:
        open_ = out < cap
        w = np.where(open_, m, 0.0)
        if w.sum() <= 0:
            w = np.where(open_, (cap - out).astype(np.float64), 0.0)
        with np.errstate(under="ignore"):  # tiny momenta simply get nothing
            share = remaining * (w / w.sum())
        base = np.floor(share).astype(np.int64)
        rest = remaining - int(base.sum())
        if rest:
            frac = share - base
            order = np.lexsort((np.arange(m.size), -frac))
            order = order[open_[order]]
            base[order[:rest]] += 1
        add = np.minimum(base, cap - out)
        out += add
        remaining -= int(add.sum())
    return [int(x) for x in out]


#: Grow criteria by name (every ``@GROW.register`` above).
GROW_CRITERIA: dict[str, GrowCriterion] = GROW.implementations()
