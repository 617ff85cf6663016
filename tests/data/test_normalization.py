"""Normalization: formulas, statistics from the training rows only, JSON round trip."""

import json

import numpy as np
import pytest

from sprig.data import NORMALIZATIONS, Dataset, Normalization, load_digits, normalize
from sprig.errors import ConfigError


def _images(seed=0):
    rng = np.random.default_rng(seed)
    xtr = rng.integers(0, 256, (50, 3 * 4 * 4)).astype(np.uint8)
    xte = rng.integers(0, 256, (20, 3 * 4 * 4)).astype(np.uint8)
    return Dataset.from_arrays(xtr, np.arange(50) % 2, xte, np.arange(20) % 2,
                               image_shape=(3, 4, 4), pixel_max=255)  # fmt: skip


def test_scale_and_minmax_use_pixel_max():
    ds = _images()
    s, norm = normalize(ds, "scale")
    np.testing.assert_allclose(s.x_test, ds.x_test / 255, rtol=1e-6)
    assert norm.scale == (255.0,)
    m, _ = normalize(ds, "minmax")
    np.testing.assert_allclose(m.x_train, 2 * (ds.x_train / 255 - 0.5), atol=1e-6)
    assert m.x_train.min() >= -1 and m.x_train.max() <= 1
    assert m.pixel_max is None and m.x_train.dtype == np.float32


def test_scale_without_pixel_max_uses_train_max_only():
    rng = np.random.default_rng(0)
    ds = Dataset(rng.uniform(-2, 4, (30, 5)), np.zeros(30, int), rng.uniform(0, 100, (5, 5)),
                 np.zeros(5, int), num_classes=1)  # fmt: skip
    _, norm = normalize(ds, "scale")
    assert norm.scale == (float(np.abs(ds.x_train).max()),)
    _, mm = normalize(ds, "minmax")
    lo, hi = ds.x_train.min(), ds.x_train.max()
    np.testing.assert_allclose(mm.apply(np.array([[lo, hi, lo, hi, lo]])), [[-1, 1, -1, 1, -1]],
                               atol=1e-6)  # fmt: skip


def test_standardize_fits_train_only_and_floors_constant_features():
    ds = load_digits()  # has constant (always 0) pixels in the training set
    out, norm = normalize(ds, "standardize")
    x = ds.x_train.astype(np.float64)
    mean, std = x.mean(0), x.std(0)
    np.testing.assert_allclose(norm.shift, mean)
    const = std < 1e-6
    assert const.any()
    np.testing.assert_array_equal(np.asarray(norm.scale)[const], 1.0)
    np.testing.assert_allclose(out.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.x_train.std(0)[~const], 1, atol=1e-4)
    assert np.all(np.isfinite(out.x_test))
    # Changing the test set does not change the fitted statistics.
    other = Dataset(ds.x_train, ds.y_train, ds.x_test * 0 + 7, ds.y_test, num_classes=10)
    assert normalize(other, "standardize")[1] == norm


def test_channel_statistics_per_plane():
    ds = _images()
    out, norm = normalize(ds, "channel")
    planes = ds.x_train.reshape(50, 3, 16).astype(np.float64)
    np.testing.assert_allclose(norm.shift, planes.mean(axis=(0, 2)))
    np.testing.assert_allclose(norm.scale, planes.std(axis=(0, 2)))
    o = out.x_train.reshape(50, 3, 16)
    np.testing.assert_allclose(o.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(o.std(axis=(0, 2)), 1, atol=1e-5)
    # Same as torchvision: (x/255 - mean01) / std01.
    mean01, std01 = planes.mean(axis=(0, 2)) / 255, planes.std(axis=(0, 2)) / 255
    ref = (ds.x_test.reshape(20, 3, 16) / 255 - mean01[:, None]) / std01[:, None]
    np.testing.assert_allclose(out.x_test, ref.reshape(20, -1), atol=1e-5)
    with pytest.raises(ConfigError, match="channel count"):
        Normalization.fit("channel", ds.x_train, channels=5)


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_json_round_trip_reapplies_identically(method):
    ds = _images()
    out, norm = normalize(ds, method)
    back = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert back == norm
    np.testing.assert_array_equal(back.apply(ds.x_test), out.x_test)


def test_errors():
    with pytest.raises(ConfigError, match="unknown normalization 'zscore'"):
        normalize(_images(), "zscore")
    with pytest.raises(ConfigError, match="invalid normalization record"):
        Normalization.from_dict({"method": "scale"})
    with pytest.raises(ConfigError, match="scale"):
        Normalization("scale", (0.0,), (0.0,))
