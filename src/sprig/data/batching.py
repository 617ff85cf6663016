r"""Mini-batches in sprig's feature-major layout, reproducible and resumable.

:class:`Batches` cuts batch-first rows ``X (N, D)`` into batches ``Xt (D, B)`` (C-contiguous,
built by :func:`sprig.matrices.kernels.gather_transpose` in one pass) with one-hot targets
``Tt (K, B)`` and integer labels ``y (B,)``.

Order: the permutation of epoch ``e`` is a pure function of ``(seed, e)``::

    order = np.random.default_rng([seed, e]).permutation(N)      # shuffle=True
    batch k = order[k·B : (k+1)·B]

so a run resumed from a checkpoint taken after batch ``k − 1`` of epoch ``e`` continues with
``batches.epoch(e, start=k)`` and sees exactly the batches it would have seen, without
replaying any random draws. The optional augmentation of batch ``k`` gets its own generator
``np.random.default_rng([seed, e, k, AUGMENT_TAG])`` (the tag keeps it distinct from the
permutation stream: ``SeedSequence`` pads short entropy with zeros, so ``[s, e]`` and
``[s, e, 0]`` would coincide).

The last partial batch is kept by default (``drop_last=False``); Nerva drops it. Each batch
is a fresh array: the trainer may keep references to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from ..errors import ConfigError, DataError
from ..matrices.kernels import gather_transpose
from ..typing import FloatArray, IntArray, check_float_dtype
from .datasets import _labels, one_hot

#: Last entropy word of an augmentation generator's seed (ASCII "AUG").
AUGMENT_TAG = 0x415547

#: ``augment(Xt, rng) -> Xt'`` on a feature-major ``(D, B)`` batch, same shape.
Augment = Callable[[FloatArray, np.random.Generator], FloatArray]


class Batch(NamedTuple):
    """One feature-major mini-batch."""

    Xt: FloatArray
    """Inputs ``(D, B)``, C-contiguous."""
    Tt: FloatArray
    """One-hot targets ``(K, B)``."""
    y: IntArray
    """Integer labels ``(B,)``."""
    rows: IntArray
    """Row indices of the samples in ``X`` ``(B,)``."""


class Batches:
    """Reproducible feature-major mini-batches of ``(X, y)``.

    Args:
        X: batch-first features ``(N, D)``, C-contiguous float32/float64 (a
            :class:`~sprig.data.datasets.Dataset` provides them).
        y: integer labels ``(N,)`` in ``0..num_classes-1``.
        batch_size: ``B`` ≥ 1.
        shuffle: permute the rows each epoch (else file order every epoch).
        seed: non-negative integer; epoch ``e``'s order is ``default_rng([seed, e])``.
        drop_last: drop the final partial batch (Nerva's behaviour) instead of yielding it.
        num_classes: ``K`` for the one-hot targets (default ``max(y) + 1``).
        dtype: float dtype of ``Xt`` and ``Tt`` (``X`` is cast per batch if it differs).
        augment: optional ``augment(Xt, rng)`` applied to each input batch, e.g.
            :class:`~sprig.data.augmentation.RandomCropFlip`.
        targets: what ``Tt`` holds: ``None`` one-hot labels (classification), a float
            ``(N, K)`` array (regression targets), or ``"inputs"`` (the clean, un-augmented
            input: reconstruction, e.g. a denoising autoencoder whose ``augment`` adds noise).

    Raises:
        ConfigError: bad ``batch_size``/``seed``, or ``drop_last`` leaving no batch.
        DataError: ``X``/``y`` shapes or labels are invalid.
    """

    def __init__(
        self,
        X: FloatArray,
        y: IntArray,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_classes: int | None = None,
        dtype: Any = np.float32,
        augment: Augment | None = None,
        targets: Any = None,
    ) -> None:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0:
            raise DataError(f"X must be a non-empty (N, D) array, got shape {X.shape}")
        if X.dtype.kind != "f":
            raise DataError(f"X must be float32 or float64, got {X.dtype}")
        y = _labels("y", y)
        if len(y) != len(X):
            raise DataError(f"X has {len(X)} rows but y has {len(y)} labels")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise ConfigError(f"batch_size must be an integer ≥ 1, got {batch_size!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        if drop_last and batch_size > len(X):
            raise ConfigError(
                f"batch_size {batch_size} > {len(X)} samples with drop_last=True gives no batch"
            )
        k = int(y.max()) + 1 if num_classes is None else int(num_classes)
        if y.min() < 0 or y.max() >= k:
            raise DataError(f"labels {y.min()}..{y.max()} out of range 0..{k - 1}")
        self.X = np.ascontiguousarray(X)
        self.y = y
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.num_classes = k
        self.dtype = check_float_dtype(dtype)
        self.augment = augment
        if isinstance(targets, str) and targets != "inputs":
            raise ConfigError(f"targets must be None, 'inputs' or an array, got {targets!r}")
        if targets is not None and not isinstance(targets, str):
            targets = np.ascontiguousarray(targets)
            if targets.ndim != 2 or len(targets) != len(X) or targets.dtype.kind != "f":
                raise DataError(
                    f"regression targets must be a float (N, K) array with N = {len(X)}, "
                    f"got {targets.dtype} {targets.shape}"
                )
        self.targets = targets

    @property
    def num_samples(self) -> int:
        """``N``."""
        return len(self.y)

    def __len__(self) -> int:
        """Batches per epoch: ``⌈N/B⌉``, or ``⌊N/B⌋`` with ``drop_last``."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def epoch_order(self, epoch: int) -> IntArray:
        """Row order of ``epoch``: ``default_rng([seed, epoch]).permutation(N)`` (or ``arange``)."""
        if epoch < 0:
            raise ConfigError(f"epoch must be ≥ 0, got {epoch}")
        if not self.shuffle:
            return np.arange(self.num_samples, dtype=np.int64)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(self.num_samples)

    def augment_rng(self, epoch: int, batch: int) -> np.random.Generator:
        """The generator handed to ``augment`` for batch ``batch`` of ``epoch``."""
        return np.random.default_rng([self.seed, int(epoch), int(batch), AUGMENT_TAG])

    def batch_indices(self, epoch: int, batch: int) -> IntArray:
        """Row indices of batch ``batch`` of ``epoch``."""
        b = self.batch_size
        return self.epoch_order(epoch)[batch * b : (batch + 1) * b]

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        """Yield the batches of ``epoch`` from batch index ``start`` (to resume mid-epoch)."""
        n_batches = len(self)
        if not 0 <= start <= n_batches:
            raise ConfigError(f"start batch must be in 0..{n_batches}, got {start}")
        order = self.epoch_order(epoch)
        b = self.batch_size
        for k in range(start, n_batches):
            idx = order[k * b : (k + 1) * b]
            yield self._make(idx, epoch, k)

    def _make(self, idx: IntArray, epoch: int, k: int) -> Batch:
        Xt = gather_transpose(self.X, idx)
        if Xt.dtype != self.dtype:
            Xt = Xt.astype(self.dtype)
        recon = isinstance(self.targets, str)
        clean = Xt.copy() if recon and self.augment is not None else Xt
        if self.augment is not None:
            Xt = np.ascontiguousarray(self.augment(Xt, self.augment_rng(epoch, k)), self.dtype)
        y = self.y[idx]
        if self.targets is None:
            Tt = one_hot(y, self.num_classes, self.dtype)
        elif isinstance(self.targets, str):  # "inputs": reconstruct the clean input
            Tt = clean
        else:
            Tt = gather_transpose(self.targets, idx).astype(self.dtype, copy=False)
        return Batch(Xt, Tt, y, idx)

    def __repr__(self) -> str:
        return (
            f"Batches(N={self.num_samples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, "
            f"batches={len(self)})"
        )
