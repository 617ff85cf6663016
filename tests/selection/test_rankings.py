"""Autoencoder rankings against a dense hand computation."""

from __future__ import annotations

import numpy as np
import pytest

from sprig.matrices import CSRMatrix
from sprig.selection import RANKINGS, rank, top_k


def _pair(seed, d=12, h=9):
    rng = np.random.default_rng(seed)
    W1 = CSRMatrix.random(
        (h, d), density=0.35, rng=rng, dtype=np.float64, values=lambda n, r: r.normal(size=n)
    )
    W2 = CSRMatrix.random(
        (d, h), density=0.3, rng=rng, dtype=np.float64, values=lambda n, r: r.normal(size=n)
    )
    return W1, W2


def _dense_scores(name, W1, W2):
    A1, A2 = np.abs(W1.toarray()), np.abs(W2.toarray())  # (h, d), (d, h)
    B1, B2 = (A1 != 0).astype(float), (A2 != 0).astype(float)
    h = A1.shape[0]
    if name == "strength":
        return A1.sum(axis=0)
    if name == "degree":
        return B1.sum(axis=0)
    if name == "strength_out":
        return A2.sum(axis=1)
    if name == "degree_out":
        return B2.sum(axis=1)
    weighted = name.startswith("strength")
    M1, M2 = (A1, A2) if weighted else (B1, B2)
    hidden = M1.sum(axis=1) + M2.sum(axis=0)
    n_keep = int(h * (0.5 if weighted else 2 / 3))
    keep = np.argsort(-hidden, kind="stable")[:n_keep]
    if name.endswith("in_out"):
        return M1[keep].sum(axis=0)
    return M2[:, keep].sum(axis=1)


@pytest.mark.parametrize("name", list(RANKINGS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rankings_equal_dense_hand_computation(name, seed):
    W1, W2 = _pair(seed)
    np.testing.assert_allclose(rank(name, W1, W2), _dense_scores(name, W1, W2), rtol=1e-12)


def test_strength_by_hand():
    # W1 (h=2, d=3): input 0 has |−2| + |1| = 3, input 1 has 0.5, input 2 has no connection
    W1 = CSRMatrix.from_dense(np.array([[-2.0, 0.5, 0.0], [1.0, 0.0, 0.0]]))
    assert rank("strength", W1).tolist() == [3.0, 0.5, 0.0]
    assert rank("degree", W1).tolist() == [2.0, 1.0, 0.0]
    assert top_k(rank("strength", W1), 2).tolist() == [0, 1]


def test_top_k_ties_and_errors():
    assert top_k(np.array([1.0, 3.0, 3.0, 0.0]), 4).tolist() == [1, 2, 0, 3]
    with pytest.raises(ValueError, match="k must be in"):
        top_k(np.zeros(3), 4)
    W1, W2 = _pair(0)
    with pytest.raises(ValueError, match="unknown ranking 'nope'"):
        rank("nope", W1, W2)
    with pytest.raises(ValueError, match="needs the decoder"):
        rank("strength_out", W1)
