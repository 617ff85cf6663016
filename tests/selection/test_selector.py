"""SparseFeatureSelector: scikit-learn's estimator checks, Pipeline and GridSearchCV."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import check_estimator

from sprig.selection import SparseFeatureSelector


def _data(n=120, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 3] - X[:, 7] > 0).astype(int)
    X[:, [3, 7]] += 1.5 * (2 * y[:, None] - 1) * np.array([1, -1])
    return X, y


SMALL = {"epochs": 2, "hidden": 16, "batch_size": 20}


@pytest.mark.slow
def test_check_estimator_quickselection():
    check_estimator(SparseFeatureSelector(k=1, **SMALL), on_skip=None)


@pytest.mark.slow
def test_check_estimator_attribution():
    est = SparseFeatureSelector(k=1, method="attribution", epochs=2, hidden=(8,), batch_size=20)
    check_estimator(est, on_skip=None)


def test_fit_transform_support_importances():
    X, y = _data()
    sel = SparseFeatureSelector(
        k=4,
        method="attribution",
        epochs=5,
        hidden=(24,),
        density=0.6,
        batch_size=20,
        learning_rate=0.01,
    ).fit(X, y)
    assert sel.feature_importances_.shape == (12,)
    mask = sel.get_support()
    assert mask.sum() == 4 and mask[3] and mask[7]
    np.testing.assert_array_equal(sel.transform(X), X[:, mask])
    assert sel.get_support(indices=True).tolist() == sorted(sel.ranking_[:4].tolist())
    assert list(sel.classes_) == [0, 1]
    qs = SparseFeatureSelector(k="all", **SMALL).fit(X)
    assert qs.get_support().all()


def test_pipeline_and_grid_search():
    X, y = _data()
    pipe = Pipeline(
        [
            (
                "select",
                SparseFeatureSelector(
                    method="attribution",
                    epochs=4,
                    hidden=(16,),
                    density=0.6,
                    batch_size=20,
                    learning_rate=0.01,
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    )
    grid = GridSearchCV(pipe, {"select__k": [1, 2, 4]}, cv=2).fit(X, y)
    assert grid.best_params_["select__k"] in (1, 2, 4)
    assert grid.score(X, y) > 0.8


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"k": 20}, "k=20 is larger than n_features = 12"),
        ({"k": 0}, "k must be a positive integer or 'all', got 0"),
        ({"k": "some"}, "k must be a positive integer or 'all'"),
        ({"method": "lasso"}, "method must be one of quickselection, attribution"),
        ({"ranking": "sum_epoch"}, "ranking 'sum_epoch' is not one of method 'quickselection'"),
    ],
)
def test_bad_parameters(params, match):
    X, _ = _data()
    with pytest.raises(ValueError, match=match):
        SparseFeatureSelector(**{**SMALL, **params}).fit(X)
