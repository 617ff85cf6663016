r"""Prune criteria: which stored entries of a sparse weight to drop.

A prune criterion is a callable ``(W, k, rng, info) -> positions``: ``positions`` are indices
into ``W.data`` (``int64``, unique, sorted ascending, in ``[0, nnz)``) of the entries to drop.
``k`` is the number requested; criteria that decide the count themselves (:func:`threshold`)
say so, and :func:`set_prune` takes a *fraction* in place of ``k`` (its attribute
``takes_fraction`` is ``True``; :class:`~sprig.sparsity.algorithms.DSTAlgorithm` passes the
schedule's fraction to such criteria). ``info`` is a :class:`~sprig.sparsity.info.LayerInfo`
(or ``None`` for criteria that need nothing); each criterion declares the fields it reads in
its ``needs`` attribute (:func:`~sprig.sparsity.info.needs_of`).

Cost: every criterion is ``O(nnz)`` (``np.argpartition``) time and memory; nothing dense.

Ties are broken deterministically: among entries with equal score, the one with the smaller
position in ``W.data`` (i.e. row-major order) is dropped first, so the result does not depend
on ``argpartition``'s internal order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ..matrices import CSRMatrix
from ..specs.registry import NONNEGATIVE, POSITIVE, PRUNE, REQUIRED, UNIT, Optional, Param
from ..typing import FloatArray, IntArray
from .info import GRADIENT, LayerInfo, declare

#: The spec's share of stored weights to drop (read by the algorithm, not the criterion).
FRACTION = Param(
    "fraction", UNIT, REQUIRED, ("zeta", "drop_fraction"), "fraction ζ of the stored weights"
)


def _criterion(factory: Any, fraction: float) -> Any:
    """Builder of a registered criterion function: the function itself."""
    return factory


def _from_factory(factory: Any, fraction: float, **params: Any) -> Any:
    """Builder of a registered criterion factory: ``factory(**params)``."""
    return factory(**params)


__all__ = [
    "PRUNE_CRITERIA",
    "PruneCriterion",
    "magnitude",
    "mest",
    "random",
    "sensitivity",
    "set_prune",
    "smallest_k",
    "soft_magnitude",
    "threshold",
]


class PruneCriterion(Protocol):
    """``(W, k, rng, info) -> sorted unique int64 positions into W.data``."""

    def __call__(
        self, W: CSRMatrix, k: Any, rng: np.random.Generator, info: LayerInfo | None = None
    ) -> IntArray: ...


def _check_k(W: CSRMatrix, k: Any) -> int:
    if int(k) != k or not 0 <= k <= W.nnz:
        raise ValueError(f"prune count k must be an integer in [0, {W.nnz}], got {k!r}")
    return int(k)


def smallest_k(scores: FloatArray, k: int) -> IntArray:
    """Positions of the ``k`` smallest ``scores``, sorted; ties go to smaller positions.

    ``O(n)``: one ``argpartition`` finds the ``k``-th value, then every score strictly below
    it is taken and the remaining slots are filled by the first positions equal to it.

    >>> smallest_k(np.array([3.0, 1.0, 2.0, 1.0, 1.0]), 2)
    array([1, 3])
    """
    n = scores.shape[0]
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.arange(n, dtype=np.int64)
    kth = scores[np.argpartition(scores, k - 1)[k - 1]]
    below = np.flatnonzero(scores < kth)
    equal = np.flatnonzero(scores == kth)[: k - below.size]
    out = np.concatenate([below, equal]).astype(np.int64)
    out.sort()
    return out


@PRUNE.register(
    "magnitude", FRACTION, build=_criterion, doc="drop the fraction with the smallest |w|"
)
def magnitude(
    W: CSRMatrix, k: int, rng: np.random.Generator | None = None, info: LayerInfo | None = None
) -> IntArray:
    """The ``k`` entries of smallest ``|w|`` (exact ties: smaller position first).

    >>> W = CSRMatrix.from_dense(np.array([[0.5, -0.1], [0.1, 2.0]]))
    >>> magnitude(W, 2)
    array([1, 2])
    """
    return smallest_k(np.abs(W.data), _check_k(W, k))


@PRUNE.register(
    "set",
    FRACTION,
    build=_criterion,
    doc="magnitude within positive and within negative weights (SET)",
)
def set_prune(
    W: CSRMatrix,
    fraction: float,
    rng: np.random.Generator | None = None,
    info: LayerInfo | None = None,
) -> IntArray:
    """SET (Mocanu et al. 2018): fraction ζ of the positive **and** ζ of the negative weights.

    Unlike the other criteria the second argument is the fraction ``ζ`` (not a count): the
    positive weights closest to zero, ``round(ζ · n_pos)`` of them, and separately the
    ``round(ζ · n_neg)`` negative weights closest to zero are dropped (rounding half away from
    zero, as Nerva's ``prune_SET``). Stored exact zeros are the weights closest to zero of all:
    they are always dropped, on top of the two fractions. (Keeping them let a stored zero with
    a zero gradient — a connection from a constant input pixel or into a dead unit — stay
    forever; with zero-valued regrowth the support filled up with such dead entries and a
    LeNet-300-100 at 1 % density collapsed to chance accuracy, measured in
    ``docs/results.md`` §4.) The count returned is therefore ``≈ ζ · nnz``, decided here.

    >>> W = CSRMatrix.from_dense(np.array([[0.5, -0.1, 0.2, -0.3]]))
    >>> set_prune(W, 0.5)
    array([1, 2])
    >>> set_prune(CSRMatrix.from_dense(np.array([[0.5, 0.0, 0.2]]), pattern=[[1, 1, 1]]), 0.0)
    array([1])
    """
    z = float(fraction)
    if not 0.0 <= z <= 1.0:
        raise ValueError(f"SET prune fraction must be in [0, 1], got {fraction!r}")
    parts = []
    for sel in (np.flatnonzero(W.data > 0), np.flatnonzero(W.data < 0)):
        n = int(np.floor(z * sel.size + 0.5))
        parts.append(sel[smallest_k(np.abs(W.data[sel]), n)])
    parts.append(np.flatnonzero(W.data == 0))
    out = np.concatenate(parts).astype(np.int64)
    out.sort()
    return out


declare(set_prune, takes_fraction=True)


@PRUNE.register(
    "threshold", Param("t", NONNEGATIVE, aliases=("threshold",)), doc="drop all |w| <= t"
)
def threshold(t: float) -> PruneCriterion:
    """Criterion dropping every entry with ``|w| ≤ t``; the requested ``k`` is ignored.

    >>> W = CSRMatrix.from_dense(np.array([[0.5, -0.1, 0.2]]))
    >>> threshold(0.2)(W, 0, None)
    array([1, 2])
    """
    t = float(t)
    if not t >= 0:
        raise ValueError(f"threshold must be a non-negative number, got {t!r}")

    def prune_threshold(
        W: CSRMatrix, k: Any, rng: np.random.Generator | None = None, info: LayerInfo | None = None
    ) -> IntArray:
        return np.flatnonzero(np.abs(W.data) <= t).astype(np.int64)

    prune_threshold.__doc__ = f"Drop every entry with |w| <= {t}."
    return prune_threshold


@PRUNE.register("random", FRACTION, build=_criterion, doc="drop a uniformly random fraction")
def random(
    W: CSRMatrix, k: int, rng: np.random.Generator, info: LayerInfo | None = None
) -> IntArray:
    """``k`` entries chosen uniformly at random (without replacement)."""
    k = _check_k(W, k)
    out = rng.choice(W.nnz, size=k, replace=False).astype(np.int64)
    out.sort()
    return out


@PRUNE.register(
    "sensitivity", FRACTION, build=_criterion, doc="drop the fraction with the smallest |w g|"
)
def sensitivity(
    W: CSRMatrix, k: int, rng: np.random.Generator | None = None, info: LayerInfo | None = None
) -> IntArray:
    """SNIP-style saliency: the ``k`` entries of smallest ``|w · g|`` (needs ``info.grad``)."""
    k = _check_k(W, k)
    g = (info or LayerInfo()).need("grad", W.nnz, "sensitivity pruning")
    return smallest_k(np.abs(W.data * g), k)


declare(sensitivity, needs={GRADIENT})


@PRUNE.register(
    "mest",
    FRACTION,
    Param("lam", Optional(NONNEGATIVE), None, ("lambda",), "λ in |w| + λ|g|"),
    build=_from_factory,
    doc="drop the smallest |w| + λ|g| (MEST)",
)
def mest(lam: float = 1.0) -> PruneCriterion:
    """MEST (Yuan et al. 2021) score ``|w| + λ|g|``: drop the ``k`` smallest (needs ``info.grad``).

    ``λ`` weighs the gradient of the stored entries against their magnitude.
    """
    lam = float(lam)
    if not lam >= 0:
        raise ValueError(f"MEST lambda must be non-negative, got {lam!r}")

    def prune_mest(
        W: CSRMatrix, k: int, rng: np.random.Generator | None = None, info: LayerInfo | None = None
    ) -> IntArray:
        k = _check_k(W, k)
        g = (info or LayerInfo()).need("grad", W.nnz, "MEST pruning")
        return smallest_k(np.abs(W.data) + lam * np.abs(g), k)

    prune_mest.__doc__ = f"MEST score |w| + {lam}|g|: drop the k smallest."
    return declare(prune_mest, needs={GRADIENT})  # type: ignore[no-any-return]


@PRUNE.register(
    "soft_magnitude",
    FRACTION,
    Param("temperature", POSITIVE),
    build=_from_factory,
    doc="sample drops with probability decreasing in |w| / temperature",
)
def soft_magnitude(temperature: float = 1.0) -> PruneCriterion:
    r"""Stochastic magnitude pruning: keep ``nnz − k`` entries sampled ∝ ``|w|^T``, drop the rest.

    The kept set is drawn *without replacement* with probabilities proportional to ``|w|^T``
    (successive sampling, Efraimidis & Spirakis 2006) via the Gumbel-top-k trick: key
    ``T log|w| + Gumbel`` and keep the ``nnz − k`` largest keys, ``O(nnz)``. ``T → ∞``
    approaches :func:`magnitude`; ``T = 0`` is :func:`random`. Exact zeros have probability
    zero of being kept, so they are dropped first.
    """
    temp = float(temperature)
    if not temp >= 0:
        raise ValueError(f"soft magnitude temperature must be non-negative, got {temperature!r}")

    def prune_soft_magnitude(
        W: CSRMatrix, k: int, rng: np.random.Generator, info: LayerInfo | None = None
    ) -> IntArray:
        k = _check_k(W, k)
        a = np.abs(W.data).astype(np.float64)
        logw = np.full(a.shape, -np.inf)
        pos = a > 0
        np.log(a, out=logw, where=pos)
        if temp == 0.0:
            logw[pos] = 0.0
        else:
            logw[pos] *= temp
        # Gumbel(0,1) = -log(-log U), U in (0, 1).
        u = rng.random(a.size)
        u = np.clip(u, np.finfo(np.float64).tiny, 1.0 - 1e-16)
        keys = logw - np.log(-np.log(u))
        return smallest_k(keys, k)

    prune_soft_magnitude.__doc__ = f"Keep nnz - k entries sampled proportionally to |w|^{temp}."
    return prune_soft_magnitude


#: Prune criteria by name (every ``@PRUNE.register`` above); factories (``threshold``, ``mest``,
#: ``soft_magnitude``) take their parameter first.
PRUNE_CRITERIA: dict[str, Callable[..., Any]] = PRUNE.implementations()
