r"""Feature rankings read off the topology and weights of a trained sparse autoencoder.

QuickSelection (Atashgahi et al., Machine Learning 2022; code ``zahraatashgahi/QuickSelection``,
``fs_utils.py``) trains a sparse denoising autoencoder ``d → h → d`` and ranks input feature
``j`` by a property of input neuron ``j``. With sprig's weight layout (``W: (out, in)``),
``W1: (h, d)`` is the encoder and ``W2: (d, h)`` the decoder; every sum below runs over the
*stored* entries only (a CSR matrix never densified), in ``O(nnz)``:

* ``strength`` (the paper's criterion, "Node Strength(in)"): ``s_j = Σ_h |W1[h, j]|``;
* ``degree`` ("Node Degree(in)"): the number of stored connections of input ``j``;
* ``strength_out`` / ``degree_out`` ("Node Strength/Degree(out)"): the same for output
  neuron ``j`` of the decoder, ``Σ_h |W2[j, h]|`` and its number of connections;
* ``strength_in_out`` ("Node Strength(in_out)"), two stages: rank the hidden neurons by their
  strength ``Σ_j |W1[h, j]| + Σ_j |W2[j, h]|``, keep the strongest half, then score input ``j``
  by its strength towards the kept hidden neurons only;
  ``strength_out_in`` scores output ``j`` by its strength from the kept hidden neurons;
* ``degree_in_out`` / ``degree_out_in`` ("Degree(in_out)/(out_in)"): the same two stages with
  degrees, keeping two thirds of the hidden neurons (the code base's fractions).

Two quirks of the reference code are *not* reproduced (choices, tested here): its
``fs_strength12`` adds the encoder strength to itself (``new_sum_w1 + new_sum_w1``) instead of
adding the decoder's, and its ``fs_degree12`` ranks *features* by combined degree and then
uses those feature indices as hidden-neuron indices. Here both stages are done as described
above (hidden neurons first, then features).

Ties are broken by the lower feature index (:func:`top_k` sorts stably).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..matrices import CSRMatrix
from ..typing import FloatArray, IntArray

__all__ = [
    "RANKINGS",
    "degree",
    "degree_in_out",
    "degree_out",
    "degree_out_in",
    "rank",
    "strength",
    "strength_in_out",
    "strength_out",
    "strength_out_in",
    "top_k",
]


def _col_sums(W: CSRMatrix, values: FloatArray | None = None) -> FloatArray:
    """``Σ_r v[r, c]`` per column over the stored entries (``values`` default ``|W|``)."""
    v = np.abs(W.data).astype(np.float64) if values is None else values
    return np.bincount(W.indices, weights=v, minlength=W.shape[1]).astype(np.float64)


def _row_sums(W: CSRMatrix, values: FloatArray | None = None) -> FloatArray:
    v = np.abs(W.data).astype(np.float64) if values is None else values
    return np.bincount(W.row_of, weights=v, minlength=W.shape[0]).astype(np.float64)


def strength(W1: CSRMatrix, W2: CSRMatrix | None = None) -> FloatArray:
    """Input-neuron strength ``s_j = Σ_h |W1[h, j]|`` (QuickSelection's criterion)."""
    del W2
    return _col_sums(W1)


def degree(W1: CSRMatrix, W2: CSRMatrix | None = None) -> FloatArray:
    """Number of stored connections of input neuron ``j`` in the encoder ``W1: (h, d)``."""
    del W2
    return np.bincount(W1.indices, minlength=W1.shape[1]).astype(np.float64)


def _need(W2: CSRMatrix | None, who: str) -> CSRMatrix:
    if W2 is None:
        raise ValueError(f"the {who} ranking needs the decoder weight W2 (d × h)")
    return W2


def strength_out(W1: CSRMatrix, W2: CSRMatrix | None) -> FloatArray:
    """Output-neuron strength ``Σ_h |W2[j, h]|`` of the decoder ``W2: (d, h)``."""
    del W1
    return _row_sums(_need(W2, "strength_out"))


def degree_out(W1: CSRMatrix, W2: CSRMatrix | None) -> FloatArray:
    """Number of stored connections of output neuron ``j`` in the decoder ``W2: (d, h)``."""
    del W1
    return np.diff(_need(W2, "degree_out").indptr).astype(np.float64)


def _kept_hidden(score: FloatArray, fraction: float) -> FloatArray:
    """0/1 indicator of the ``int(fraction · h)`` hidden neurons of largest ``score``."""
    n = int(score.size * fraction)
    keep = np.zeros(score.size, dtype=np.float64)
    keep[top_k(score, n)] = 1.0
    return keep


def _two_stage(
    W1: CSRMatrix, W2: CSRMatrix | None, *, weighted: bool, fraction: float, side: str
) -> FloatArray:
    W2 = _need(W2, f"{'strength' if weighted else 'degree'}_{side}")
    if W1.shape != (W2.shape[1], W2.shape[0]):
        raise ValueError(f"W1 {W1.shape} and W2 {W2.shape} are not an autoencoder's (h,d), (d,h)")
    a1 = np.abs(W1.data).astype(np.float64) if weighted else np.ones(W1.nnz)
    a2 = np.abs(W2.data).astype(np.float64) if weighted else np.ones(W2.nnz)
    hidden = _row_sums(W1, a1) + _col_sums(W2, a2)  # per hidden neuron
    keep = _kept_hidden(hidden, fraction)
    if side == "in_out":  # inputs j, through the kept hidden rows of W1
        return _col_sums(W1, a1 * keep[W1.row_of])
    return _row_sums(W2, a2 * keep[W2.indices])  # outputs j, from the kept hidden columns


def strength_in_out(W1: CSRMatrix, W2: CSRMatrix | None) -> FloatArray:
    """Input strength towards the strongest half of the hidden neurons (module docstring)."""
    return _two_stage(W1, W2, weighted=True, fraction=0.5, side="in_out")


def strength_out_in(W1: CSRMatrix, W2: CSRMatrix | None) -> FloatArray:
    """Output strength from the strongest half of the hidden neurons (module docstring)."""
    return _two_stage(W1, W2, weighted=True, fraction=0.5, side="out_in")


def degree_in_out(W1: CSRMatrix, W2: CSRMatrix | None) -> FloatArray:
    """Input degree towards the two thirds of hidden neurons of largest degree."""
    return _two_stage(W1, W2, weighted=False, fraction=2.0 / 3.0, side="in_out")


def degree_out_in(W1: CSRMatrix, W2: CSRMatrix | None) -> FloatArray:
    """Output degree from the two thirds of hidden neurons of largest degree."""
    return _two_stage(W1, W2, weighted=False, fraction=2.0 / 3.0, side="out_in")


#: Ranking name -> ``(W1, W2) -> scores (d,)`` (float64, larger = more important).
RANKINGS: dict[str, Callable[[CSRMatrix, CSRMatrix | None], FloatArray]] = {
    "strength": strength,
    "degree": degree,
    "strength_out": strength_out,
    "degree_out": degree_out,
    "strength_in_out": strength_in_out,
    "strength_out_in": strength_out_in,
    "degree_in_out": degree_in_out,
    "degree_out_in": degree_out_in,
}


def rank(name: str, W1: CSRMatrix, W2: CSRMatrix | None = None) -> FloatArray:
    """Scores of ranking ``name`` (one of :data:`RANKINGS`)."""
    try:
        fn = RANKINGS[name]
    except KeyError:
        raise ValueError(f"unknown ranking {name!r}; allowed: {', '.join(RANKINGS)}") from None
    return fn(W1, W2)


def top_k(scores: FloatArray, k: int) -> IntArray:
    """Indices of the ``k`` largest scores, best first; ties go to the lower index.

    >>> top_k(np.array([0.5, 2.0, 0.5, 1.0]), 3).tolist()
    [1, 3, 0]
    """
    s = np.asarray(scores, dtype=np.float64)
    if not 0 <= k <= s.size:
        raise ValueError(f"k must be in [0, {s.size}], got {k}")
    order = np.argsort(-s, kind="stable")
    return order[:k].astype(np.int64)
