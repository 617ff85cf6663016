r"""Batch normalisation over the batch axis of a feature-major ``(D, N)`` batch.

Training mode (batch statistics; ``1`` is the ones vector of length ``N``):

.. math::
    \mu = \tfrac1N X 1, \quad R = X - \mu 1^\top, \quad
    \sigma^2 = \tfrac1N (R \odot R) 1, \quad
    Z = \operatorname{diag}(\sigma^2 + \epsilon)^{-1/2} R, \quad
    Y = \operatorname{diag}(\gamma) Z + \beta 1^\top

Backward (Yeh's derivation, Nerva's equation in column form), with :math:`s = (\sigma^2 +
\epsilon)^{-1/2}`:

.. math::
    dZ = \operatorname{diag}(\gamma)\, dY, \quad d\beta = dY 1, \quad d\gamma = (Z \odot dY) 1,
    \quad dX = \tfrac1N \operatorname{diag}(s)
        \big(N\, dZ - (dZ 1) 1^\top - Z \odot ((Z \odot dZ) 1\, 1^\top)\big)

Evaluation mode uses the running statistics as constants, so the layer is an affine map:
:math:`Z = \operatorname{diag}(v + \epsilon)^{-1/2} (X - m 1^\top)`, ``Y`` as above,
:math:`dX = \operatorname{diag}(\gamma \odot (v + \epsilon)^{-1/2})\, dY`, same ``dγ``, ``dβ``.

Running statistics follow PyTorch: after each *training* forward,
``m ← (1 − momentum) m + momentum μ`` and ``v ← (1 − momentum) v + momentum σ²·N/(N−1)``
(the unbiased batch variance, whereas the biased one normalises). They start at ``m = 0``,
``v = 1``. Cost: O(D · N) each way.

References:
    Ioffe, Szegedy, "Batch Normalization" (2015); Yeh, "Deriving Batch-Norm Backprop as a
    Chain of Matrix Operations" (2017).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..specs.registry import LAYERS
from ..typing import FloatArray, check_float_dtype
from .activation import _check_features
from .base import Backprop, Param, check_input


@LAYERS.register(
    "batch_norm",
    aliases=("batch_normalization",),
    doc="batch normalization (affine); consumes no layer size",
    linear=False,
)
class BatchNorm:
    r"""Batch normalisation of each feature (row) over the batch (module docstring).

    Parameters ``"gamma"`` (scale, initialised to 1) and ``"beta"`` (shift, 0), each of shape
    ``(features,)``, when ``affine``. Buffers ``"running_mean"`` and ``"running_var"``
    (shape ``(features,)``, the layer's dtype) are returned by :meth:`buffers` as the live
    arrays: the training forward updates them in place and loading must write into them in
    place (``layer.buffers()["running_mean"][...] = saved``).

    Args:
        features: number of rows ``D`` of the input.
        momentum: weight of the new batch statistics in the running averages, in ``[0, 1]``.
        eps: added to the variance before the inverse square root, ``> 0``.
        affine: learn ``gamma`` and ``beta``; otherwise ``Y = Z``.
        dtype: float32 (default) or float64.

    Raises:
        ConfigError: (a ``ValueError``) for ``momentum`` outside ``[0, 1]`` or ``eps ≤ 0``.
    """

    def __init__(
        self,
        features: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        self.features = _check_features(features)
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"BatchNorm: momentum must be in [0, 1], got momentum={momentum!r}")
        if not eps > 0.0:
            raise ConfigError(f"BatchNorm: eps must be > 0, got eps={eps!r}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.affine = bool(affine)
        self.dtype = check_float_dtype(dtype)
        D = self.features
        self.gamma = np.ones(D, self.dtype)
        self.gamma_grad = np.zeros(D, self.dtype)
        self.beta = np.zeros(D, self.dtype)
        self.beta_grad = np.zeros(D, self.dtype)
        self.running_mean = np.zeros(D, self.dtype)
        self.running_var = np.ones(D, self.dtype)

    def __repr__(self) -> str:
        return (
            f"BatchNorm({self.features}, momentum={self.momentum}, eps={self.eps}, "
            f"affine={self.affine})"
        )

    def params(self) -> Mapping[str, Param]:
        """``gamma`` and ``beta`` (shape ``(features,)``), or nothing if not ``affine``."""
        if not self.affine:
            return {}
        return {
            "gamma": Param(self.gamma, self.gamma_grad),
            "beta": Param(self.beta, self.beta_grad),
        }

    def buffers(self) -> dict[str, FloatArray]:
        """The live ``running_mean`` and ``running_var`` arrays (load into them in place)."""
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def forward(
        self, X: FloatArray, *, train: bool, input_grad: bool = True
    ) -> tuple[FloatArray, Backprop]:
        """Normalise with batch statistics (and update the running ones) if ``train``, else
        with the running statistics; see the module docstring.

        Raises:
            ValueError: in training mode with a batch of one example (no variance).
        """
        check_input(X, self.features, self.dtype, self)
        N = X.shape[1]
        if train and N < 2:
            raise ValueError(f"{self!r}: training needs a batch of N >= 2, got N={N}")
        with np.errstate(under="ignore"):  # tiny deviations squared may underflow, harmlessly
            Y, backprop = self._forward(X, train, input_grad)
        return Y, backprop

    def _forward(self, X: FloatArray, train: bool, input_grad: bool) -> tuple[FloatArray, Backprop]:
        """The forward pass proper (module docstring), run with underflow silenced."""
        N = X.shape[1]
        if train:
            mu = X.mean(axis=1)
            R = X - mu[:, None]
            var = np.mean(R * R, axis=1)
            s = 1 / np.sqrt(var + self.eps)
            Z = R * s[:, None]
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mu
            self.running_var *= 1 - m
            self.running_var += (m * N / (N - 1)) * var
        else:
            s = 1 / np.sqrt(self.running_var + self.eps)
            Z = (X - self.running_mean[:, None]) * s[:, None]
        gamma = self.gamma if self.affine else None
        Y = Z if gamma is None else Z * gamma[:, None] + self.beta[:, None]

        def backprop(dY: FloatArray) -> FloatArray | None:
            with np.errstate(under="ignore"):
                return _backward(dY)

        def _backward(dY: FloatArray) -> FloatArray | None:
            if gamma is not None:
                np.sum(dY, axis=1, out=self.beta_grad)
                np.sum(Z * dY, axis=1, out=self.gamma_grad)
            if not input_grad:
                return None
            if not train:
                scale = s if gamma is None else gamma * s
                dX: FloatArray = dY * scale[:, None]
                return dX
            dZ = dY if gamma is None else dY * gamma[:, None]
            dX = N * dZ
            dX -= dZ.sum(axis=1, keepdims=True)
            dX -= Z * np.sum(Z * dZ, axis=1, keepdims=True)
            dX *= (s / N)[:, None]
            return dX

        return Y, backprop
