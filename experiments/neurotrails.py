"""NeuroTrails vs its baselines, and the sweep of the blocks in the heads (docs/results.md).

Two backbones, one implementation (:mod:`sprig.neurotrails`):

* ``--part sprig``: a sprig MLP (``ReLU;ReLU;ReLU;Linear``) on a Fashion-MNIST subset, SGD with
  momentum and a cosine learning rate, trained by sprig's trainer (truly sparse CSR layers);
* ``--part torch``: the character-level GPT of :mod:`sprig.torch.models` on tinyshakespeare
  through :mod:`sprig.torch` (``sparsify`` + ``TopologyUpdater``), AdamW, heads' losses summed.

Each writes one JSON line per run to ``<out>/<part>.jsonl`` (appending; a run already there is
skipped, so an interrupted sweep resumes); ``--report`` prints the Markdown tables (mean ± std
over seeds). Methods: ``dense``, ``sparse`` (one model), ``ensemble`` (M independent dense
models), ``treenet`` (the tree, dense), ``neurotrails`` for every ``k`` in ``--head-blocks``.

Usage (docs/results.md)::

    PYTHONPATH=src python experiments/neurotrails.py --part sprig
    PYTHONPATH=src python experiments/neurotrails.py --part torch
    PYTHONPATH=src python experiments/neurotrails.py --report
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _done(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {json.loads(line)["key"] for line in path.read_text().splitlines() if line.strip()}


def _write(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def _plan(a: argparse.Namespace) -> list[tuple[str, int]]:
    runs = [("dense", 0), ("sparse", 0), ("ensemble", 0), ("treenet", a.treenet_k)]
    return runs + [("neurotrails", k) for k in a.head_blocks]


def part_sprig(a: argparse.Namespace) -> None:
    import numpy as np

    from sprig.data.loaders import load_npz
    from sprig.data.normalization import normalize
    from sprig.neurotrails import Recipe, run
    from sprig.runtime import set_num_threads

    set_num_threads(a.threads)
    data = load_npz(SHARED / "fashion_mnist" / "fashion_mnist.npz")
    data = normalize(data.subset(a.train, a.test, seed=0), "standardize")[0]
    sizes = [784] + [a.width] * a.blocks_n + [10]
    spec = ";".join(["ReLU"] * a.blocks_n + ["Linear"])
    recipe = Recipe(epochs=a.epochs, batch_size=a.batch, lr=a.lr, every=a.every)
    out = Path(a.out) / "sprig.jsonl"
    done = _done(out)
    for seed in a.seeds:
        for method, k in _plan(a):
            key = f"{method}-{k}-{seed}"
            if key in done:
                continue
            r = run(
                data, spec, sizes, method=method, heads=a.heads, head_blocks=max(k, 1),
                density=a.density, recipe=recipe, seed=seed, combine=a.combine,
            )  # fmt: skip
            r.update(key=key, k=k, head_nll=[float(x) for x in r["head_nll"]])
            _write(out, r)
            print(key, {m: r[m] for m in ("accuracy", "nll", "ece", "disagreement")},
                  f"{r['seconds']:.1f}s", flush=True)  # fmt: skip
    del np


def part_torch(a: argparse.Namespace) -> None:
    import torch

    from sprig.neurotrails.torchtree import evaluate, neurotrails, train
    from sprig.torch.data import CharDataset
    from sprig.torch.models import GPT, GPTConfig

    torch.set_num_threads(a.threads)
    ds = CharDataset.from_file(SHARED / "tinyshakespeare" / "input.txt")
    cfg = GPTConfig(ds.vocab_size, context=a.context, n_layer=a.layers, width=a.gpt_width,
                    n_head=a.n_head)  # fmt: skip
    out = Path(a.out) / "torch.jsonl"
    done = _done(out)
    for seed in a.seeds:
        for method, k in _plan(a):
            key = f"{method}-{k}-{seed}"
            if key in done:
                continue
            heads = 1 if method in ("dense", "sparse") else a.heads
            hb = {"dense": a.layers, "sparse": a.layers, "ensemble": a.layers}.get(method, k)
            density = a.gpt_density if method in ("sparse", "neurotrails") else None
            tree = neurotrails(
                lambda: GPT(cfg), heads=heads, head_blocks=hb, density=density, seed=seed,
                shared_stem=method != "ensemble",
            )  # fmt: skip
            gen = torch.Generator().manual_seed(seed)
            batches = (
                ds.batch("train", a.gpt_batch, a.context, generator=gen) for _ in range(a.steps)
            )
            t0 = time.perf_counter()
            losses = train(
                tree, batches, a.steps, lr=a.gpt_lr, warmup=a.warmup, every=a.gpt_every,
                combine="sum", seed=seed,
            )  # fmt: skip
            seconds = time.perf_counter() - t0
            r = evaluate(
                tree, ds.windows("val", a.context, batch_size=64, max_batches=a.val_batches)
            )
            r.update(key=key, k=k, method=method, heads=heads, seed=seed, seconds=seconds,
                     density=density or 1.0, final_train_loss=losses[-1])  # fmt: skip
            _write(out, r)
            print(key, {m: r[m] for m in ("nll", "accuracy", "ece", "disagreement")},
                  f"{seconds:.1f}s", flush=True)  # fmt: skip


def _ms(xs: list[float], scale: float = 1.0, digits: int = 2) -> str:
    xs = [x * scale for x in xs]
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def report(a: argparse.Namespace) -> None:
    for part, first in (("sprig", "accuracy"), ("torch", "nll")):
        path = Path(a.out) / f"{part}.jsonl"
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault((r["method"], r["k"]), []).append(r)
        print(f"\n### {part}\n")
        print("| method | k | seeds | accuracy % | NLL | ECE % | disagreement % | "
              "parameters | FLOPs/prediction | train s |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|")
        for (method, k), rs in groups.items():
            print(
                f"| {method} | {k or '-'} | {len(rs)} | {_ms([r['accuracy'] for r in rs], 100)} | "
                f"{_ms([r['nll'] for r in rs], 1, 3)} | {_ms([r['ece'] for r in rs], 100)} | "
                f"{_ms([r['disagreement'] for r in rs], 100)} | {rs[0]['parameters']} | "
                f"{rs[0]['flops']} | {_ms([r['seconds'] for r in rs], 1, 0)} |"
            )
        del first


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("sprig", "torch"))
    p.add_argument("--report", action="store_true")
    p.add_argument("--out", default=str(ROOT / "experiments" / "results" / "neurotrails"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--head-blocks", type=int, nargs="+", default=[1, 2, 3, 4])
    p.add_argument("--treenet-k", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    # sprig MLP on Fashion-MNIST
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--test", type=int, default=5000)
    p.add_argument("--blocks-n", type=int, default=4, help="hidden layers of the MLP")
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--density", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--combine", choices=("mean", "sum"), default=None)
    # torch GPT on tinyshakespeare
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--gpt-width", type=int, default=64)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--gpt-batch", type=int, default=32)
    p.add_argument("--gpt-lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--gpt-density", type=float, default=0.5)
    p.add_argument("--gpt-every", type=int, default=50)
    p.add_argument("--val-batches", type=int, default=20)
    a = p.parse_args()
    if a.report:
        report(a)
    elif a.part == "sprig":
        part_sprig(a)
    elif a.part == "torch":
        part_torch(a)
    else:
        p.error("give --part sprig|torch or --report")


if __name__ == "__main__":
    main()
