"""Class 8 of issue 8, Python API gaps: ``sprig.fit`` takes ``(X, y)`` and checks its sizes;
``SparseMLPClassifier`` validates like scikit-learn (sparse input, NaN in predict) and passes
``check_estimator`` and works in ``Pipeline``/``GridSearchCV``/``cross_val_score``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sprig
from sprig.errors import ConfigError, DataError
from sprig.estimator import NotFittedError, SparseMLPClassifier


def _xy(n=90, d=6, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, d)) + 4.0 * np.eye(3, d)[y]
    return X, y


def _model():
    return sprig.sparse_mlp("ReLU;Linear", [6, 16, 3], density=0.5, seed=0)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_fit_batch_size_checked(bad):
    with pytest.raises(ConfigError, match=f"batch_size must be a positive integer, got {bad!r}"):
        sprig.fit(_model(), _xy(), batch_size=bad, progress=False, lines=False)


def test_fit_epochs_checked():
    with pytest.raises(ConfigError, match="epochs must be a positive integer, got 0"):
        sprig.fit(_model(), _xy(), epochs=0, progress=False, lines=False)


def test_fit_accepts_x_y_tuples():
    X, y = _xy()
    hist = sprig.fit(_model(), (X, y), epochs=1, progress=False, lines=False)
    assert len(hist) == 1 and "test_accuracy" not in hist[0]  # no test split given
    hist = sprig.fit(_model(), (X, y, X[:30], y[:30]), epochs=1, progress=False, lines=False)
    assert 0.0 <= hist[0]["test_accuracy"] <= 1.0


@pytest.mark.parametrize("bad", ["data.npz", (1, 2, 3), None])
def test_fit_refuses_other_data(bad):
    with pytest.raises(ConfigError, match="data must be a sprig Dataset, \\(X, y\\)"):
        sprig.fit(_model(), bad, progress=False, lines=False)


def test_estimator_sparse_input_and_nan_predict():
    sparse = pytest.importorskip("scipy.sparse")
    X, y = _xy()
    Xs = sparse.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    clf = SparseMLPClassifier((16,), epochs=2, seed=0).fit(Xs, y)
    dense = SparseMLPClassifier((16,), epochs=2, seed=0).fit(Xs.toarray(), y)
    np.testing.assert_array_equal(clf.predict_proba(Xs), dense.predict_proba(Xs.toarray()))
    Xn = X[:5].copy()
    Xn[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(Xn)
    with pytest.raises(ValueError, match="X has 5 features, but SparseMLPClassifier is expecting"):
        clf.predict(X[:, :5])
    with pytest.raises(NotFittedError):
        SparseMLPClassifier().predict(X)


def test_estimator_binary_decision_function():
    X, y = _xy()
    y2 = np.where(y == 0, "no", "yes")
    clf = SparseMLPClassifier((16,), epochs=3, seed=0).fit(X, y2)
    d = clf.decision_function(X)
    assert d.shape == (len(X),)
    np.testing.assert_array_equal(clf.predict(X), np.where(d > 0, "yes", "no"))


def test_estimator_in_pipeline_grid_search_and_cross_val():
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _xy()
    pipe = make_pipeline(
        StandardScaler(),
        SparseMLPClassifier((16,), density=0.5, epochs=10, learning_rate=0.05, seed=0),
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.6
    grid = GridSearchCV(pipe, {"sparsemlpclassifier__density": [0.3, 0.6]}, cv=2).fit(X, y)
    assert grid.best_params_["sparsemlpclassifier__density"] in (0.3, 0.6)
    assert grid.score(X, y) > 0.6


@pytest.mark.slow
def test_check_estimator():
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SkipTestWarning (no pandas), sparse-format notes
        results = check_estimator(SparseMLPClassifier(), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]  # fmt: skip
    assert not failed, failed
    assert sum(r["status"] == "passed" for r in results) >= 45


def test_estimator_one_class_message():
    X, _ = _xy()
    with pytest.raises(DataError, match="got 1 class"):
        SparseMLPClassifier((8,), epochs=1).fit(X, np.zeros(len(X)))
