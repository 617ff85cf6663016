r"""Inverted dropout on activations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..specs.registry import LAYERS, UNIT_OPEN_RIGHT
from ..specs.registry import Param as SpecParam
from ..typing import FloatArray, check_float_dtype
from .activation import _check_features
from .base import Backprop, Param, check_input


@LAYERS.register(
    "dropout",
    SpecParam("p", UNIT_OPEN_RIGHT, 0.5, ("rate",), "probability of zeroing an activation"),
    doc="activation dropout layer; consumes no layer size",
    linear=False,
)
class Dropout:
    r"""Inverted dropout: zero each activation with probability ``p`` while training.

    .. math:: M_{ij} \sim \operatorname{Bernoulli}(1 - p), \qquad
        Y = X \odot M / (1 - p), \qquad dX = dY \odot M / (1 - p)

    A fresh mask is drawn from ``self.rng`` on every training forward, so ``E[Y] = X``. In
    evaluation (``train=False``), and for ``p = 0``, the layer is the identity: it returns ``X``
    itself (no copy) and ``dX = dY``, drawing no random numbers. Unlike Nerva (which drops
    *weights* with ``p`` used as a keep probability), ``p`` here is the drop probability of an
    activation, as in PyTorch. Shapes ``(features, N)``; cost O(features · N).

    Args:
        features: number of rows of the input.
        p: drop probability in ``[0, 1)``.
        rng: generator for the masks (held as ``self.rng``).
        dtype: float32 (default) or float64.

    Raises:
        ConfigError: (a ``ValueError``) if ``p`` is not in ``[0, 1)``.
    """

    def __init__(
        self, features: int, p: float, rng: np.random.Generator, dtype: Any = np.float32
    ) -> None:
        self.features = _check_features(features)
        if isinstance(p, bool) or not isinstance(p, int | float | np.floating) or not 0 <= p < 1:
            raise ConfigError(f"Dropout: p must be a probability in [0, 1), got p={p!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"Dropout: rng must be a numpy.random.Generator, got {rng!r}")
        self.p = float(p)
        self.rng = rng
        self.dtype = check_float_dtype(dtype)

    def __repr__(self) -> str:
        return f"Dropout({self.features}, p={self.p})"

    def params(self) -> Mapping[str, Param]:
        """No parameters."""
        return {}

    def forward(
        self, X: FloatArray, *, train: bool, input_grad: bool = True
    ) -> tuple[FloatArray, Backprop]:
        """Apply a fresh mask in training, the identity in evaluation (class docstring)."""
        check_input(X, self.features, self.dtype, self)
        if not train or self.p == 0.0:

            def identity(dY: FloatArray) -> FloatArray | None:
                return dY if input_grad else None

            return X, identity
        keep = 1.0 - self.p
        M = (self.rng.random(X.shape) < keep).astype(self.dtype)
        M *= self.dtype.type(1.0 / keep)
        Y = X * M

        def backprop(dY: FloatArray) -> FloatArray | None:
            return dY * M if input_grad else None

        return Y, backprop
