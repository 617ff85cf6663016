"""QuickSelection's autoencoder and the attribution MLP: sparsity accounting, variants, errors,
and a fast reproduction on madelon (its 20 relevant features are identifiable from the data)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_data
from sprig.errors import ConfigError
from sprig.matrices import CSRMatrix
from sprig.selection import top_k, train_attribution, train_sparse_dae
from sprig.sparsity.density import set_epsilon


def _synthetic(n=300, d=30, informative=(2, 5, 11, 17), seed=0):
    """Classes depend on a few known features only; the rest is noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    inf = list(informative)
    y = (X[:, inf[0]] + X[:, inf[1]] - X[:, inf[2]] + 0.5 * X[:, inf[3]] > 0).astype(np.int64)
    X[:, inf] += 1.0 * (2 * y[:, None] - 1)
    return X, y, set(inf)


def test_dae_keeps_exact_set_sparsity_and_csr_weights():
    X, _, _ = _synthetic()
    seen = []
    r = train_sparse_dae(
        X, hidden=40, epochs=3, batch_size=50, seed=1, on_epoch=lambda e, loss: seen.append(e)
    )
    assert seen == [0, 1, 2] and len(r.losses) == 3
    dens = set_epsilon([(40, 30), (30, 40)], 13.0)
    assert isinstance(r.W1, CSRMatrix) and isinstance(r.W2, CSRMatrix)
    assert r.W1.shape == (40, 30) and r.W2.shape == (30, 40)
    assert r.W1.nnz == round(dens[0] * 1200) and r.W2.nnz == round(dens[1] * 1200)
    assert r.scores().shape == (30,)


def test_dae_is_deterministic_and_set_changes_topology():
    X, _, _ = _synthetic()
    a = train_sparse_dae(X, hidden=40, epochs=3, seed=4)
    b = train_sparse_dae(X, hidden=40, epochs=3, seed=4)
    np.testing.assert_array_equal(a.W1.data, b.W1.data)
    c = train_sparse_dae(X, hidden=40, epochs=1, seed=4)  # no SET update in one epoch
    assert not np.array_equal(a.W1.keys, c.W1.keys)


def test_dense_dae_baseline_same_size():
    X, _, _ = _synthetic()
    r = train_sparse_dae(X, hidden=20, epochs=1, dense=True)
    assert r.W1.nnz == 600 and r.W2.nnz == 600


@pytest.mark.parametrize("dst", ["set", "rigl"])
def test_attribution_variants_and_sparsity(dst):
    X, y, inf = _synthetic()
    r = train_attribution(
        X,
        y,
        hidden=(32, 16),
        density=0.3,
        dst=dst,
        epochs=6,
        batch_size=30,
        val_fraction=0.0,
        update_every=3,
        lr=0.01,
        seed=2,
    )
    assert r.best_epoch == 5  # no validation split: the last epoch
    assert set(r.importances) == {"sum_epoch", "epoch", "itr", "strength"}
    imp = r.importances
    assert all(v.shape == (30,) and np.all(v >= 0) for v in imp.values())
    assert np.all(imp["sum_epoch"] >= imp["epoch"] - 1e-12)
    assert np.all(imp["epoch"] >= imp["itr"] - 1e-12)
    first = r.net[0]
    assert first.weight.nnz == round(first.weight.density * 32 * 30)
    # the known informative features are found
    assert len(set(top_k(imp["sum_epoch"], 4).tolist()) & inf) >= 3


def test_attribution_one_epoch_sum_equals_epoch_and_early_stopping():
    X, y, _ = _synthetic()
    r = train_attribution(X, y, hidden=(16,), epochs=1, val_fraction=0.0)
    np.testing.assert_array_equal(r.importances["sum_epoch"], r.importances["epoch"])
    r = train_attribution(X, y, hidden=(16,), epochs=30, patience=2, lr=0.05)
    assert len(r.val_losses) <= 30 and len(r.val_losses) - 1 - r.best_epoch <= 2


def test_bad_arguments():
    X, y, _ = _synthetic()
    with pytest.raises(ConfigError, match="dst must be 'set' or 'rigl', got 'snip'"):
        train_attribution(X, y, dst="snip", epochs=1)
    with pytest.raises(ConfigError, match="density"):
        train_attribution(X, y, density=0.0)
    with pytest.raises(ValueError, match="one class index"):
        train_attribution(X, y[:-1])
    with pytest.raises(ConfigError, match="output must be one of"):
        train_sparse_dae(X, output="relu")
    with pytest.raises(ConfigError, match="epochs must be an integer"):
        train_sparse_dae(X, epochs=0)
    with pytest.raises(ValueError, match="non-empty 2-D"):
        train_sparse_dae(X[0])


def _madelon():
    z = np.load(shared_data("madelon"), allow_pickle=False)
    X = z["x_train"].astype(np.float64)
    X = (X - X.mean(0)) / X.std(0)
    # Madelon's 20 relevant features (5 informative + 15 linear combinations of them) are the
    # ones strongly correlated with another feature; the 480 probes are independent noise.
    C = np.corrcoef(X.T)
    np.fill_diagonal(C, 0.0)
    relevant = set(np.flatnonzero(np.abs(C).max(axis=0) > 0.5).tolist())
    assert len(relevant) == 20
    return X, z["y_train"].astype(np.int64), relevant


@pytest.mark.slow
def test_madelon_fast_reproduction():
    """Top-20 features: a random ranking hits 0.8 relevant ones on average (P(>= 6) < 1e-4)."""
    X, y, relevant = _madelon()
    qs = train_sparse_dae(X, epochs=5, output="tanh", seed=0)
    hits_qs = len(set(top_k(qs.scores(), 20).tolist()) & relevant)
    na = train_attribution(X, y, epochs=3, val_fraction=0.0, seed=0)
    hits_na = len(set(top_k(na.importances["sum_epoch"], 20).tolist()) & relevant)
    assert hits_qs >= 6, hits_qs
    assert hits_na >= 6, hits_na
