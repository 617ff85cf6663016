"""experiments/feature_selection.py: the gap table against published figures, the extra-K SVC
scores of the attribution paper's protocol, and the Fisher-score / f_classif equivalence that
the gap table relies on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "feature_selection.py"


@pytest.fixture(scope="module")
def fs():
    spec = importlib.util.spec_from_file_location("feature_selection_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


def _row(dataset, method, seed, et):
    return {
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "scores": {"": {"extratrees": et, "svc": 0.0, "kmeans": 0.0}},
    }


def test_gap_rows_mean_std_and_sign(fs):
    pub = [{"dataset": "mnist", "metric": "extratrees", "method": "all", "value": 90.0}]
    rows = [
        _row("mnist", "all", 0, 0.92),
        _row("mnist", "all", 1, 0.94),
        _row("mnist", "f_classif", 0, 0.10),  # other method: ignored
        _row("isolet", "all", 0, 0.10),  # other dataset: ignored
        {"dataset": "mnist", "method": "cost", "seed": 0},  # cost lines have no scores
    ]
    (g,) = fs.gap_rows([r for r in rows if "scores" in r], pub)
    assert g["n"] == 2
    assert g["sprig"] == pytest.approx(93.0)
    assert g["std"] == pytest.approx(1.0)
    assert g["gap"] == pytest.approx(3.0)
    (missing,) = fs.gap_rows([], pub)
    assert missing["sprig"] is None and missing["gap"] is None and missing["n"] == 0


def test_published_entries_are_sourced_percentages(fs):
    assert fs.PUBLISHED, "the gap table needs at least one published figure"
    for p in fs.PUBLISHED:
        assert p["dataset"] in fs.DATASETS
        assert p["method"] in fs.BASELINES or p["method"] in fs.SPARSE_METHODS
        assert 0.0 < p["value"] <= 100.0
        assert p["source"].startswith("LassoNet") and "https://" in p["source"]


def test_svc_at_k_uses_the_top_of_the_ranking(fs):
    rng = np.random.default_rng(0)
    n, d = 200, 30
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, d))
    X[:, 3] += 3.0 * (2 * y - 1)  # the only informative feature
    data = (X[:100], y[:100], X[100:], y[100:])
    good = np.array([3, *[j for j in range(d) if j != 3]])
    bad = np.array([*[j for j in range(d) if j != 3], 3])
    a = fs.svc_at_k(good, data, [1, 5])
    b = fs.svc_at_k(bad, data, [1, 5])
    assert set(a) == {"1", "5"}
    assert a["1"] > 0.9 and b["1"] < 0.75  # feature 3 first vs a noise feature first
    with pytest.raises(ValueError, match="K=31 exceeds"):
        fs.svc_at_k(good, data, [31])


def test_f_classif_ranks_like_the_fisher_score():
    """The published 'Fisher' column is compared with our f_classif: same ranking, since
    F = (SSB / (C-1)) / (SSW / (n-C)) and Fisher score = SSB / SSW."""
    from sklearn.feature_selection import f_classif

    rng = np.random.default_rng(1)
    n, d, C = 120, 25, 3
    y = rng.integers(0, C, size=n)
    X = rng.normal(size=(n, d)) + rng.normal(size=(C, d))[y] * rng.uniform(0, 2, size=d)
    mu = X.mean(0)
    ssb = sum((y == c).sum() * (X[y == c].mean(0) - mu) ** 2 for c in range(C))
    ssw = sum(((X[y == c] - X[y == c].mean(0)) ** 2).sum(0) for c in range(C))
    fisher = ssb / ssw
    F = f_classif(X, y)[0]
    np.testing.assert_allclose(F, fisher * (n - C) / (C - 1), rtol=1e-10)
    np.testing.assert_array_equal(np.argsort(-F), np.argsort(-fisher))


def test_cli_rejects_bad_extra_k(fs, capsys):
    with pytest.raises(SystemExit) as e:
        fs.main(["--extra-k", "0", "--datasets", "madelon"])
    assert e.value.code == 2
    assert "--extra-k values must be >= 1" in capsys.readouterr().err
