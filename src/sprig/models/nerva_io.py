"""Weights in Nerva's ``.npz`` layout (``W1, b1, W2, b2, …``) and format detection.

Nerva stores every linear layer's weight densely (``W_k`` of shape ``(out, in)``) and its
bias (``b_k``). Export writes the dense matrices (zeros where no weight is stored) — this is
the one place sprig materialises a dense weight, because the format requires it. Import
takes the non-zeros of ``W_k`` as the topology of a sparse layer (a dense layer takes the
whole matrix). Batch-norm parameters are not part of Nerva's layout and are left alone.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..io import check_state_arrays, load_npz, save_npz
from ..layers.linear import Linear, SparseLinear
from ..matrices.csr import CSRMatrix
from ..matrices.remap import Remap
from .mlp import MLP, WEIGHTS_FORMATS


def save_nerva_weights(model: MLP, path: str | os.PathLike[str]) -> None:
    """Write ``W1, b1, …`` (one pair per linear layer, dense) atomically."""
    arrays: dict[str, Any] = {}
    for k, layer in enumerate(model.linear_layers().values(), start=1):
        W = layer.weight.toarray() if isinstance(layer, SparseLinear) else layer.weight
        arrays[f"W{k}"] = W
        arrays[f"b{k}"] = (
            layer.bias if layer.bias is not None else np.zeros(layer.out_features, layer.dtype)
        )
    save_npz(path, arrays)


def load_nerva_weights(model: MLP, path: str | os.PathLike[str]) -> None:
    """Load ``W1, b1, …`` into the model's linear layers (validated before any change).

    Raises:
        CheckpointError: missing keys, wrong shapes, NaN/inf, or a corrupt file.
    """
    arrays, _ = load_npz(path, what="weights file")
    layers = list(model.linear_layers().values())
    staged = []
    for k, layer in enumerate(layers, start=1):
        if f"W{k}" not in arrays:
            raise CheckpointError(f"{path} has no W{k} (the model has {len(layers)} linear layers)")
        W = np.asarray(arrays[f"W{k}"])
        b = np.asarray(arrays.get(f"b{k}", np.zeros(layer.out_features)))
        if W.shape != (layer.out_features, layer.in_features):
            raise CheckpointError(
                f"W{k} has shape {W.shape}, layer {k} needs "
                f"{(layer.out_features, layer.in_features)}"
            )
        if b.reshape(-1).shape != (layer.out_features,):
            raise CheckpointError(
                f"b{k} has shape {b.shape}, layer {k} needs ({layer.out_features},)"
            )
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise CheckpointError(f"W{k} or b{k} contains NaN or infinite values")
        staged.append((layer, W, b.reshape(-1)))
    extra = [
        key for key in arrays if key[0] in "Wb" and key[1:].isdigit() and int(key[1:]) > len(layers)
    ]
    if extra:
        raise CheckpointError(f"{path} has more layers than the model ({sorted(extra)[:3]})")
    for layer, W, b in staged:
        if isinstance(layer, SparseLinear):
            new = CSRMatrix.from_dense(W, dtype=layer.dtype)
            layer.set_weight(new, Remap(np.full(new.nnz, -1, np.int64), layer.weight.nnz))
        elif isinstance(layer, Linear):
            layer.weight[...] = W
        if layer.bias is not None:
            layer.bias[...] = b


def load_any_weights(model: MLP, path: str | os.PathLike[str]) -> None:
    """Load sprig weights or Nerva ``W1, b1, …`` weights, detected from the file."""
    arrays, meta = load_npz(path, what="weights file")
    if isinstance(meta, dict) and meta.get("format") in WEIGHTS_FORMATS:
        check_state_arrays(arrays, str(path))
        model.load_state_dict(arrays)
    elif "W1" in arrays:
        load_nerva_weights(model, path)
    else:
        raise CheckpointError(
            f"{path} is neither a sprig weights file nor Nerva's W1, b1, … layout"
        )
