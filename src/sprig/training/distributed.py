r"""Data-parallel training of sprig models over ``torch.distributed`` (gloo), one process per
rank — ``torchrun --nproc-per-node 2 -m sprig train ...`` or :class:`DataParallel` in a script.

Every rank builds the same model from the same seed and draws the same batch order; rank ``r``
of ``W`` trains on its slice of every global batch (columns ``⌊r·n/W⌋ : ⌊(r+1)·n/W⌋``). Then:

* **gradients**: between backward and the optimizer step (the trainer's ``on_gradients``
  hook) each rank scales its gradients by ``n_r / n`` (its share of the global batch, for a
  mean loss) and they are summed over the ranks: every rank holds the gradient of the whole
  global batch, so every optimizer step — and the weights — are identical on every rank and
  equal a single-process run with the same global batch (to float rounding of the sum);
* **topology**: DST algorithms read only state that is now identical on every rank (weights,
  optimizer state, the DST random stream, the gradient probe of epoch-unit updates, which runs
  on the whole first batch), except the per-step gradient sample ``(X, dY)`` of RigL-style
  growth, which each rank has for its slice only: it is all-gathered along the batch axis
  (``dY`` scaled by ``n_r / n``), so every rank proposes the update of the global batch. The
  topologies are then identical on every rank; :class:`DataParallel` checks it after every
  update with a CRC of each layer's index arrays (cheap: one all-gather of a few integers).

Only rank 0 writes files (metrics, checkpoints, weights). The training loss and accuracy in
the metrics are rank 0's slice; evaluation runs on the full test set on every rank.
"""

from __future__ import annotations

import atexit
import os
import zlib
from typing import Any

import numpy as np

from ..errors import ConfigError
from .callbacks import Callback
from .state import TrainState


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, or ``(0, 1)``."""
    try:
        import torch.distributed as dist
    except ImportError:
        return 0, 1
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def init_from_env() -> tuple[int, int]:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE`` > 1 in the environment)
    with the gloo backend; ``(0, 1)`` without one.

    Raises:
        ConfigError: ``WORLD_SIZE`` is set above 1 but PyTorch is not installed.
    """
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return 0, 1
    try:
        import torch.distributed as dist
    except ImportError:
        raise ConfigError(
            f"WORLD_SIZE={size}: data-parallel training needs PyTorch (pip install 'sprig[torch]')"
        ) from None
    if not dist.is_initialized():
        dist.init_process_group("gloo")
        # a process that exits with the group alive can abort in gloo's worker threads
        # during interpreter teardown ("terminate called without an active exception",
        # SIGABRT): the group this function created is destroyed first
        atexit.register(shutdown)
    return dist.get_rank(), dist.get_world_size()


def shutdown() -> None:
    """Destroy the process group, if one is initialised (no-op otherwise; idempotent).
    :func:`init_from_env` registers it to run at exit; call it earlier to leave the group."""
    try:
        import torch.distributed as dist
    except ImportError:
        return
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(n: int, rank: int, size: int) -> slice:
    """Columns of a global batch of ``n`` samples that rank ``rank`` of ``size`` trains on."""
    return slice(rank * n // size, (rank + 1) * n // size)


class DataParallel(Callback):
    """Sum the ranks' batch-weighted gradients, gather RigL's gradient samples and check
    that topologies agree (module docstring). Give the trainer ``shard=(rank, size)`` and put
    this callback **first** (its ``on_batch_end`` gathers the samples before the topology
    update reads them)."""

    def __init__(self, check_topology: bool = True) -> None:
        self.rank, self.size = world()
        self.check_topology = check_topology
        self._last: dict[str, int] | None = None

    def on_train_begin(self, state: TrainState) -> None:
        if self.size > 1:  # start from rank 0's weights, whatever happened before
            from ..torch.distributed import all_reduce_arrays

            arrays = [p.value for p in state.model.params().values()]
            if self.rank != 0:
                for a in arrays:
                    a[...] = 0
            all_reduce_arrays(arrays, average=False)

    def on_gradients(self, state: TrainState, grads: dict[str, Any]) -> None:
        if self.size <= 1:
            return
        from ..torch.distributed import all_reduce_arrays

        weight = grads["batch_size"] / grads["global_batch_size"]
        arrays = []
        for p in grads["params"].values():
            p.grad *= p.grad.dtype.type(weight)
            arrays.append(p.grad)
        flat = np.concatenate([a.reshape(-1).astype(np.float64) for a in arrays])
        all_reduce_arrays([flat], average=False)
        offset = 0
        for a in arrays:
            a.reshape(-1)[...] = flat[offset : offset + a.size]
            offset += a.size

    def on_batch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        taps = logs.get("taps")
        if self.size > 1 and taps:
            from ..torch.distributed import all_gather_columns

            weight = logs["batch_size"] / logs["global_batch_size"]
            for path in sorted(taps):
                X, dY = taps[path]
                taps[path] = (
                    all_gather_columns(np.asarray(X)),
                    all_gather_columns(np.asarray(dY) * np.asarray(dY).dtype.type(weight)),
                )

    def on_epoch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        if self.check_topology and self.size > 1:
            check_same_topology(state)


def topology_crcs(state: TrainState) -> dict[str, int]:
    """CRC32 of each sparse weight's index arrays, by parameter path."""
    out = {}
    for name, W in state.model.sparse_weights().items():
        out[name] = zlib.crc32(W.indices.tobytes(), zlib.crc32(W.indptr.tobytes()))
    return out


def check_same_topology(state: TrainState) -> None:
    """Raise ``RuntimeError`` naming the first sparse weight whose topology differs between
    the ranks (one all-gather of the CRCs)."""
    rank, size = world()
    if size <= 1:
        return
    import torch
    import torch.distributed as dist

    crcs = topology_crcs(state)
    mine = torch.tensor(list(crcs.values()), dtype=torch.int64)
    every = [torch.zeros_like(mine) for _ in range(size)]
    dist.all_gather(every, mine)
    for r, theirs in enumerate(every):
        diff = (theirs != mine).nonzero()
        if len(diff):
            name = list(crcs)[int(diff[0, 0])]
            raise RuntimeError(f"the topology of {name} differs between rank {rank} and rank {r}")
