"""Data-parallel training for test_distributed.py: one rank (run as a script), or the
single-process reference (imported).

Usage: python _dist_worker.py RANK WORLD INIT_FILE OUT_PREFIX
(trains twice: gradients all-reduced by sprig's helper, then under DDP rebuilt after every
topology update; writes OUT_PREFIX-hook-RANK.npz and OUT_PREFIX-ddp-RANK.npz).
"""

import sys

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from sprig.torch import TopologyUpdater, sparsify
from sprig.torch.distributed import (
    all_reduce_gradients,
    check_same_topology,
    topology_fingerprints,
)

STEPS, BATCH = 8, 16


def train(mode, rank=0, world=1):
    """Final state dict (NumPy) and the topology fingerprints after every update."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 24), nn.Tanh(), nn.Linear(24, 3)
    ).double()
    sparsify(model, 0.3, distribution="uniform", exclude=(), rng=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    upd = TopologyUpdater(
        model, opt, "RigL(fraction=0.3, every=2)", epochs=1, steps_per_epoch=STEPS, seed=0
    )
    net = nn.parallel.DistributedDataParallel(model) if mode == "ddp" else model
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(STEPS, BATCH, 12, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (STEPS, BATCH), generator=gen)
    lo, hi = rank * BATCH // world, (rank + 1) * BATCH // world
    prints = []
    for s in range(STEPS):
        opt.zero_grad()
        nn.functional.cross_entropy(net(X[s, lo:hi]), y[s, lo:hi]).backward()
        if mode == "hook":
            all_reduce_gradients(model.parameters())
        opt.step()
        if upd.step() is not None:
            check_same_topology(upd.layers)
            prints.append(list(topology_fingerprints(upd.layers).values()))
            if mode == "ddp":  # DDP's buckets are stale after an nnz layout change: rebuild
                del net
                net = nn.parallel.DistributedDataParallel(model)
    arrays = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return arrays, np.array(prints, dtype=np.int64)


def main(rank, world, init_file, prefix):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    for mode in ("hook", "ddp"):
        arrays, prints = train(mode, rank, world)
        np.savez(f"{prefix}-{mode}-{rank}.npz", fingerprints=prints, **arrays)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
