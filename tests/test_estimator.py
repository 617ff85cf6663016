"""SparseMLPClassifier follows scikit-learn's conventions and learns a real dataset."""

import numpy as np
import pytest

from sprig.data.loaders import load_digits
from sprig.errors import ConfigError, DataError
from sprig.estimator import SparseMLPClassifier


def test_fit_predict_on_digits():
    d = load_digits()
    clf = SparseMLPClassifier((128,), density=0.3, epochs=5, learning_rate=0.05, seed=1)
    assert clf.fit(d.x_train, d.y_train) is clf
    assert clf.score(d.x_test, d.y_test) > 0.9
    proba = clf.predict_proba(d.x_test[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.model_.sparse_layers()  # truly sparse layers inside


def test_string_labels_and_determinism():
    d = load_digits()
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    a = SparseMLPClassifier((32,), epochs=2, seed=3).fit(d.x_train, names[d.y_train])
    b = SparseMLPClassifier((32,), epochs=2, seed=3).fit(d.x_train, names[d.y_train])
    assert set(a.predict(d.x_test[:20])) <= set(names)
    np.testing.assert_array_equal(a.decision_function(d.x_test), b.decision_function(d.x_test))


def test_sklearn_clone_and_params():
    base = pytest.importorskip("sklearn.base")
    clf = SparseMLPClassifier((64,), density=0.2, optimizer="adam")
    c = base.clone(clf)
    assert c.get_params() == clf.get_params() and c is not clf
    c.set_params(density=0.5)
    assert c.density == 0.5 and clf.density == 0.2
    with pytest.raises(ValueError, match="invalid parameter 'densty'"):
        c.set_params(densty=0.5)
    assert "density=0.2" in repr(clf)


def test_bad_input():
    clf = SparseMLPClassifier((8,), epochs=1)
    with pytest.raises(RuntimeError, match="not fitted"):
        clf.predict(np.ones((2, 3)))
    with pytest.raises(DataError, match="2 classes"):
        clf.fit(np.ones((4, 3)), np.zeros(4))
    with pytest.raises(ConfigError, match="density rule"):
        SparseMLPClassifier((8,), density_method="dense").fit(np.eye(4), [0, 1, 0, 1])
