"""ECE, NLL and disagreement against hand computations; the ensemble is the mean of logits."""

import math

import numpy as np
import pytest

from sprig.errors import DataError
from sprig.neurotrails import disagreement, ece, ensemble_logits, evaluate_heads, nll


def test_ece_by_hand_three_bins():
    # confidences 0.9 (right), 0.8 (wrong), 0.5 (right: a tie goes to class 0), 0.6 (wrong)
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.6, 0.4]])
    y = np.array([0, 0, 0, 1])
    # 3 bins (0,1/3], (1/3,2/3], (2/3,1]: {0.5, 0.6} and {0.9, 0.8}
    # bin 2: acc 1/2, conf 0.55 -> 0.05; bin 3: acc 1/2, conf 0.85 -> 0.35
    assert ece(P, y, bins=3) == pytest.approx(0.5 * 0.05 + 0.5 * 0.35, abs=1e-12)
    # one bin: |mean acc - mean conf| = |0.5 - 0.7|
    assert ece(P, y, bins=1) == pytest.approx(0.2, abs=1e-12)
    assert ece(np.eye(3), [0, 1, 2]) == 0.0  # confident and right
    with pytest.raises(ValueError, match="bins"):
        ece(P, y, bins=0)


def test_nll_by_hand():
    Z = np.array([[0.0, math.log(3.0)], [1.0, 1.0]])
    # softmax rows (1/4, 3/4), (1/2, 1/2)
    assert nll(Z, [1, 0]) == pytest.approx(-(math.log(0.75) + math.log(0.5)) / 2, abs=1e-12)
    with pytest.raises(DataError, match="labels"):
        nll(Z, [0, 2])


def test_disagreement_by_hand():
    a = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # 0 0 1 1
    b = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])  # 0 1 1 0
    c = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])  # 1 1 1 1
    # pairs: ab 2/4, ac 2/4, bc 2/4
    assert disagreement([a, b, c]) == pytest.approx(0.5)
    assert disagreement([a, a]) == 0.0
    assert disagreement([a]) == 0.0


def test_ensemble_is_the_mean_of_the_logits_and_metrics_use_it():
    rng = np.random.default_rng(0)
    heads = [rng.normal(size=(50, 4)) for _ in range(3)]
    y = rng.integers(0, 4, 50)
    Z = (heads[0] + heads[1] + heads[2]) / 3
    np.testing.assert_allclose(ensemble_logits(heads), Z, rtol=0, atol=1e-15)
    r = evaluate_heads(heads, y)
    assert r["accuracy"] == pytest.approx(np.mean(Z.argmax(1) == y))
    assert r["nll"] == pytest.approx(nll(Z, y))
    P = np.exp(Z) / np.exp(Z).sum(1, keepdims=True)
    assert r["ece"] == pytest.approx(ece(P, y))
    assert r["head_accuracy"] == [pytest.approx(np.mean(h.argmax(1) == y)) for h in heads]
    with pytest.raises(DataError, match="shapes"):
        evaluate_heads([heads[0], heads[1][:10]], y)
