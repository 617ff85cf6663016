"""Post-training pruning: Wanda scores and kept sets against a hand computation, magnitude's
exact count, sprig models (MLP and a trunk with heads) pruned to truly sparse layers, errors."""

from __future__ import annotations

import numpy as np
import pytest

from sprig.activations import ReLU
from sprig.cli.main import main
from sprig.errors import ConfigError
from sprig.layers import ActivationLayer, Linear, Parallel, Sequential, SparseLinear
from sprig.matrices import nnz_from_density
from sprig.models import Model
from sprig.seft.pruning import (
    ActivationNorms,
    keep_pattern,
    prune_dense,
    prune_model,
    wanda_scores,
)


def test_wanda_scores_equal_a_hand_computation() -> None:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 6))
    batches = [rng.standard_normal((5, 6)), rng.standard_normal((3, 6))]  # (N, in)
    norms = ActivationNorms(6)
    for X in batches:
        norms.add(X.T, axis=0)  # sprig's feature-major layout
    assert norms.count == 8
    X = np.concatenate(batches)
    for i in range(4):
        for j in range(6):
            col = [X[n, j] for n in range(8)]
            hand = abs(W[i, j]) * np.sqrt(sum(v * v for v in col))
            assert wanda_scores(W, norms.sq)[i, j] == pytest.approx(hand, rel=1e-12)
    # kept set: per output row, the round(d * in) largest scores
    S = wanda_scores(W, norms.sq)
    keep = keep_pattern(W, 0.5, "wanda", norms.sq)
    for i in range(4):
        top = sorted(range(6), key=lambda j: -S[i, j])[:3]
        assert sorted(np.flatnonzero(keep[i])) == sorted(top)
    # torch-style (..., in) batches give the same sums
    n3 = ActivationNorms(6)
    n3.add(X.reshape(2, 4, 6), axis=-1)
    np.testing.assert_allclose(n3.sq, norms.sq)


def test_wanda_differs_from_magnitude_when_inputs_differ() -> None:
    W = np.array([[1.0, 0.5], [1.0, 0.5]])
    sq = np.array([0.01, 100.0])  # feature 1 carries far more signal
    assert prune_dense(W, 0.5, "magnitude").toarray().tolist() == [[1.0, 0.0], [1.0, 0.0]]
    assert prune_dense(W, 0.5, "wanda", sq_norms=sq).toarray().tolist() == [
        [0.0, 0.5],
        [0.0, 0.5],
    ]


@pytest.mark.parametrize("density", [0.01, 0.3, 0.5, 0.77, 1.0])
def test_magnitude_keeps_exact_count_of_largest(density) -> None:
    rng = np.random.default_rng(1)
    W = rng.standard_normal((9, 13))
    C = prune_dense(W, density, "magnitude")
    assert C.nnz == nnz_from_density(W.shape, density)
    kept = np.abs(C.data)
    dropped = np.abs(W[C.toarray() == 0])
    if kept.size and dropped.size:
        assert kept.min() >= dropped.max()
    assert np.array_equal(C.toarray()[C.toarray() != 0], W[C.toarray() != 0])


def _mlp(rng, dtype=np.float64):
    l1 = Linear(5, 7, rng=rng, dtype=dtype)
    l2 = Linear(7, 3, rng=rng, dtype=dtype)
    l1.bias[...] = rng.standard_normal(7)
    l2.bias[...] = rng.standard_normal(3)
    return Model(Sequential([l1, ActivationLayer(ReLU(), 7, dtype=dtype), l2])), l1, l2


def test_prune_model_wanda_calibrates_on_each_layers_input() -> None:
    rng = np.random.default_rng(2)
    model, l1, l2 = _mlp(rng)
    W1, b1, W2, b2 = l1.weight.copy(), l1.bias.copy(), l2.weight.copy(), l2.bias.copy()
    X = rng.standard_normal((20, 5))
    report = prune_model(model, 0.4, "wanda", calibration=[X[:12], X[12:]])
    assert set(report) == {"0", "2"}
    layers = model.sparse_modules()
    assert isinstance(layers["0"], SparseLinear) and isinstance(layers["2"], SparseLinear)
    H = np.maximum(X @ W1.T + b1, 0.0)  # the second layer's input, by hand
    for path, W, inp in (("0", W1, X), ("2", W2, H)):
        want = keep_pattern(W, 0.4, "wanda", (inp**2).sum(axis=0))
        got = layers[path].weight.toarray() != 0
        assert np.array_equal(got, want), path
        assert layers[path].nnz == W.shape[0] * round(0.4 * W.shape[1])
    # the pruned model computes with exactly the kept weights (and the biases)
    M1, M2 = np.where(layers["0"].weight.toarray() != 0, W1, 0), layers["2"].weight.toarray()
    Y = np.maximum(X @ M1.T + b1, 0.0) @ M2.T + b2
    np.testing.assert_allclose(model.predict(X), Y, rtol=1e-10, atol=1e-12)
    # the recording wrappers are gone
    assert "forward" not in vars(l1)
    # dense fine-tuning baseline: back to dense layers computing the same
    from sprig.seft import densify

    assert densify(model) == ["0", "2"] and not model.sparse_modules()
    np.testing.assert_allclose(model.predict(X), Y, rtol=1e-10, atol=1e-12)


def test_prune_model_on_a_trunk_with_heads_and_per_layer_densities() -> None:
    rng = np.random.default_rng(3)
    trunk = Sequential([Linear(4, 8, rng=rng), ActivationLayer(ReLU(), 8)])
    heads = Parallel([Sequential([Linear(8, 3, rng=rng)]) for _ in range(2)])
    model = Model(Sequential([trunk, heads]))
    report = prune_model(model, {"0.0": 0.25, "1.0.0": 0.5, "1.1.0": 1.0}, "magnitude")
    assert set(report) == {"0.0", "1.0.0"}
    assert set(model.sparse_modules()) == {"0.0", "1.0.0"}
    assert model.sparse_modules()["0.0"].nnz == 8
    assert isinstance(heads[1][0], Linear)  # density 1: left dense
    assert sorted(model.sparse_weights()) == ["0.0.weight", "1.0.0.weight"]


def test_errors_are_one_line_config_errors() -> None:
    rng = np.random.default_rng(4)
    model, *_ = _mlp(rng)
    for kwargs, match in (
        ({"density": 0.5, "method": "obs"}, "must be one of"),
        ({"density": 0.0, "method": "magnitude"}, r"\(0, 1\]"),
        ({"density": 0.5, "method": "wanda"}, "calibration"),
        ({"density": {"9": 0.5}, "method": "magnitude"}, "no dense linear layer"),
    ):
        with pytest.raises(ConfigError, match=match) as e:
            prune_model(model, **kwargs)
        assert "\n" not in str(e.value)


def test_cli_post_pruning_needs_trained_weights(tmp_path, capsys) -> None:
    rc = main(
        ["train", "--post-pruning", "wanda", "--overall-density", "0.2", "--epochs", "1",
         "--run-dir", str(tmp_path / "r"), "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "load_weights" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()
    rc = main(["train", "--post-pruning", "sparsegpt", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "sparsegpt" in err and len(err.splitlines()) == 1, err
