"""Batches: coverage, layout, determinism per (seed, epoch), mid-epoch resume, augmentation."""

import numpy as np
import pytest

from sprig.data import AUGMENT_TAG, Batches, RandomCropFlip, load_digits
from sprig.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_every_sample_once_per_epoch_and_layout(digits):
    X, y = digits.x_train, digits.y_train
    b = Batches(X, y, 100, seed=3, num_classes=10)
    assert len(b) == 15  # 1438 rows: 14 full batches + 38 kept
    batches = list(b.epoch(2))
    assert len(batches) == 15 and batches[-1].Xt.shape == (64, 38)
    seen = np.concatenate([bt.rows for bt in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(len(y)))
    for bt in batches:
        assert bt.Xt.flags.c_contiguous and bt.Xt.dtype == np.float32
        np.testing.assert_array_equal(bt.Xt, X[bt.rows].T)
        np.testing.assert_array_equal(bt.y, y[bt.rows])
        assert bt.Tt.shape == (10, len(bt.rows))
        np.testing.assert_array_equal(bt.Tt.argmax(0), bt.y)
        np.testing.assert_array_equal(bt.Tt.sum(0), 1)


def test_order_is_a_pure_function_of_seed_and_epoch(digits):
    X, y = digits.x_train, digits.y_train
    a = Batches(X, y, 64, seed=7)
    b = Batches(X, y, 64, seed=7)
    np.testing.assert_array_equal(
        a.epoch_order(4), np.random.default_rng([7, 4]).permutation(len(y))
    )
    list(a.epoch(0))  # consuming other epochs changes nothing
    np.testing.assert_array_equal(a.epoch_order(4), b.epoch_order(4))
    assert not np.array_equal(a.epoch_order(4), a.epoch_order(5))
    assert not np.array_equal(a.epoch_order(4), Batches(X, y, 64, seed=8).epoch_order(4))
    np.testing.assert_array_equal(Batches(X, y, 64, shuffle=False).epoch_order(9),
                                  np.arange(len(y)))  # fmt: skip


def test_resume_from_batch_k_gives_the_remaining_batches(digits):
    aug = RandomCropFlip(1, 8, 8, pad=2)
    b = Batches(digits.x_train, digits.y_train, 50, seed=11, augment=aug)
    full = list(b.epoch(3))
    fresh = Batches(digits.x_train, digits.y_train, 50, seed=11, augment=aug)
    rest = list(fresh.epoch(3, start=17))
    assert len(rest) == len(full) - 17
    for x, r in zip(full[17:], rest, strict=True):
        np.testing.assert_array_equal(x.rows, r.rows)
        np.testing.assert_array_equal(x.Xt, r.Xt)  # same augmentation draws too
        np.testing.assert_array_equal(x.Tt, r.Tt)
    assert list(b.epoch(3, start=len(b))) == []
    np.testing.assert_array_equal(b.batch_indices(3, 17), full[17].rows)


def test_augmentation_rng_derived_from_seed_epoch_batch(digits):
    calls = []

    def record(Xt, rng):
        calls.append(rng.integers(1 << 30))
        return Xt * 2

    b = Batches(digits.x_train, digits.y_train, 500, seed=2, augment=record)
    out = list(b.epoch(1))
    want = [np.random.default_rng([2, 1, k, AUGMENT_TAG]).integers(1 << 30) for k in range(3)]
    assert calls == want
    np.testing.assert_array_equal(out[0].Xt, 2 * digits.x_train[out[0].rows].T)
    # Distinct from the permutation stream of the same (seed, epoch).
    perm_draw = np.random.default_rng([2, 1]).integers(1 << 30)
    assert perm_draw not in calls


def test_drop_last_and_dtype(digits):
    b = Batches(digits.x_train, digits.y_train, 100, drop_last=True, dtype=np.float64)
    batches = list(b.epoch(0))
    assert len(b) == 14 and all(bt.Xt.shape == (64, 100) for bt in batches)
    assert batches[0].Xt.dtype == np.float64 and batches[0].Tt.dtype == np.float64
    assert len(np.unique(np.concatenate([bt.rows for bt in batches]))) == 1400
    # Fresh arrays each time: mutating a batch does not touch the next epoch's data.
    batches[0].Xt[:] = -1
    assert next(b.epoch(0)).Xt.min() >= 0


def test_errors(digits):
    X, y = digits.x_train, digits.y_train
    with pytest.raises(ConfigError, match="batch_size"):
        Batches(X, y, 0)
    with pytest.raises(ConfigError, match="drop_last"):
        Batches(X[:5], y[:5], 10, drop_last=True)
    with pytest.raises(ConfigError, match="seed"):
        Batches(X, y, 10, seed=-1)
    with pytest.raises(DataError, match="1438 rows but y has 10"):
        Batches(X, y[:10], 10)
    with pytest.raises(DataError, match="out of range"):
        Batches(X, y, 10, num_classes=5)
    with pytest.raises(ConfigError, match="start batch"):
        next(Batches(X, y, 100).epoch(0, start=16))
