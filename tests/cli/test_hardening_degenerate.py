"""Class 6 of issue 8, degenerate data and networks: problems whose result would look normal
but mean nothing are refused before training with one line naming the labels or layer."""

from __future__ import annotations

import numpy as np
import pytest

from hardening_util import TRAIN, Case, assert_error, run_cases, write_dataset


def _train(*extra):
    return [*TRAIN, *extra]


CASES = [
    Case("one-class", _train("--dataset", "{one_class}"), "y_train holds a single class (label 0)"),
    Case("stray-label-99", _train("--dataset", "{stray}", "--layer-sizes", "20;16;100"),
         "labels span 0..99 (100 output units) but y_train uses only 4 of them (none of 3..98)"),
    Case("label-only-in-test", _train("--dataset", "{test_only}"),
         "y_test has label(s) 3 that never occur in y_train"),
    Case("continuous-float-labels", _train("--dataset", "{continuous}", "--layer-sizes",
                                           "20;16;120"),
         "y_train has 120 classes for 120 samples"),
    Case("density-leaves-no-weight", _train("--densities", "0.0001"),
         "layer 0 (16x20) has no weights at this density; it needs a density of at least 1/320"),
    Case("last-layer-no-weight", _train("--densities", "0.5;0.001"),
         "layer 2 (3x16) has no weights"),
]  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("degenerate")
    y = np.arange(120) % 3
    stray = y.copy()
    stray[7] = 99
    paths = {
        "good": write_dataset(root / "good.npz"),
        "one_class": write_dataset(root / "one.npz", y_train=np.zeros(120, np.int64),
                                   y_test=np.zeros(30, np.int64)),
        "stray": write_dataset(root / "stray.npz", y_train=stray),
        "test_only": write_dataset(root / "test_only.npz", y_test=np.arange(30) % 4),
        "continuous": write_dataset(root / "continuous.npz",
                                    y_train=np.arange(120, dtype=np.float64)[::-1].copy(),
                                    y_test=np.arange(30, dtype=np.float64)),
    }  # fmt: skip
    return root, run_cases(root, {k: str(v) for k, v in paths.items()}, CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_degenerate_refused(outcomes, c):
    root, res = outcomes
    assert_error(res["procs"][c.id], c.expect, c.code)
    assert res["changed"] == []
    assert not list(root.parent.glob(f"{root.name}-{c.id}/out")), "a failed start left a run"


def test_python_api_refuses_empty_layer():
    import sprig
    from sprig.errors import ConfigError

    with pytest.raises(ConfigError, match=r"layer 2 \(3x16\) has no weights"):
        sprig.sparse_mlp("ReLU;Linear", [20, 16, 3], density=[0.5, 0.001])


def test_estimator_refuses_continuous_targets():
    from sprig.errors import DataError
    from sprig.estimator import SparseMLPClassifier

    X = np.random.default_rng(0).normal(size=(120, 4))
    with pytest.raises(DataError, match="Unknown label type: continuous"):
        SparseMLPClassifier((8,), epochs=1).fit(X, X[:, 0] * 3.7)
