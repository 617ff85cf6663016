"""Degenerate problems refused before training: data a classifier cannot learn from, and
networks with a layer that holds no weight.

These are not malformed inputs (every array is valid) but runs whose result would be
meaningless while looking normal: one class gives "test accuracy 1.0000", a stray label 99
adds 96 output units no sample ever trains, a class seen only in the test set can never be
predicted, and a layer with zero weights outputs its bias whatever the input. Each check
raises one error naming the value and what is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConfigError, DataError


def _ranges(values: Any, limit: int = 4) -> str:
    """``[3, 4, 5, 9]`` → ``"3..5, 9"`` (at most ``limit`` runs, then ``…``)."""
    vals = [int(v) for v in values]
    runs: list[str] = []
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[j] + 1:
            j += 1
        runs.append(str(vals[i]) if i == j else f"{vals[i]}..{vals[j]}")
        i = j + 1
    return ", ".join(runs[:limit]) + (", …" if len(runs) > limit else "")


def check_labels(data: Any) -> None:
    """Refuse a classification dataset whose labels cannot train a classifier.

    Requires at least 2 classes in ``y_train``, no test label absent from ``y_train``, at
    least 2 training samples per class on average (more classes than half the samples means
    continuous values or identifiers, e.g. a float target with 120 distinct values), and
    every class ``0..K-1`` present in ``y_train`` (``K = num_classes``).

    Raises:
        DataError: naming the labels found and what is allowed.
    """
    name = getattr(data, "name", "dataset")
    y_train = np.asarray(data.y_train)
    k = int(data.num_classes)
    present = np.unique(y_train)
    if len(present) < 2:
        raise DataError(
            f"{name}: y_train holds a single class (label {_ranges(present)}); a classifier "
            "needs at least 2 classes"
        )
    unseen = np.setdiff1d(np.unique(np.asarray(data.y_test)), present)
    if len(unseen):
        raise DataError(
            f"{name}: y_test has label(s) {_ranges(unseen)} that never occur in y_train; "
            "every test class must occur in the training set"
        )
    if len(present) > 2 and 2 * len(present) > len(y_train):
        raise DataError(
            f"{name}: y_train has {len(present)} classes for {len(y_train)} samples (fewer "
            "than 2 per class); the labels look continuous or like identifiers, and a "
            "classifier needs at least 2 samples per class on average"
        )
    missing = np.setdiff1d(np.arange(k), present)
    if len(missing):
        raise DataError(
            f"{name}: labels span 0..{k - 1} ({k} output units) but y_train uses only "
            f"{len(present)} of them (none of {_ranges(missing)}); labels must be 0..K-1 with "
            "every class present"
        )


def check_network(model: Any) -> None:
    """Refuse a network with a sparse layer that stores no weight.

    Raises:
        ConfigError: naming the layer, its shape and the smallest density keeping a weight.
    """
    for path, layer in model.affine_modules().items():
        if layer.nnz == 0:
            dense = layer.in_features * layer.out_features
            raise ConfigError(
                f"layer {path} ({layer.out_features}x{layer.in_features}) has no weights at "
                f"this density; it needs a density of at least 1/{dense} = {1 / dense:.3g} "
                "to keep one weight"
            )
