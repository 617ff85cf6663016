"""Dataset validation, one-hot targets and deterministic subsets."""

import numpy as np
import pytest

from sprig.data import Dataset, one_hot
from sprig.errors import ConfigError, DataError


def _toy(n=30, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, d)),
        np.arange(n) % k,
        rng.standard_normal((n // 3, d)),
        np.arange(n // 3) % k,
    )


def test_coerces_to_float32_int64_c_contiguous():
    xtr, ytr, xte, yte = _toy()
    ds = Dataset(np.asfortranarray(xtr), ytr.astype(np.uint8), xte, yte, num_classes=3)
    assert ds.x_train.dtype == np.float32 and ds.x_train.flags.c_contiguous
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    np.testing.assert_array_equal(ds.x_train, xtr.astype(np.float32))
    assert ds.num_features == 4


def test_from_arrays_flattens_and_infers_classes():
    x = np.zeros((6, 2, 3), np.uint8)
    ds = Dataset.from_arrays(x, [0, 1, 2, 0, 1, 4], x[:2], [0, 1], name="t")
    assert ds.x_train.shape == (6, 6) and ds.num_classes == 5


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_rejected(bad):
    xtr, ytr, xte, yte = _toy()
    xte[2, 1] = bad
    with pytest.raises(DataError, match=r"x_test.*NaN/inf.*row 2, feature 1"):
        Dataset(xtr, ytr, xte, yte, num_classes=3)


def test_float32_overflow_rejected():
    xtr, ytr, xte, yte = _toy()
    xtr[0, 0] = 1e300
    with pytest.raises(DataError, match="float32 range"):
        Dataset(xtr, ytr, xte, yte, num_classes=3)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.__setitem__(1, a[1].astype(float) + 0.5), "integer class labels"),
        (lambda a: a.__setitem__(1, np.r_[a[1][:-1], 3]), "label out of range.*0..2"),
        (lambda a: a.__setitem__(1, np.r_[a[1][:-1], -1]), "label out of range"),
        (lambda a: a.__setitem__(1, a[1][:-1]), "30 rows but y_train has 29"),
        (lambda a: a.__setitem__(2, a[2][:, :3]), "x_test has 3 features, x_train has 4"),
        (lambda a: a.__setitem__(0, a[0][:0]), "training set is empty"),
        (lambda a: a.__setitem__(0, a[0][:, 0]), "must be 2-D"),
        (lambda a: a.__setitem__(1, np.array(["a"] * 30)), "integer class labels"),
    ],
)
def test_validation_errors(change, match):
    arrays = list(_toy())
    change(arrays)
    if arrays[0].shape[0] == 0:
        arrays[1] = arrays[1][:0]
    with pytest.raises(DataError, match=match):
        Dataset(*arrays, num_classes=3)


def test_image_shape_must_match():
    xtr, ytr, xte, yte = _toy()
    with pytest.raises(DataError, match="image_shape"):
        Dataset(xtr, ytr, xte, yte, num_classes=3, image_shape=(1, 2, 3))


def test_one_hot_feature_major():
    T = one_hot(np.array([1, 0, 2, 1]), 3, np.float64)
    assert T.shape == (3, 4) and T.dtype == np.float64 and T.flags.c_contiguous
    np.testing.assert_array_equal(T.argmax(axis=0), [1, 0, 2, 1])
    np.testing.assert_array_equal(T.sum(axis=0), 1)
    ds = Dataset(*_toy(), num_classes=3)
    assert ds.one_hot(ds.y_test).shape == (3, 10)
    with pytest.raises(DataError, match="out of range"):
        one_hot(np.array([3]), 3)


def test_subset_stratified_and_deterministic():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], [60, 30, 10])
    ds = Dataset(rng.standard_normal((100, 3)), y, rng.standard_normal((40, 3)), y[::-1][:40],
                 num_classes=3)  # fmt: skip
    a = ds.subset(n_train=50, n_test=20, seed=3)
    b = ds.subset(n_train=50, n_test=20, seed=3)
    c = ds.subset(n_train=50, n_test=20, seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert np.bincount(a.y_train).tolist() == [30, 15, 5]
    assert len(a.y_test) == 20
    # Selected rows are real rows, in their original order.
    rows = [np.flatnonzero((ds.x_train == r).all(axis=1))[0] for r in a.x_train]
    assert rows == sorted(rows)
    r = ds.subset(n_train=7, stratified=False, seed=0)
    assert len(r.y_train) == 7 and len(r.y_test) == 40
    with pytest.raises(ConfigError, match="n_train"):
        ds.subset(n_train=101)
