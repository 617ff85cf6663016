r"""Data-parallel pieces on ``torch.distributed`` (gloo on CPU, NCCL on CUDA), for torch models
and for sprig's own trainer alike (they also take plain NumPy arrays and sprig ``Edit``\ s).

* :func:`all_reduce_gradients` — average the gradients of a list of parameters over the ranks
  in one flat buffer. Use it instead of DDP (call it between ``backward()`` and
  ``optimizer.step()``), or keep DDP and rebuild it after each topology change (below).
* :func:`all_reduce_arrays` — the same for NumPy arrays, in place.
* :func:`all_gather_columns` — concatenate feature-major ``(F, n_r)`` blocks of every rank
  along the batch axis (the ranks' batch sizes may differ): how RigL's gradient samples
  ``(Xt, dYt)`` become the sample of the global batch.
* :func:`broadcast_edits` — send one rank's proposed topology edits (a few int64 arrays per
  layer, no pickle) to every rank.
* :func:`topology_fingerprints` / :func:`check_same_topology` — verify that every rank holds
  the same topology.

**DDP and topology changes.** ``DistributedDataParallel`` builds its gradient buckets from the
parameters' sizes at construction, so after a topology update that changes a layer's ``nnz``
layout its buckets are stale. Either wrap the model again after every update that changed the
topology (``TopologyUpdater.step()`` returns the update's statistics then, ``None``
otherwise; rebuilding costs one parameter broadcast), or do not use DDP and call
:func:`all_reduce_gradients` after ``backward()``. The sparse values always keep their
``nn.Parameter`` object, so the optimizer needs no rebuilding.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..sparsity.algorithms import Edit

__all__ = [
    "all_gather_columns",
    "all_reduce_arrays",
    "all_reduce_gradients",
    "broadcast_edits",
    "check_same_topology",
    "is_distributed",
    "topology_fingerprints",
]


def is_distributed(group: Any = None) -> bool:
    """``True`` when a process group with more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def _device(group: Any = None) -> torch.device:
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_gradients(params: Iterable[torch.Tensor], group: Any = None) -> None:
    """Average ``p.grad`` over the ranks for every parameter with a gradient (one
    all-reduce of a flat buffer per dtype and device). Every rank must have gradients for
    the same parameters, of the same sizes."""
    if not is_distributed(group):
        return
    world = dist.get_world_size(group)
    by_kind: dict[tuple[Any, Any], list[torch.Tensor]] = {}
    for p in params:
        if p.grad is not None:
            by_kind.setdefault((p.grad.dtype, p.grad.device), []).append(p.grad)
    for grads in by_kind.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, group=group)
        flat /= world
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n


def all_reduce_arrays(
    arrays: Sequence[np.ndarray], group: Any = None, *, average: bool = True
) -> None:
    """Sum (or average) NumPy arrays over the ranks, in place."""
    if not is_distributed(group):
        return
    dev = _device(group)
    world = dist.get_world_size(group)
    for a in arrays:
        t = torch.from_numpy(np.ascontiguousarray(a)).to(dev)
        dist.all_reduce(t, group=group)
        if average:
            t /= world
        a[...] = t.cpu().numpy()


def all_gather_columns(A: np.ndarray, group: Any = None) -> np.ndarray:
    """Concatenate every rank's ``(F, n_r)`` array along axis 1 (rank order)."""
    if not is_distributed(group):
        return A
    dev = _device(group)
    world = dist.get_world_size(group)
    n = torch.tensor([A.shape[1]], dtype=torch.int64, device=dev)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n, group=group)
    counts = [int(s.item()) for s in sizes]
    width = max(counts)
    padded = np.zeros((A.shape[0], width), dtype=A.dtype)
    padded[:, : A.shape[1]] = A
    t = torch.from_numpy(padded).to(dev)
    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t, group=group)
    return np.concatenate(
        [p.cpu().numpy()[:, :c] for p, c in zip(parts, counts, strict=True)], axis=1
    )


def broadcast_edits(
    edits: Mapping[str, Edit] | None,
    names: Sequence[str],
    *,
    src: int = 0,
    group: Any = None,
) -> dict[str, Edit]:
    """Rank ``src``'s edits of the layers ``names`` (same order on every rank) on every rank.

    Sends per layer ``(len(drop), len(add), has_values)`` then the int64 arrays and the
    float64 values of the inserted entries (``stats`` are not sent: each rank records them).
    """
    dev = _device(group)
    rank = dist.get_rank(group)
    if rank == src:
        if edits is None or set(edits) != set(names):
            raise ValueError("the source rank must give an edit for every layer name")
        header = torch.tensor(
            [
                [e.drop.size, e.add_rows.size, int(e.add_values is not None)]
                for e in (edits[n] for n in names)
            ],
            dtype=torch.int64,
        ).reshape(len(names), 3)
    else:
        header = torch.zeros((len(names), 3), dtype=torch.int64)
    header = header.to(dev)
    dist.broadcast(header, src, group=group)
    h = header.cpu().numpy()
    n_int = int(h[:, 0].sum() + 2 * h[:, 1].sum())
    n_val = int((h[:, 1] * h[:, 2]).sum())
    if rank == src:
        assert edits is not None
        ints = np.concatenate(
            [np.zeros(0, np.int64)]
            + [np.concatenate([edits[n].drop, edits[n].add_rows, edits[n].add_cols]) for n in names]
        ).astype(np.int64)
        vals = np.concatenate(
            [np.zeros(0, np.float64)]
            + [
                np.asarray(edits[n].add_values, np.float64)
                for n in names
                if edits[n].add_values is not None
            ]
        )
    else:
        ints, vals = np.zeros(n_int, np.int64), np.zeros(n_val, np.float64)
    ti = torch.from_numpy(ints).to(dev)
    tv = torch.from_numpy(vals).to(dev)
    if n_int:
        dist.broadcast(ti, src, group=group)
    if n_val:
        dist.broadcast(tv, src, group=group)
    ints, vals = ti.cpu().numpy(), tv.cpu().numpy()
    out: dict[str, Edit] = {}
    i = v = 0
    for name, (nd, na, hv) in zip(names, h.tolist(), strict=True):
        drop = ints[i : i + nd]
        rows = ints[i + nd : i + nd + na]
        cols = ints[i + nd + na : i + nd + 2 * na]
        i += nd + 2 * na
        values = None
        if hv:
            values = vals[v : v + na]
            v += na
        out[name] = Edit(drop.copy(), rows.copy(), cols.copy(), values)
    return out


def topology_fingerprints(layers: Mapping[str, Any]) -> dict[str, int]:
    """CRC32 of each layer's ``(crow_indices, col_indices)`` (any object with those tensors)."""
    out = {}
    for name, m in layers.items():
        crc = zlib.crc32(m.crow_indices.cpu().numpy().tobytes())
        out[name] = zlib.crc32(m.col_indices.cpu().numpy().tobytes(), crc)
    return out


def check_same_topology(layers: Mapping[str, Any], group: Any = None) -> None:
    """Raise ``RuntimeError`` naming the first layer whose topology differs between ranks."""
    if not is_distributed(group):
        return
    fp = topology_fingerprints(layers)
    names = list(fp)
    mine = torch.tensor([fp[n] for n in names], dtype=torch.int64, device=_device(group))
    lo, hi = mine.clone(), mine.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN, group=group)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX, group=group)
    bad = [n for n, a, b in zip(names, lo.tolist(), hi.tolist(), strict=True) if a != b]
    if bad:
        raise RuntimeError(f"topology differs between ranks in layer {bad[0]!r}")
