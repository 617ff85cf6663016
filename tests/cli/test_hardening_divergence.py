"""Class 7 of issue 8, finite divergence: an exploding loss or weights beyond the float32-safe
range stop training with epoch, batch and step (exit 3), like NaN does."""

from __future__ import annotations

import numpy as np
import pytest

from hardening_util import TRAIN, assert_error, sprig, write_dataset
from sprig.training.guards import DivergenceGuard


def test_adam_at_huge_learning_rate_stops(tmp_path):
    good = write_dataset(tmp_path / "good.npz")
    argv = [a.format(good=good, out=tmp_path / "r") for a in TRAIN]
    proc = sprig([*argv, "--optimizers", "Adam", "--learning-rate", "1e6", "--epochs", "3"],
                 cwd=tmp_path)  # fmt: skip
    assert_error(proc, "at epoch 1, batch", code=3)
    line = proc.stderr.lower()
    assert "(step " in line and ("exploded" in line or "float32-safe" in line or "nan" in line)


class _P:
    def __init__(self, v):
        self.value = np.asarray(v, dtype=np.float32)


def test_guard_loss_explosion_needs_patience():
    g = DivergenceGuard(factor=1e4, patience=3)
    params = {"w": _P([1.0, -2.0])}
    assert g.check(2.3, params) is None
    assert g.check(5e4, params) is None  # one spike is not divergence
    assert g.check(2.0, params) is None
    assert g.check(3e4, params) is None and g.check(4e4, params) is None
    why = g.check(7e16, params)
    assert why is not None and "loss exploded to 7e+16" in why and "3 batches" in why


def test_guard_weights_beyond_float32_safe_range():
    g = DivergenceGuard()
    assert g.check(1.0, {"w": _P([1e17, -1e17])}) is None
    why = g.check(1.0, {"w": _P([0.0, -3e18])})
    assert why is not None and "parameter w reached magnitude 3e+18" in why


def test_guard_rejects_bad_settings():
    with pytest.raises(ValueError, match="factor > 1"):
        DivergenceGuard(factor=0.5)
