"""SEFT on a character-level GPT (tinyshakespeare): pretrain dense, prune, repair.

1. Pretrain the GPT of ``sprig.torch.models`` dense (``--pretrain-steps`` AdamW steps) or load
   the checkpoint of an earlier run (``<out>/dense.safetensors``, no pickle).
2. For each density (``--densities``) and post-training pruning method (magnitude, Wanda with
   ``--calib`` calibration batches of training windows): prune the blocks' linear layers
   (q, k, v, out, fc, proj; embeddings, norms and the head stay dense) with
   ``sprig.seft.torch.prune`` into truly sparse ``sprig.torch.SparseLinear`` layers.
3. Repair each pruned model with every method of ``sprig.seft.torch.finetune`` for ``--steps``
   AdamW steps on the same batches: ``seft`` (``--dst``), ``static`` (mask frozen), ``dense``
   (densified, sparsity lost), ``lora`` (rank ``--rank`` adapters on the frozen pruned model,
   merged at the end).

Reference row ``unpruned``: the dense model fine-tuned for the same steps (the pretraining is
short, so part of any repair's gain is simply more training; this row measures that part).

Recorded per run (``<out>/runs.jsonl``, one JSON line each, appended as they finish): validation
loss (mean cross-entropy over ``--val-batches`` fixed batches of consecutive validation windows)
of the dense model, after pruning and after repair; trainable parameters; optimizer-state
bytes; fine-tuning seconds; density of the pruned layers after the repair (after merging for
LoRA); SEFT's topology updates. ``--report`` prints the markdown table of docs/results.md.

Repairs are repeated for every ``--repair-seeds`` seed (training windows, LoRA's initial
adapters and SEFT's random tie-breaking; the pretrained and pruned models are the same for all
seeds); ``--dst`` takes several DST specs for the ``seft`` method (a sweep of ΔT and the regrow
fraction; ``RigL(...)`` is the ablation with |w| instead of |w·g| prune-back); ``--report``
prints mean ± standard deviation over the seeds.

Usage (the commands of docs/results.md, section 9)::

    PYTHONPATH=src python experiments/seft_char.py --pretrain-only   # once
    PYTHONPATH=src python experiments/seft_char.py --repair-seeds 0 1 2
    PYTHONPATH=src python experiments/seft_char.py --report
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from sprig.seft import torch as ST
from sprig.torch.data import CharDataset
from sprig.torch.io import load_safetensors, save_safetensors
from sprig.torch.models import GPT, GPTConfig

ROOT = Path(__file__).resolve().parents[1]
TEXT = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"


@torch.no_grad()
def val_loss(model: torch.nn.Module, ds: CharDataset, a: argparse.Namespace) -> float:
    was = model.training
    model.eval()
    total, n = 0.0, 0
    for x, y in ds.windows("val", a.context, batch_size=a.batch, max_batches=a.val_batches):
        total += float(model.loss(x, y)) * x.shape[0]
        n += x.shape[0]
    model.train(was)
    return total / n


def batches(ds: CharDataset, a: argparse.Namespace, seed: int, size: int | None = None) -> Any:
    """``step -> (x, y)``: the same random training windows for every run with ``seed``
    (``size`` windows a batch, default ``--batch``)."""
    g = torch.Generator().manual_seed(seed)
    cache: list[Any] = []

    def get(i: int) -> Any:
        while len(cache) <= i:
            cache.append(ds.batch("train", size or a.batch, a.context, generator=g))
        return cache[i]

    return get


def pretrain(ds: CharDataset, a: argparse.Namespace) -> tuple[GPT, dict[str, Any]]:
    cfg = GPTConfig(ds.vocab_size, context=a.context, n_layer=a.layers, width=a.width, n_head=4)
    model = GPT(cfg, generator=torch.Generator().manual_seed(a.seed))
    path = a.out / "dense.safetensors"
    meta_path = a.out / "dense.json"
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta["config"] == vars(cfg):
            load_safetensors(model, path)
            print(f"loaded {path} (pretrained {meta['steps']} steps)", flush=True)
            return model, meta
    opt = torch.optim.AdamW(model.parameters(), lr=a.pretrain_lr, weight_decay=0.0)
    get = batches(ds, a, a.seed + 100)
    t0 = time.perf_counter()
    for i in range(a.pretrain_steps):
        lr = (
            a.pretrain_lr
            * min(1.0, (i + 1) / 50)
            * 0.5
            * (1 + math.cos(math.pi * i / a.pretrain_steps))
        )
        for grp in opt.param_groups:
            grp["lr"] = max(lr, a.pretrain_lr * 0.05)
        x, y = get(i)
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (i + 1) % 250 == 0:
            print(f"pretrain step {i + 1}: loss {float(loss.detach()):.4f}", flush=True)
    meta = {
        "config": vars(cfg),
        "steps": a.pretrain_steps,
        "seconds": time.perf_counter() - t0,
        "val_loss": val_loss(model, ds, a),
    }
    save_safetensors(model, path)
    meta_path.write_text(json.dumps(meta))
    return model, meta


def run_all(a: argparse.Namespace) -> None:
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    ds = CharDataset.from_file(a.text)
    dense, meta = pretrain(ds, a)
    if a.pretrain_only:
        return
    dense_val = val_loss(dense, ds, a)
    print(f"dense: val loss {dense_val:.4f}", flush=True)
    log = a.out / a.log
    done = set()
    if log.exists():
        for line in log.read_text().splitlines():
            r = json.loads(line)
            done.add(_key(r))

    def loss_fn(m: Any, b: Any) -> torch.Tensor:
        return m.loss(*b)

    def record(row: dict[str, Any]) -> None:
        row.update(
            dense_val=dense_val,
            pretrain_steps=meta["steps"],
            steps=a.steps,
            repair_batch=a.repair_batch or a.batch,
        )
        with log.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    for rs in a.repair_seeds:
        if (
            not a.reference
            or _key(
                {"density": 1.0, "prune": "none", "method": "unpruned", "seed": rs, "dst": None}
            )
            in done
        ):
            continue
        m = copy.deepcopy(dense)
        get = batches(ds, a, _repair_seed(a, rs), a.repair_batch)
        opt = torch.optim.AdamW(m.parameters(), lr=a.lr)
        t0 = time.perf_counter()
        for i in range(a.steps):
            opt.zero_grad(set_to_none=True)
            loss_fn(m, get(i)).backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
        record(
            {
                "density": 1.0,
                "prune": "none",
                "method": "unpruned",
                "seed": rs,
                "dst": None,
                "pruned_val": dense_val,
                "repaired_val": val_loss(m, ds, a),
                "trainable": ST.trainable_parameters(m),
                "optimizer_bytes": ST.optimizer_state_bytes(opt),
                "seconds": time.perf_counter() - t0,
                "final_density": 1.0,
                "updates": 0,
            }
        )
    calib_gen = torch.Generator().manual_seed(a.seed + 300)
    calib = [ds.batch("train", a.batch, a.context, generator=calib_gen)[0] for _ in range(a.calib)]
    for density in a.densities:
        for prune in a.prune:
            pruned = copy.deepcopy(dense)
            report = ST.prune(pruned, density, prune, calibration=calib, forward=lambda m, x: m(x))
            pruned_val = val_loss(pruned, ds, a)
            nnz = sum(r["nnz"] for r in report.values())
            size = sum(r["shape"][0] * r["shape"][1] for r in report.values())
            jobs = [
                (method, spec if method == "seft" else None, rs)
                for rs in a.repair_seeds
                for method in a.methods
                for spec in (a.dst if method == "seft" else [None])
            ]
            for method, spec, rs in jobs:
                row = {"density": density, "prune": prune, "method": method, "seed": rs}
                if _key({**row, "dst": spec}) in done:
                    continue
                m = copy.deepcopy(pruned)
                res = ST.finetune(
                    m,
                    loss_fn,
                    batches(ds, a, _repair_seed(a, rs), a.repair_batch),
                    steps=a.steps,
                    method=method,
                    lr=a.lr,
                    dst=spec or "SEFT",
                    rank=a.rank,
                    alpha=2.0 * a.rank,
                    seed=rs,
                )
                record(
                    {
                        **row,
                        "dst": spec,
                        "pruned_layers_density": nnz / size,
                        "pruned_val": pruned_val,
                        "repaired_val": val_loss(m, ds, a),
                        "trainable": res.trainable,
                        "optimizer_bytes": res.optimizer_bytes,
                        "seconds": res.seconds,
                        "final_density": res.density,
                        "updates": res.topology_updates,
                    }
                )


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["density"], r["prune"], r["method"], r.get("seed", 0), r.get("dst"))


def _repair_seed(a: argparse.Namespace, rs: int) -> int:
    """Seed of the repair batches: repair seed 0 keeps the batches of the first version."""
    return a.seed + 200 + 1000 * rs


def _ms(xs: list[float], fmt: str) -> str:
    if len(xs) < 2:
        return format(xs[0], fmt)
    mean = statistics.fmean(xs)
    return f"{format(mean, fmt)} ± {format(statistics.stdev(xs), fmt)}"


def report(a: argparse.Namespace) -> None:
    rows = [
        json.loads(s)
        for f in sorted(a.out.glob("runs*.jsonl"))
        for s in f.read_text().splitlines()
        if s.strip()
    ]
    size = a.repair_batch or a.batch
    rows = [r for r in rows if r["steps"] == a.steps and r.get("repair_batch", 16) == size]
    order = {m: i for i, m in enumerate(("unpruned", *ST.METHODS))}
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["density"], r["prune"], r["method"], r.get("dst")), []).append(r)
    keys = sorted(groups, key=lambda k: (-k[0], k[1], order.get(k[2], 9), str(k[3])))
    meta = json.loads((a.out / "dense.json").read_text())
    print(
        f"dense model: {meta['config']}, pretrained {meta['steps']} steps "
        f"({meta['seconds']:.0f} s), val loss {rows[0]['dense_val']:.4f}; "
        f"{a.steps} repair steps of {size} windows\n"
    )
    print(
        "| sparsity | pruning | repair | seeds | val loss pruned | val loss repaired | "
        "trainable params | optimizer state | time (s) | density after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        g = groups[k]
        r = g[0]
        sp = "0 %" if r["density"] == 1.0 else f"{100 * (1 - r['density']):.0f} %"
        name = r["method"] if r["method"] != "seft" else f"`{r['dst']}`"
        print(
            f"| {sp} | {r['prune']} | {name} | {len(g)} | {r['pruned_val']:.4f} | "
            f"{_ms([x['repaired_val'] for x in g], '.4f')} | {r['trainable']:,} | "
            f"{r['optimizer_bytes'] / 1024:.0f} KiB | "
            f"{_ms([x['seconds'] for x in g], '.1f')} | {r['final_density']:.3f} |"
        )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--report", action="store_true")
    p.add_argument("--pretrain-only", action="store_true")
    p.add_argument(
        "--no-reference", dest="reference", action="store_false", help="skip the unpruned row"
    )
    p.add_argument("--text", type=Path, default=TEXT)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "seft_char")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--pretrain-steps", type=int, default=1500)
    p.add_argument("--pretrain-lr", type=float, default=3e-3)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repair-batch", type=int, default=None, help="windows per repair step")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--densities", type=float, nargs="+", default=[0.5, 0.3])
    p.add_argument("--prune", nargs="+", default=["magnitude", "wanda"])
    p.add_argument("--methods", nargs="+", default=list(ST.METHODS))
    p.add_argument("--dst", nargs="+", default=["SEFT(fraction=0.1, every=20)"])
    p.add_argument("--repair-seeds", type=int, nargs="+", default=[0])
    p.add_argument("--log", default="runs.jsonl", help="file under --out the runs go to")
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--calib", type=int, default=8, help="calibration batches (Wanda)")
    p.add_argument("--val-batches", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    if a.report:
        report(a)
    else:
        run_all(a)


if __name__ == "__main__":
    sys.exit(main())
