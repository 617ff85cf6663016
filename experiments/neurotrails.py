"""NeuroTrails vs its baselines, and the sweep of the blocks in the heads (docs/results.md).

Two backbones, one implementation (:mod:`sprig.neurotrails`):

* ``--part sprig``: a sprig MLP (``ReLU;ReLU;ReLU;Linear``) on a Fashion-MNIST subset, SGD with
  momentum and a cosine learning rate, trained by sprig's trainer (truly sparse CSR layers);
* ``--part torch``: a small PyTorch CNN (:class:`SmallCNN`: dense convolutional stem, fully
  connected blocks) on the CIFAR-10 subset through :mod:`sprig.torch` (``sparsify`` +
  ``TopologyUpdater``), AdamW, warm-up-free cosine learning rate, heads' losses averaged.

Each writes one JSON line per run to ``<out>/<part>.jsonl`` (default ``runs/neurotrails``,
git-ignored; appending: a run already there is
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


def _plan(a: argparse.Namespace, n_blocks: int) -> list[tuple[str, int]]:
    nt = [("neurotrails", k) for k in a.head_blocks if k <= n_blocks]
    runs = [("sparse", 0), ("dense", 0), *nt, ("treenet", a.treenet_k), ("ensemble", 0)]
    return [(m, k) for m, k in runs if m in a.methods]


def part_sprig(a: argparse.Namespace) -> None:
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
    init = None if a.init == "default" else a.init
    out = Path(a.out) / "sprig.jsonl"
    done = _done(out)
    for seed in a.seeds:
        for method, k in _plan(a, a.blocks_n + 1):
            key = f"{method}-{k}-{seed}"
            if key in done:
                continue
            r = run(
                data, spec, sizes, method=method, heads=a.heads, head_blocks=max(k, 1),
                density=a.density, recipe=recipe, seed=seed, combine=a.combine, init=init,
            )  # fmt: skip
            r.update(key=key, k=k, head_nll=[float(x) for x in r["head_nll"]])
            _write(out, r)
            print(key, {m: r[m] for m in ("accuracy", "nll", "ece", "disagreement")},
                  f"{r['seconds']:.1f}s", flush=True)  # fmt: skip


class SmallCNN:
    """Factory of the torch backbone: a small CNN whose blocks are fully connected.

    ``stem``: 2×2 average pooling (32×32 → 16×16), two 3×3 convolutions (16 and 32 channels,
    ReLU, 2×2 max pooling) → 512 features; ``blocks``: ``n`` × (Linear(·, width), ReLU);
    ``tail``: Linear(width, 10). sprig.torch makes the ``nn.Linear`` layers sparse (blocks and
    tail); the convolutions stay dense (shared in the trunk).
    """

    def __init__(self, n_blocks: int, width: int) -> None:
        self.n_blocks, self.width = n_blocks, width

    def __call__(self) -> Any:
        from torch import nn

        model = nn.Module()
        model.stem = nn.Sequential(
            nn.AvgPool2d(2),
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        )  # fmt: skip
        dims = [512] + [self.width] * self.n_blocks
        model.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(dims[i], dims[i + 1]), nn.ReLU()) for i in range(self.n_blocks)
        )
        model.tail = nn.Linear(self.width, 10)
        return model


def part_torch(a: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from sprig.neurotrails.torchtree import evaluate, neurotrails, train

    torch.set_num_threads(a.threads)
    raw = np.load(SHARED / "cifar10_subset" / "cifar10_subset.npz", allow_pickle=False)

    def tensors(split: str) -> tuple[Any, Any]:
        x = torch.from_numpy(raw[f"x_{split}"]).float().permute(0, 3, 1, 2) / 255.0
        return x, torch.from_numpy(raw[f"y_{split}"].astype(np.int64))

    x_tr, y_tr = tensors("train")
    x_te, y_te = tensors("test")
    mean, std = x_tr.mean(dim=(0, 2, 3), keepdim=True), x_tr.std(dim=(0, 2, 3), keepdim=True)
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    steps_per_epoch = -(-len(y_tr) // a.torch_batch)
    steps = a.torch_epochs * steps_per_epoch
    factory = SmallCNN(a.torch_blocks, a.torch_width)
    out = Path(a.out) / "torch.jsonl"
    done = _done(out)
    nb = a.torch_blocks
    for seed in a.seeds:
        for method, k in _plan(a, nb):
            key = f"{method}-{k}-{seed}"
            if key in done:
                continue
            heads = 1 if method in ("dense", "sparse") else a.heads
            hb = {"dense": nb, "sparse": nb, "ensemble": nb}.get(method, k)
            density = a.torch_density if method in ("sparse", "neurotrails") else None
            tree = neurotrails(
                factory, heads=heads, head_blocks=hb, density=density, seed=seed,
                shared_stem=method != "ensemble",
            )  # fmt: skip
            gen = torch.Generator().manual_seed(seed)

            def batches() -> Any:
                while True:
                    perm = torch.randperm(len(y_tr), generator=gen)  # noqa: B023
                    for i in range(0, len(perm), a.torch_batch):
                        idx = perm[i : i + a.torch_batch]
                        yield x_tr[idx], y_tr[idx]

            t0 = time.perf_counter()
            combine = a.combine or ("sum" if method == "ensemble" else "mean")
            losses = train(
                tree, batches(), steps, lr=a.torch_lr, weight_decay=5e-4, combine=combine,
                prune="magnitude", every=a.torch_every, seed=seed,
            )  # fmt: skip
            seconds = time.perf_counter() - t0
            test = [(x_te[i : i + 500], y_te[i : i + 500]) for i in range(0, len(y_te), 500)]
            r = evaluate(tree, test)
            r.update(key=key, k=k, method=method, heads=heads, seed=seed, seconds=seconds,
                     density=density or 1.0, final_train_loss=losses[-1])  # fmt: skip
            _write(out, r)
            print(key, {m: r[m] for m in ("accuracy", "nll", "ece", "disagreement")},
                  f"{seconds:.1f}s", flush=True)  # fmt: skip


def _ms(xs: list[float], scale: float = 1.0, digits: int = 2) -> str:
    xs = [x * scale for x in xs]
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def report(a: argparse.Namespace) -> None:
    for part in ("sprig", "torch"):
        path = Path(a.out) / f"{part}.jsonl"
        title = f"{part} ({a.out})"
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault((r["method"], r["k"]), []).append(r)
        print(f"\n### {title}\n")
        print("| method | k | seeds | accuracy % | NLL | ECE % | disagreement % | "
              "head accuracy % | parameters | FLOPs/prediction | train s |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for (method, k), rs in groups.items():
            # each run's mean single-head accuracy (the ensemble's gain is the difference)
            head_acc = [statistics.mean(r.get("head_accuracy") or [r["accuracy"]]) for r in rs]
            print(
                f"| {method} | {k or '-'} | {len(rs)} | {_ms([r['accuracy'] for r in rs], 100)} | "
                f"{_ms([r['nll'] for r in rs], 1, 3)} | {_ms([r['ece'] for r in rs], 100)} | "
                f"{_ms([r['disagreement'] for r in rs], 100)} | {_ms(head_acc, 100)} | "
                f"{rs[0]['parameters']} | "
                f"{rs[0]['flops']} | {_ms([r['seconds'] for r in rs], 1, 0)} |"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("sprig", "torch"))
    p.add_argument("--report", action="store_true")
    p.add_argument("--out", default=str(ROOT / "runs" / "neurotrails"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--head-blocks", type=int, nargs="+", default=[1, 2, 3, 4])
    p.add_argument("--treenet-k", type=int, default=2)
    p.add_argument(
        "--methods", nargs="+", default=["sparse", "dense", "neurotrails", "treenet", "ensemble"]
    )
    p.add_argument("--threads", type=int, default=1)
    # sprig MLP on Fashion-MNIST
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--test", type=int, default=5000)
    p.add_argument("--blocks-n", type=int, default=3, help="hidden layers of the MLP")
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--density", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--combine", choices=("mean", "sum"), default=None)
    p.add_argument(
        "--init",
        default="default",
        help="initializer of the MLP's linear layers (e.g. He; default: the layers' Xavier)",
    )
    # torch small CNN on the CIFAR-10 subset
    p.add_argument("--torch-blocks", type=int, default=3)
    p.add_argument("--torch-width", type=int, default=256)
    p.add_argument("--torch-density", type=float, default=0.1)
    p.add_argument("--torch-epochs", type=int, default=10)
    p.add_argument("--torch-batch", type=int, default=64)
    p.add_argument("--torch-lr", type=float, default=1e-3)
    p.add_argument("--torch-every", type=int, default=50)
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
