"""Cost of a DST topology update relative to an epoch, 3072-1024-1024-10 MLP at 1 % density.

Trains the network (ERK densities, softmax cross-entropy, batch 100, SGD momentum 0.9) with
a DST algorithm that updates once per epoch (SET, MagRan) or, for RigL and SNFS, whose update
needs a gradient sample (RigL's streamed top-k over the non-stored positions of every layer),
and reports the seconds of the topology updates (``time_topology`` in the metrics: the
algorithm's proposal, the CSR edits, and carrying gradients and optimizer state through the
remaps) against the seconds of the epoch's training steps.

Usage: ``python benchmarks/topology_update.py [--samples 50000] [--epochs 3] [--threads 2]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report
from mlp_epoch import SIZES, load_data

from sprig import set_num_threads
from sprig.data.datasets import Dataset
from sprig.losses import SoftmaxCrossEntropy
from sprig.optimizers import Momentum
from sprig.sparsity.density import erk, shapes_from_sizes
from sprig.specs.types import parse_layers
from sprig.training.build import build_mlp
from sprig.training.dst import TopologyUpdate, make_algorithm
from sprig.training.loop import Trainer

ALGORITHMS = ("SET(0.3)", "MagRan(0.3)", "SNFS", "RigL(0.3, every=100)")


def run(spec: str, data: Dataset, density: float, epochs: int, seed: int) -> dict[str, float]:
    dens = erk(shapes_from_sizes(list(SIZES)), density)
    model = build_mlp(
        parse_layers("ReLU;ReLU;Linear"),
        list(SIZES),
        dens,
        rng=np.random.default_rng(seed),
        fan_in="actual",
    )
    steps = -(-len(data.y_train) // 100)
    alg = make_algorithm(spec, epochs=epochs, steps_per_epoch=steps)
    trainer = Trainer(
        model,
        loss=SoftmaxCrossEntropy(),
        optimizer=Momentum(0.9),
        schedule=0.01,
        epochs=epochs,
        batch_size=100,
        seed=seed,
        callbacks=[TopologyUpdate(alg, seed=seed)],
        evaluate=False,
    )
    hist = trainer.fit(data)
    # epoch 1 includes JIT warm-up; take the later epochs
    later = hist[1:] or hist
    train = [
        sum(r[f"time_{k}"] for k in ("data", "forward", "backward", "optimizer")) for r in later
    ]
    topo = [r["time_topology"] for r in later]
    updates = sum(len(r.get("dst", [])) for r in later)
    return {
        "train": float(np.mean(train)),
        "topology": float(np.mean(topo)),
        "updates_per_epoch": updates / len(later),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=50_000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--density", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    set_num_threads(args.threads)
    X, y, desc = load_data(args.samples, args.seed)
    data = Dataset(X, y, X[:0], np.zeros(0, np.int64), num_classes=10, name="cifar10x")
    load0 = _report.start_load()
    rows = []
    for spec in ALGORITHMS:
        t0 = time.perf_counter()
        r = run(spec, data, args.density, args.epochs, args.seed)
        rows.append((spec, r, time.perf_counter() - t0))
        print(
            f"{spec}: epoch train {r['train']:.3f}s, topology {r['topology']:.4f}s "
            f"({100 * r['topology'] / r['train']:.2f} %), "
            f"{r['updates_per_epoch']:.1f} updates/epoch",
            flush=True,
        )
    lines = [
        f"## Topology-update cost: 3072-1024-1024-10 at density {args.density}",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}; machine: {_report.machine()}; threads: {args.threads}",
        _report.load_line(load0),
        f"- Data: {desc}; batch 100; SGD momentum 0.9; ERK densities",
        "- Means over epochs 2..N (epoch 1 includes JIT compilation). `train` = data + "
        "forward + backward + optimizer seconds of the epoch; `topology` = all topology "
        "updates of the epoch (proposal, CSR edit, gradient and optimizer-state remap).",
        "",
        "| algorithm | updates / epoch | train s / epoch | topology s / epoch | topology / train |",
        "|---|---|---|---|---|",
    ]
    for spec, r, _ in rows:
        lines.append(
            f"| {spec} | {r['updates_per_epoch']:.1f} | {r['train']:.3f} | "
            f"{r['topology']:.4f} | {100 * r['topology'] / r['train']:.2f} % |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        _report.write_section("topology", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
