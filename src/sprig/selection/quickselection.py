r"""QuickSelection: a truly sparse denoising autoencoder trained with SET; rank inputs by strength.

Atashgahi et al., "Quick and Robust Feature Selection: the Strength of Energy-efficient Sparse
Training for Autoencoders", Machine Learning 111 (2022), arXiv 2012.00560; code
``zahraatashgahi/QuickSelection`` (``train_sparse_DAE.py``). Defaults are the published ones:

* layers ``d → 1000 → d``; hidden sigmoid, output linear (``tanh`` for madelon in the code);
* Erdős–Rényi sparsity with ``ε = 13``: ``ε (n_in + n_out)`` stored weights per layer
  (:func:`~sprig.sparsity.density.set_epsilon`);
* SET with ``ζ = 0.2`` at every epoch boundary (:func:`~sprig.sparsity.algorithms.set_`);
* input noise ``x̃ = x + 0.2 · N(0, 1)`` (the target is the clean ``x``), dropout 0.2 on the
  hidden layer, squared error;
* SGD with momentum 0.9, learning rate 0.01, weight decay 1e-5, batch 100.

The loss is :class:`~sprig.losses.SquaredError` (sum over outputs, mean over the batch). The
reference uses ``(ŷ − x)`` as output delta (no factor 2); that is a factor 2 in the learning
rate, kept at the published 0.01 here (a choice). Features are ranked with
:mod:`sprig.selection.rankings` (``strength`` by default).

``dense=True`` builds the same network with dense :class:`~sprig.layers.Linear` layers and no
SET: the dense baseline of the same size for time and memory comparisons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..activations import Identity, Sigmoid, Tanh
from ..errors import ConfigError
from ..layers import ActivationLayer, Dropout, Linear, Sequential, SparseLinear
from ..losses import SquaredError
from ..matrices import CSRMatrix
from ..matrices.kernels import gather_transpose
from ..optimizers import Momentum
from ..sparsity import algorithms as A
from ..sparsity.density import set_epsilon
from ..typing import FloatArray
from ._loop import SparseNetTrainer, batches
from .rankings import rank

__all__ = ["DAEResult", "quickselection", "train_sparse_dae"]

_OUTPUTS: dict[str, Any] = {"linear": Identity, "tanh": Tanh, "sigmoid": Sigmoid}


@dataclass(eq=False)
class DAEResult:
    """A trained autoencoder: encoder ``W1: (h, d)``, decoder ``W2: (d, h)``, loss per epoch."""

    W1: CSRMatrix
    W2: CSRMatrix
    losses: list[float] = field(default_factory=list)
    net: Sequential | None = None

    def scores(self, ranking: str = "strength") -> FloatArray:
        """Feature scores of ``ranking`` (see :mod:`sprig.selection.rankings`)."""
        return rank(ranking, self.W1, self.W2)


def _check(name: str, value: Any, lo: float, hi: float = np.inf, *, integer: bool = False) -> None:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    ok = ok and lo <= value <= hi and (not integer or int(value) == value)
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {kind} in [{lo}, {hi}], got {value!r}")


def train_sparse_dae(
    X: FloatArray,
    *,
    hidden: int = 1000,
    epsilon: float = 13.0,
    zeta: float = 0.2,
    epochs: int = 100,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 1e-5,
    dropout: float = 0.2,
    noise: float = 0.2,
    batch_size: int = 100,
    output: str = "linear",
    seed: int = 0,
    dtype: Any = np.float32,
    dense: bool = False,
    on_epoch: Callable[[int, float], None] | None = None,
) -> DAEResult:
    """Train QuickSelection's sparse denoising autoencoder on ``X: (N, d)`` (module docstring).

    ``X`` should be standardized (the reference scales each feature). Returns the trained
    weights; with ``dense=True`` they are converted to CSR at the end (for the rankings).
    """
    X = np.ascontiguousarray(X, dtype=dtype)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must be a non-empty 2-D array (samples, features), got {X.shape}")
    _check("hidden", hidden, 1, integer=True)
    _check("epochs", epochs, 1, integer=True)
    _check("batch_size", batch_size, 1, integer=True)
    _check("epsilon", epsilon, 1e-12)
    _check("zeta", zeta, 0.0, 1.0)
    _check("lr", lr, 0.0)
    _check("noise", noise, 0.0)
    if output not in _OUTPUTS:
        raise ConfigError(f"output must be one of {', '.join(_OUTPUTS)}, got {output!r}")
    N, d = X.shape
    rng = np.random.default_rng(seed)
    dens = set_epsilon([(hidden, d), (d, hidden)], epsilon)
    if dense:
        L1: Any = Linear(d, hidden, rng=rng, dtype=dtype)
        L2: Any = Linear(hidden, d, rng=rng, dtype=dtype)
    else:
        L1 = SparseLinear(d, hidden, density=dens[0], rng=rng, dtype=dtype)
        L2 = SparseLinear(hidden, d, density=dens[1], rng=rng, dtype=dtype)
    net = Sequential(
        [
            L1,
            ActivationLayer(Sigmoid(), hidden, dtype=dtype),
            Dropout(hidden, dropout, rng, dtype=dtype),
            L2,
            ActivationLayer(_OUTPUTS[output](), d, dtype=dtype),
        ]
    )
    trainer = SparseNetTrainer(net, Momentum(momentum, weight_decay))
    algorithm = A.set_(zeta)
    loss = SquaredError("mean")
    dst_rng = np.random.default_rng([seed, 0x445354])
    losses: list[float] = []
    for epoch in range(epochs):
        if not dense and algorithm.due(epoch):
            trainer.update_topology(algorithm, epoch, dst_rng)
        total = 0.0
        for rows in batches(N, batch_size, rng):
            T = gather_transpose(X, rows)
            Xn = T + (noise * rng.standard_normal(T.shape)).astype(dtype)
            total += trainer.step(Xn, T, loss, lr) * len(rows)
        losses.append(total / N)
        if not np.isfinite(losses[-1]):
            raise FloatingPointError(
                f"the autoencoder diverged at epoch {epoch} (loss {losses[-1]})"
            )
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    if dense:
        W1, W2 = CSRMatrix.from_dense(L1.weight), CSRMatrix.from_dense(L2.weight)
    else:
        W1, W2 = L1.weight, L2.weight
    return DAEResult(W1, W2, losses, net)


def quickselection(
    X: FloatArray, k: int, *, ranking: str = "strength", **kwargs: Any
) -> np.ndarray:
    """Indices of the ``k`` selected features of ``X`` (best first); ``kwargs`` go to training."""
    from .rankings import top_k

    result = train_sparse_dae(X, **kwargs)
    return top_k(result.scores(ranking), k)
