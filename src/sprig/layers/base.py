r"""The layer protocol shared by dense and sparse layers.

Every layer works in the feature-major layout: inputs ``X`` of shape ``(in_features, N)`` and
outputs ``Y`` of shape ``(out_features, N)``, C-contiguous (see :mod:`sprig.typing`). The
equations in the docstrings are written in that layout (Nerva's column-wise form), e.g. a
linear layer is ``Y = W X + b 1ᵀ``, ``dW = dY Xᵀ``, ``db = dY 1``, ``dX = Wᵀ dY``.

``forward`` returns the output together with a *backprop closure* (thinc's idiom): the closure
keeps whatever the backward pass needs, so nothing is stored on ``self`` and a layer can be
evaluated while a training step is in flight. Calling ``backprop(dY)``

* **writes** (overwrites, not accumulates) the gradient of every parameter into its
  :class:`Param`'s ``grad`` buffer, and
* returns ``dX`` — or ``None`` when ``forward`` was called with ``input_grad=False``, which lets
  the first layer skip its backward-data product.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..typing import FloatArray

#: ``dY -> dX`` (``None`` when the input gradient was not requested).
Backprop = Callable[[FloatArray], FloatArray | None]


@dataclass
class Param:
    """A trainable array and its gradient buffer, same shape and dtype.

    For a sparse weight ``value`` is ``W.data`` (one entry per stored weight), so optimizers
    are identical for dense and sparse parameters. ``per_entry`` marks such a value: its
    optimizer state must be carried through topology edits with a
    :class:`~sprig.matrices.Remap`.
    """

    value: FloatArray
    grad: FloatArray
    per_entry: bool = False

    def __post_init__(self) -> None:
        if self.value.shape != self.grad.shape or self.value.dtype != self.grad.dtype:
            raise ValueError(
                f"value {self.value.shape}/{self.value.dtype} and grad "
                f"{self.grad.shape}/{self.grad.dtype} must match"
            )


@runtime_checkable
class Layer(Protocol):
    """What :class:`~sprig.layers.sequential.Sequential` needs from a layer."""

    def forward(
        self, X: FloatArray, *, train: bool, input_grad: bool = True
    ) -> tuple[FloatArray, Backprop]:
        """Return ``(Y, backprop)`` for a feature-major batch ``X``."""
        ...

    def params(self) -> Mapping[str, Param]:
        """Trainable parameters by local name (``"weight"``, ``"bias"``...); may be empty."""
        ...


def check_input(X: FloatArray, features: int, dtype: np.dtype[Any], layer: object) -> None:
    """Raise ``ValueError`` unless ``X`` is a feature-major ``(features, N)`` batch of ``dtype``.

    ``layer`` names the layer in the message (its ``repr`` is built only on failure: this
    runs on every forward call).
    """
    if X.ndim != 2 or X.shape[0] != features:
        raise ValueError(
            f"{layer}: expected input of shape ({features}, N) (feature-major), got {X.shape}"
        )
    if X.dtype != dtype:
        raise ValueError(f"{layer}: input dtype {X.dtype} differs from the layer's {dtype}")
