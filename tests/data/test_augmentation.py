"""RandomCropFlip against a per-image np.pad reference; determinism."""

import numpy as np
import pytest

from conftest import shared_data
from sprig.data import RandomCropFlip
from sprig.errors import ConfigError, DataError


def reference(Xt, C, H, W, pad, flip, mode, rng):
    """Per-image loop with explicit padding, drawing in the documented order."""
    B = Xt.shape[1]
    dy = rng.integers(0, 2 * pad + 1, size=B)
    dx = rng.integers(0, 2 * pad + 1, size=B)
    flips = rng.random(B) < 0.5 if flip else np.zeros(B, bool)
    out = np.empty_like(Xt)
    for b in range(B):
        img = Xt[:, b].reshape(C, H, W)
        padded = np.pad(img, ((0, 0), (pad, pad), (pad, pad)),
                        mode="reflect" if mode == "reflect" else "constant")  # fmt: skip
        crop = padded[:, dy[b] : dy[b] + H, dx[b] : dx[b] + W]
        if flips[b]:
            crop = crop[:, :, ::-1]
        out[:, b] = crop.ravel()
    return out


@pytest.mark.parametrize("mode", ["reflect", "zeros"])
@pytest.mark.parametrize("flip", [True, False])
def test_matches_padded_reference(mode, flip):
    C, H, W, pad = 3, 6, 7, 2
    rng = np.random.default_rng(0)
    Xt = rng.standard_normal((C * H * W, 25)).astype(np.float32)
    aug = RandomCropFlip(C, H, W, pad=pad, flip=flip, mode=mode)
    got = aug(Xt, np.random.default_rng(5))
    want = reference(Xt, C, H, W, pad, flip, mode, np.random.default_rng(5))
    np.testing.assert_array_equal(got, want)
    assert got.flags.c_contiguous and got.dtype == np.float32


def test_real_cifar_batch_deterministic_and_shape_preserving():
    with np.load(shared_data("cifar10_subset")) as f:
        x = f["x_test"][:16]
    Xt = np.ascontiguousarray(x.transpose(0, 3, 1, 2).reshape(16, -1).T, dtype=np.float64)
    aug = RandomCropFlip(3, 32, 32)
    a = aug(Xt, np.random.default_rng(1))
    b = aug(Xt, np.random.default_rng(1))
    c = aug(Xt, np.random.default_rng(2))
    assert a.shape == Xt.shape and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a, reference(Xt, 3, 32, 32, 4, True, "reflect",
                                               np.random.default_rng(1)))  # fmt: skip
    # Reflect padding only moves existing pixels: values stay within each image's range.
    assert np.all(a.min(0) >= Xt.min(0)) and np.all(a.max(0) <= Xt.max(0))


def test_identity_without_pad_or_flip():
    Xt = np.arange(2 * 3 * 3 * 4, dtype=np.float32).reshape(18, 4)
    aug = RandomCropFlip(2, 3, 3, pad=0, flip=False)
    np.testing.assert_array_equal(aug(Xt, np.random.default_rng(0)), Xt)


def test_errors():
    with pytest.raises(ConfigError, match="pad < image size"):
        RandomCropFlip(1, 3, 3, pad=3)
    with pytest.raises(ConfigError, match="mode"):
        RandomCropFlip(1, 3, 3, mode="edge")
    with pytest.raises(DataError, match=r"\(27, B\)"):
        RandomCropFlip(3, 3, 3, pad=1)(np.zeros((10, 2)), np.random.default_rng(0))
