"""Nerva's generated toy datasets (``--generate-dataset``): ``checkerboard`` and ``mini``."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .datasets import Dataset


def generate(name: str, size: int = 2000, *, seed: int = 0) -> Dataset:
    """``size`` training and ``size // 5`` test samples of a generated dataset.

    * ``checkerboard``: 2 features uniform in ``[0, 1)²``, the class is the colour of the
      square of an 8 × 8 checkerboard (2 classes).
    * ``mini``: 3 integer features in ``0..10``, 2 random classes (a smoke test, as Nerva).

    Raises:
        ConfigError: unknown name or a size below 1.
    """
    if size < 1:
        raise ConfigError(f"dataset_size must be >= 1, got {size}")
    rng = np.random.default_rng([seed, 0x47454E])
    n_test = max(1, size // 5)
    n = size + n_test
    if name == "checkerboard":
        X = rng.random((n, 2))
        y = (np.floor(X[:, 0] * 8) + np.floor(X[:, 1] * 8)).astype(np.int64) % 2
    elif name == "mini":
        X = rng.integers(0, 11, size=(n, 3)).astype(np.float64)
        y = rng.integers(0, 2, size=n)
    else:
        raise ConfigError(f"unknown generated dataset {name!r}; allowed: checkerboard, mini")
    return Dataset.from_arrays(X[:size], y[:size], X[size:], y[size:], name=name, num_classes=2)
