"""A minimal training loop over sprig layers, optimizers and DST edits (used by selection).

Independent of :mod:`sprig.training` (selection trains small fixed networks its own way): it runs
a :class:`~sprig.layers.Sequential` forward/backward pass, steps every parameter with one
optimizer, and applies DST edits exactly as the trainer's topology callback does
(``CSRMatrix.edit`` → ``SparseLinear.set_weight`` → ``remap_state`` of the optimizer state,
then an exact nnz check).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..layers import Sequential, SparseLinear
from ..losses.base import Loss
from ..matrices.kernels import gather_transpose
from ..optimizers.base import remap_state
from ..sparsity.algorithms import DSTAlgorithm, Edit, apply_edit, check_nnz
from ..sparsity.info import GradientSample, LayerInfo
from ..typing import FloatArray


class SparseNetTrainer:
    """Owns one network's optimizer states; does steps and topology edits."""

    def __init__(self, net: Sequential, optimizer: Any) -> None:
        self.net = net
        self.optimizer = optimizer
        self.states = {name: optimizer.init(p.value) for name, p in net.params().items()}

    def sparse_layers(self) -> dict[str, SparseLinear]:
        """Sparse layers by their index in the network (as a string)."""
        return {
            str(i): layer for i, layer in enumerate(self.net) if isinstance(layer, SparseLinear)
        }

    def step(
        self,
        X: FloatArray,
        T: FloatArray,
        loss: Loss,
        lr: float,
        *,
        taps: dict[str, tuple[FloatArray, FloatArray]] | None = None,
    ) -> float:
        """One optimizer step on the feature-major batch ``(X, T)``; returns the batch loss."""
        Y, backprop = self.net.forward(X, train=True, input_grad=False, taps=taps)
        value, dY = loss.value_and_grad(Y, T)
        backprop(dY)
        for name, p in self.net.params().items():
            self.optimizer.step(p.value, p.grad, self.states[name], lr=lr)
        return value

    def update_topology(
        self,
        algorithm: DSTAlgorithm,
        t: int,
        rng: np.random.Generator,
        taps: Mapping[str, tuple[FloatArray, FloatArray]] | None = None,
    ) -> dict[str, Edit]:
        """Propose and apply one DST update of every sparse layer (``taps`` feed RigL)."""
        layers: dict[str, tuple[Any, LayerInfo | None]] = {}
        for name, layer in self.sparse_layers().items():
            info = None
            if taps is not None and name in taps:  # taps are keyed by layer path ("0")
                Xt, dYt = taps[name]
                info = LayerInfo(sample=GradientSample(Xt, dYt))
            layers[name] = (layer.weight, info)
        edits = algorithm.propose_all(layers, t, rng)
        sparse = self.sparse_layers()
        for name, edit in edits.items():
            assert edit.stats is not None
            W_new, remap = apply_edit(sparse[name].weight, edit)
            check_nnz(W_new, edit.stats.nnz, f"layer {name}")
            sparse[name].set_weight(W_new, remap)
            key = f"{name}.weight"
            self.states[key] = remap_state(self.states[key], remap)
        return edits

    def predict(self, X: FloatArray, batch_size: int = 1000) -> FloatArray:
        """Evaluation-mode outputs for batch-first ``X: (N, d)``, returned feature-major."""
        outs = []
        for rows in batches(X.shape[0], batch_size):
            Y, _ = self.net.forward(gather_transpose(X, rows), train=False, input_grad=False)
            outs.append(Y)
        return np.concatenate(outs, axis=1) if outs else np.zeros((0, 0), X.dtype)


def batches(
    n: int, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Row indices of consecutive mini-batches (shuffled with ``rng``); the last may be short."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for s in range(0, n, batch_size):
        yield order[s : s + batch_size].astype(np.int64)


def standardize(X: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Column mean and scale (std, 1 where the std is 0) of ``X: (N, d)`` in float64."""
    mean = X.mean(axis=0, dtype=np.float64)
    std = X.std(axis=0, dtype=np.float64)
    std[~(std > 1e-12)] = 1.0
    return mean, std
