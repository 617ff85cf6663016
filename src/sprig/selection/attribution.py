r"""Neuron-attribution feature selection with a supervised sparse MLP trained by SET or RigL.

Atashgahi et al., "Unveiling the Power of Sparse Neural Networks for Feature Selection"
(ECAI 2024, arXiv 2408.04583; code ``zahraatashgahi/Neuron-Attribution``). Defaults follow the
code where it is explicit:

* MLP ``d → 1000 → 100 → C`` with ReLU (``code/models.py``), softmax cross-entropy, Adam with
  learning rate 1e-3 (``datasets.json``), up to 200 epochs with early stopping on the
  validation loss (patience 50) over an 80/20 train/validation split;
* ERK sparsity at an overall density (the sweep is {0.02, 0.05, 0.1, 0.2, 0.5, 0.75}; the default
  here, 0.2, is a choice);
* topology update every 10 optimizer steps: drop the ``p_t`` fraction of smallest ``|w|`` per
  layer, ``p_t`` cosine-annealed from 0.3 to 0.005 over training, and regrow as many at random
  positions (``dst="set"``, the code's ``DST_random``) or at the largest ``|∂L/∂w|``
  (``dst="rigl"``, the code's ``DST``), new weights 0;
* importance of input ``j`` on a batch: ``Σ_k mean_n |∂softmax_k/∂x_j|``
  (:func:`~sprig.selection.jacobian.attribution`, explicit sparse Jacobian, no autograd).

Accumulation over training (the code's ``--fs_type`` variants), with ``e*`` the epoch of best
validation loss (the last epoch without a validation split):

* ``"itr"``: the importance of the last iteration of epoch ``e*``;
* ``"epoch"``: the sum over the iterations of epoch ``e*``;
* ``"sum_epoch"``: the sum over all iterations of epochs ``0..e*``;
* ``"strength"``: the code's "QuickSelection" baseline metric, ``Σ_h |W1[h, j]|`` at ``e*``.

The reference's training forward applies ``softmax(dim=0)`` over the *batch* before
``CrossEntropyLoss`` (reference/dst.md §5.5); that is not reproduced: training uses the usual
softmax over the classes. The batch size (100) and no weight decay are choices.
``attribution_samples`` limits the rows of each batch used for the importance (all by
default) to bound its ``O(C · N · nnz)`` cost on large sets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..activations import ReLU
from ..data.datasets import one_hot
from ..errors import ConfigError
from ..layers import ActivationLayer, Linear, Sequential, SparseLinear
from ..losses import SoftmaxCrossEntropy
from ..matrices.kernels import gather_transpose
from ..optimizers import Adam
from ..sparsity import grow as G
from ..sparsity import prune as P
from ..sparsity.algorithms import DSTAlgorithm
from ..sparsity.density import erk, shapes_from_sizes
from ..sparsity.info import GRADIENT_SAMPLE
from ..sparsity.schedules import UpdateSchedule, cosine
from ..typing import FloatArray
from ._loop import SparseNetTrainer, batches
from .jacobian import attribution
from .rankings import strength

__all__ = ["VARIANTS", "AttributionResult", "dst_algorithm", "train_attribution"]

#: Accumulation variants of the importance (module docstring).
VARIANTS = ("sum_epoch", "epoch", "itr", "strength")


@dataclass(eq=False)
class AttributionResult:
    """Importances per variant (``(d,)`` float64), best epoch, and the loss curves."""

    importances: dict[str, FloatArray]
    best_epoch: int
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    net: Sequential | None = None


def dst_algorithm(
    name: str, total_steps: int, *, every: int = 10, alpha: float = 0.3
) -> DSTAlgorithm:
    """The Neuron-Attribution code's DST: magnitude prune, random (``set``) or gradient
    (``rigl``) growth, every ``every`` steps, fraction cosine from ``alpha`` to 0.005."""
    grow = {"set": G.random_grow, "rigl": G.gradient_grow}.get(name)
    if grow is None:
        raise ConfigError(f"dst must be 'set' or 'rigl', got {name!r}")
    return DSTAlgorithm(
        name,
        P.magnitude,
        grow,
        fraction=cosine(alpha, max(1, total_steps), 0.005),
        update=UpdateSchedule(every=every),
    )


def _split(
    y: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n = y.size
    n_val = round(fraction * n)
    if fraction <= 0 or n_val < 1 or n - n_val < 1:
        return np.arange(n), np.zeros(0, np.int64)
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def train_attribution(
    X: FloatArray,
    y: np.ndarray,
    *,
    hidden: tuple[int, ...] = (1000, 100),
    density: float = 0.2,
    dst: str = "set",
    epochs: int = 200,
    lr: float = 1e-3,
    batch_size: int = 100,
    weight_decay: float = 0.0,
    val_fraction: float = 0.2,
    patience: int = 50,
    update_every: int = 10,
    drop_fraction: float = 0.3,
    attribution_samples: int | None = None,
    output: str = "softmax",
    seed: int = 0,
    dtype: Any = np.float32,
    dense: bool = False,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> AttributionResult:
    """Train the supervised sparse MLP on ``(X, y)`` and accumulate attributions (module docstring).

    ``y`` holds class indices ``0..C-1``. ``dense=True`` trains the dense MLP of the same size
    (no DST): the baseline for time and memory comparisons.
    """
    X = np.ascontiguousarray(X, dtype=dtype)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must be a non-empty 2-D array (samples, features), got {X.shape}")
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iu" or (y.size and y.min() < 0):
        raise ValueError(f"y must hold one class index >= 0 per row of X, got shape {y.shape}")
    if not 0.0 < density <= 1.0:
        raise ConfigError(f"density must be in (0, 1], got {density!r}")
    if int(epochs) != epochs or epochs < 1 or int(batch_size) != batch_size or batch_size < 1:
        raise ConfigError(
            f"epochs and batch_size must be positive integers, got {epochs}, {batch_size}"
        )
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    d = X.shape[1]
    C = max(int(y.max()) + 1, 2)
    rng = np.random.default_rng(seed)
    sizes = [d, *hidden, C]
    shapes = shapes_from_sizes(sizes)
    dens = erk(shapes, density)
    layers: list[Any] = []
    for i, ((out_f, in_f), dd) in enumerate(zip(shapes, dens, strict=True)):
        if dense or dd >= 1.0:
            layers.append(Linear(in_f, out_f, rng=rng, dtype=dtype))
        else:
            layers.append(SparseLinear(in_f, out_f, density=dd, rng=rng, dtype=dtype))
        if i < len(shapes) - 1:
            layers.append(ActivationLayer(ReLU(), out_f, dtype=dtype))
    net = Sequential(layers)
    trainer = SparseNetTrainer(net, Adam(weight_decay=weight_decay))
    loss = SoftmaxCrossEntropy("mean")
    tr, va = _split(y, val_fraction, rng)
    Xtr, ytr = np.ascontiguousarray(X[tr]), y[tr]
    T_all = one_hot(ytr, C, dtype=dtype)  # (C, n_train), feature-major
    Xva, Tva = (
        (np.ascontiguousarray(X[va]), one_hot(y[va], C, dtype=dtype)) if va.size else (None, None)
    )
    steps_per_epoch = -(-len(tr) // batch_size)
    algorithm = (
        None
        if dense
        else dst_algorithm(dst, epochs * steps_per_epoch, every=update_every, alpha=drop_fraction)
    )
    needs_taps = algorithm is not None and GRADIENT_SAMPLE in algorithm.needs
    dst_rng = np.random.default_rng([seed, 0x445354])
    running: FloatArray = np.zeros(d)
    best = (np.inf, -1)
    snap: dict[str, FloatArray] = {}
    train_losses: list[float] = []
    val_losses: list[float] = []
    step = 0
    for epoch in range(epochs):
        epoch_imp: FloatArray = np.zeros(d)
        last_imp: FloatArray = np.zeros(d)
        total = 0.0
        for rows in batches(len(tr), batch_size, rng):
            Xb = gather_transpose(Xtr, rows)
            Tb = np.ascontiguousarray(T_all[:, rows])
            m = (
                Xb.shape[1]
                if attribution_samples is None
                else min(attribution_samples, Xb.shape[1])
            )
            last_imp = attribution(list(net), np.ascontiguousarray(Xb[:, :m]), output=output)
            epoch_imp += last_imp
            taps: dict[str, tuple[FloatArray, FloatArray]] | None = None
            if needs_taps and algorithm is not None and algorithm.due(step + 1):
                taps = {}
            total += trainer.step(Xb, Tb, loss, lr, taps=taps) * len(rows)
            step += 1
            if algorithm is not None and algorithm.due(step):
                trainer.update_topology(algorithm, step, dst_rng, taps)
        running += epoch_imp
        train_losses.append(total / len(tr))
        if Xva is not None and Tva is not None:
            val = loss.value(trainer.predict(Xva), Tva)
        else:
            val = train_losses[-1] if val_fraction > 0 else -float(epoch)  # last epoch is "best"
        val_losses.append(val)
        if not np.isfinite(train_losses[-1]):
            raise FloatingPointError(f"the MLP diverged at epoch {epoch}")
        if on_epoch is not None:
            on_epoch(epoch, train_losses[-1], val)
        if val < best[0] or best[1] < 0:
            best = (val, epoch)
            first: Any = net[0]
            W1 = first.weight
            s = (
                strength(W1)
                if isinstance(first, SparseLinear)
                else np.abs(W1).sum(axis=0, dtype=np.float64)
            )
            snap = {"sum_epoch": running.copy(), "epoch": epoch_imp, "itr": last_imp, "strength": s}
        elif epoch - best[1] >= patience:
            break
    return AttributionResult(snap, best[1], train_losses, val_losses, net)
