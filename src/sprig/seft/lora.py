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

__all__ = ["lora_parameters", "merge", "merged_sparsity"]


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
