r"""LoRA merge arithmetic (Hu et al. 2022), shared by sprig models and the torch baseline.

A LoRA adapter of rank ``r`` on a frozen weight ``W (out × in)`` adds ``s · B A`` with
``A (r × in)``, ``B (out × r)`` and scale ``s = alpha / r``; the merged weight is
``W + s · B A``. ``B A`` is in general dense, so merging a pruned ``W`` gives back a dense
matrix: the sparsity after merging is the fraction of exact zeros of the sum
(:func:`merged_sparsity`), ``0`` unless ``B`` or ``A`` vanish.

>>> from sprig.matrices import CSRMatrix
>>> W = CSRMatrix.from_dense(np.array([[1.0, 0.0], [0.0, 2.0]]))
>>> merge(W, np.array([[1.0, 1.0]]), np.array([[0.5], [0.0]]), scale=2.0)
array([[2., 1.],
       [0., 2.]])
>>> merged_sparsity(_)
0.25
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..matrices import CSRMatrix
from ..typing import FloatArray

__all__ = ["LoRALinear", "add_lora", "lora_parameters", "merge", "merge_lora", "merged_sparsity"]


def merge(W: CSRMatrix | FloatArray, A: FloatArray, B: FloatArray, *, scale: float) -> FloatArray:
    """The dense merged weight ``W + scale · B A`` (``W`` sparse or dense)."""
    A = np.asarray(A)
    B = np.asarray(B)
    dense = W.toarray() if isinstance(W, CSRMatrix) else np.array(W, copy=True)
    if A.ndim != 2 or B.ndim != 2 or B.shape[1] != A.shape[0]:
        raise ValueError(f"LoRA factors must be B (out, r) and A (r, in), got {B.shape}, {A.shape}")
    if (B.shape[0], A.shape[1]) != dense.shape:
        raise ValueError(f"B A has shape {(B.shape[0], A.shape[1])}, the weight {dense.shape}")
    return dense + scale * (B @ A)


def merged_sparsity(W: Any) -> float:
    """Fraction of exact zeros of a dense matrix."""
    W = np.asarray(W)
    return float(np.count_nonzero(W == 0)) / W.size if W.size else 0.0


def lora_parameters(shape: tuple[int, int], rank: int) -> int:
    """Trainable parameters of one adapter: ``r · (in + out)``."""
    return int(rank) * (int(shape[0]) + int(shape[1]))


# --------------------------------------------------------------------------- sprig models
class LoRALinear:
    r"""A frozen sprig affine layer plus a trainable rank-``r`` adapter (feature-major)::

        Y  = W X + b 1ᵀ + s B (A X)              s = alpha / r
        dB = s dY (A X)ᵀ,   dA = s Bᵀ dY Xᵀ,   dX = Wᵀ dY + s Aᵀ Bᵀ dY

    ``W`` (a :class:`~sprig.layers.SparseLinear`'s CSR weight or a dense
    :class:`~sprig.layers.Linear`'s) and ``b`` are not parameters of this layer, so no
    optimizer touches them; only ``lora_A`` ``(r, in)`` (drawn ``U(±1/√in)``) and ``lora_B``
    ``(out, r)`` (zeros: the adapted layer starts equal to the base) train.
    """

    def __init__(
        self, base: Any, rank: int = 8, alpha: float = 16.0, *, rng: np.random.Generator
    ) -> None:
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"LoRA rank must be a positive integer, got {rank!r}")
        self.base = base
        self.in_features, self.out_features = base.in_features, base.out_features
        self.dtype = base.dtype
        self.rank, self.scale = rank, float(alpha) / rank
        bound = 1.0 / np.sqrt(self.in_features)
        self.lora_A = rng.uniform(-bound, bound, (rank, self.in_features)).astype(self.dtype)
        self.lora_B = np.zeros((self.out_features, rank), self.dtype)
        self.grad_A = np.zeros_like(self.lora_A)
        self.grad_B = np.zeros_like(self.lora_B)

    def __repr__(self) -> str:
        return f"LoRALinear({self.base!r}, rank={self.rank}, scale={self.scale})"

    @property
    def features(self) -> str:
        return f"{self.in_features}, {self.out_features}, rank={self.rank}"

    def params(self) -> dict[str, Any]:
        """``lora_A`` and ``lora_B`` only (the base is frozen)."""
        from ..layers.base import Param

        return {
            "lora_A": Param(self.lora_A, self.grad_A),
            "lora_B": Param(self.lora_B, self.grad_B),
        }

    def _base(self, X: FloatArray) -> FloatArray:
        b = self.base.bias
        W = self.base.weight
        if isinstance(W, CSRMatrix):
            return W.matmul_fm(np.ascontiguousarray(X), b)
        Y = W @ X
        return Y if b is None else Y + b[:, None]

    def forward(self, X: FloatArray, *, train: bool, input_grad: bool = True) -> Any:
        """``Y = W X + b 1ᵀ + s B (A X)`` (class docstring)."""
        A, B, s = self.lora_A, self.lora_B, self.dtype.type(self.scale)
        H = A @ X
        Y = self._base(X) + s * (B @ H)

        def backprop(dY: FloatArray) -> FloatArray | None:
            np.matmul(s * dY, H.T, out=self.grad_B)
            G = s * (B.T @ dY)
            np.matmul(G, X.T, out=self.grad_A)
            if not input_grad:
                return None
            W = self.base.weight
            dX = W.rmatmul_fm(np.ascontiguousarray(dY)) if isinstance(W, CSRMatrix) else W.T @ dY
            return dX + A.T @ G

        return Y, backprop

    def merged(self) -> Any:
        """A dense :class:`~sprig.layers.Linear` holding ``W + s B A`` and the bias."""
        from ..layers.linear import Linear

        W = self.base.weight
        lin = Linear(
            self.in_features,
            self.out_features,
            bias=self.base.bias is not None,
            rng=self.base.rng,
            dtype=self.dtype,
        )
        lin.weight[...] = merge(W, self.lora_A, self.lora_B, scale=self.scale)
        if lin.bias is not None:
            lin.bias[...] = self.base.bias
        return lin


def add_lora(model: Any, rank: int = 8, alpha: float = 16.0, *, seed: int = 0) -> list[str]:
    """Wrap every :class:`~sprig.layers.SparseLinear` of a sprig model in a
    :class:`LoRALinear`, in place (the other layers' parameters stay trainable: freeze them
    with the trainer's frozen-parameter patterns if wanted); returns the wrapped paths."""
    from .pruning import replace_layer

    rng = np.random.default_rng([seed, 0x4C4F52])  # "LOR"
    layers = model.sparse_modules()
    if not layers:
        raise ValueError("LoRA: the model has no SparseLinear layer (prune it first)")
    for layer in layers.values():
        model.net = replace_layer(model.net, layer, LoRALinear(layer, rank, alpha, rng=rng))
    return list(layers)


def merge_lora(model: Any) -> dict[str, float]:
    """Replace every :class:`LoRALinear` of a sprig model by its merged dense layer, in place;
    returns each merged layer's sparsity (fraction of exact zeros)."""
    from ..layers import tree
    from .pruning import replace_layer

    out = {}
    for path, layer in list(tree.leaves(model.net)):
        if isinstance(layer, LoRALinear):
            lin = layer.merged()
            model.net = replace_layer(model.net, layer, lin)
            out[path] = merged_sparsity(lin.weight)
    return out
