r"""Input Jacobians of a chain of (sparse) layers in explicit matrix form, and neuron attribution.

For a network ``y = f(x)`` built from :class:`~sprig.layers.SparseLinear`,
:class:`~sprig.layers.Linear`, :class:`~sprig.layers.ActivationLayer` and (evaluation-mode,
identity) :class:`~sprig.layers.Dropout` layers, the Jacobian ``J[k, j, n] = ∂y_k(x_n)/∂x_j``
of a feature-major batch ``X: (d, N)`` is computed by pushing all ``C`` output directions
through the backward pass *at once*: the ``C`` seeds are laid side by side as one
``(C_out, C·N)`` matrix ``G`` (column ``k·N + n`` holds ``∂y_k(x_n)/∂(last output)``), and every
layer maps it backwards with its own equation (design.md's column layout)::

    SparseLinear / Linear   Z = W X + b 1ᵀ   →   G ← Wᵀ G            (CSR: O(C·N·nnz))
    ActivationLayer         Y = f(Z)          →   G ← G ⊙ (1_Cᵀ ⊗ f'(Z))
    softmax output          p = softmax(z)    →   G₀[l, kN+n] = p_k (δ_kl − p_l)   (per sample)

so the whole Jacobian costs ``O(C · N · Σ nnz)`` for the sparse products plus
``O(C · N · Σ width)`` for the activations, with no autograd and no dense ``(out × in)``
weight. Memory ``O(C · N · max width)``.

**Neuron attribution** (Atashgahi et al., arXiv 2408.04583; code
``zahraatashgahi/Neuron-Attribution``, ``importance.py::output_attribution``): the importance of
input ``j`` on a batch is ``Σ_k mean_n |∂y_k/∂x_j|`` (:func:`attribution`). The reference
differentiates the model's *softmax* output per sample (its ``softmax(dim=0)`` is over the
classes under ``vmap``), which is ``output="softmax"`` here (the default); ``"logits"``
differentiates the last layer's output instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..activations.functions import softmax
from ..layers import ActivationLayer, Dropout, Linear, SparseLinear
from ..typing import FloatArray

__all__ = ["attribution", "input_jacobian"]

OUTPUTS = ("softmax", "logits")


def _seed(out: FloatArray, output: str) -> FloatArray:
    """``G₀: (C, C·N)`` — derivative of the reported outputs w.r.t. the last layer's output."""
    C, N = out.shape
    if output == "logits":
        G = np.zeros((C, C, N), dtype=out.dtype)
        G[np.arange(C), np.arange(C), :] = 1.0
        return G.reshape(C, C * N)
    if output == "softmax":
        p = softmax(out)  # over the classes (axis 0), per sample
        # G[l, k, n] = ∂p_k/∂z_l = p_k (δ_kl − p_l)
        G = -p[:, None, :] * p[None, :, :]
        G[np.arange(C), np.arange(C), :] += p
        return np.ascontiguousarray(G.reshape(C, C * N))
    raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")


def _backward_input(layers: Sequence[Any], X: FloatArray, output: str) -> FloatArray:
    """``G: (d, C·N)`` with ``G[j, kN+n] = ∂y_k(x_n)/∂x_j``."""
    acts: list[tuple[FloatArray, FloatArray] | None] = []
    H = X
    for layer in layers:
        if isinstance(layer, ActivationLayer):
            Y, _ = layer.forward(H, train=False)
            acts.append((H, Y))
            H = Y
        elif isinstance(layer, SparseLinear | Linear | Dropout):
            H, _ = layer.forward(H, train=False)
            acts.append(None)
        else:
            raise TypeError(
                f"input_jacobian supports SparseLinear, Linear, ActivationLayer and Dropout "
                f"layers, got {type(layer).__name__}"
            )
    N = X.shape[1]
    G = _seed(H, output)
    C = G.shape[1] // N if N else H.shape[0]
    for layer, act in zip(reversed(layers), reversed(acts), strict=True):
        if isinstance(layer, SparseLinear):
            G = layer.weight.rmatmul_fm(G)
        elif isinstance(layer, Linear):
            G = np.ascontiguousarray(layer.weight.T @ G)
        elif isinstance(layer, ActivationLayer):
            assert act is not None
            Z, Y = act
            d = layer.activation.derivative(Z, Y)
            rows = G.shape[0]
            G = (G.reshape(rows, C, N) * d[:, None, :]).reshape(rows, C * N)
        # Dropout in evaluation mode is the identity
    return G


def input_jacobian(layers: Sequence[Any], X: FloatArray, *, output: str = "softmax") -> FloatArray:
    """``J[k, j, n] = ∂y_k(x_n)/∂x_j`` for a feature-major batch ``X: (d, N)``.

    Args:
        layers: the network as a sequence of layers (a :class:`~sprig.layers.Sequential`
            works), evaluated in evaluation mode.
        X: feature-major input of the layers' dtype.
        output: ``"softmax"`` (``y = softmax`` of the last layer's output) or ``"logits"``.

    Returns:
        ``(C, d, N)`` array in ``X``'s dtype. Cost ``O(C · N · Σ nnz)`` (module docstring).
    """
    N = X.shape[1]
    G = _backward_input(list(layers), X, output)
    d = G.shape[0]
    C = G.shape[1] // N
    return np.ascontiguousarray(G.reshape(d, C, N).transpose(1, 0, 2))


def attribution(layers: Sequence[Any], X: FloatArray, *, output: str = "softmax") -> FloatArray:
    """Neuron attribution of the inputs on one batch: ``Σ_k mean_n |∂y_k/∂x_j|``, ``(d,)`` float64.

    Same cost as :func:`input_jacobian` (the Jacobian is reduced without being transposed).
    """
    N = X.shape[1]
    if N == 0:
        raise ValueError("attribution needs a non-empty batch")
    G = _backward_input(list(layers), X, output)
    d = G.shape[0]
    C = G.shape[1] // N
    return np.abs(G.reshape(d, C, N)).mean(axis=2, dtype=np.float64).sum(axis=1)
