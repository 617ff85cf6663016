"""Seconds per training epoch: sprig (truly sparse) vs PyTorch (dense, and dense x binary masks).

Network 3072-1024-1024-10, ReLU, softmax cross-entropy (mean over the batch), batch 100, SGD
with momentum 0.9 and lr 0.01, ERK layer densities (``sprig.sparsity.density.erk``) for each
overall density. Data: the CIFAR-10 subset in ``/work/shared/data/cifar10_subset`` (4,000
images, flattened to 3,072 features, standardised) repeated to ``--samples`` rows; with fewer
than 50,000 samples the per-epoch time is extrapolated linearly to a 50,000-sample epoch
(500 steps). If the file is missing, random data of the same shape is used (stated in the
output).

Per density and round the frameworks run back to back (their order rotates between rounds):

* sprig: the real training path, ``Trainer.fit`` on an ``MLP`` of ``SparseLinear`` +
  ``ActivationLayer(ReLU())`` layers (time = the trainer's epoch time, evaluation excluded);
* torch masked: dense ``nn.Linear`` weights multiplied by a fixed binary mask in the forward
  pass, the mask re-applied to the weights after every optimizer step (how mask-based sparse
  training code does it), same number of non-zeros per layer as sprig;
* torch dense: plain ``nn.Linear``.

Memory of weights + optimizer state is computed from the actual arrays (``nbytes``) after the
epoch. Results go to ``docs/benchmarks.md`` (section ``mlp_epoch``) unless ``--no-write``.

    python benchmarks/mlp_epoch.py                      # full run (~5-10 min on 2 cores)
    python benchmarks/mlp_epoch.py --samples 10000 --repeats 3
    python benchmarks/mlp_epoch.py --quick              # smoke test, writes nothing
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

SIZES = (3072, 1024, 1024, 10)
BATCH = 100
LR = 0.01
MOMENTUM = 0.9
EPOCH_SAMPLES = 50_000
# ../shared/data beside the clone (as in CI)
DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "cifar10_subset"
    / "cifar10_subset.npz"
)

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # the torch columns are skipped
    torch = None


# ----------------------------------------------------------------------------- data
def load_data(samples: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """``(X float32 (samples, 3072), y int64, description)``."""
    if DATA.exists():
        with np.load(DATA) as f:
            x = f["x_train"].reshape(len(f["x_train"]), -1).astype(np.float32) / 255.0
            y = f["y_train"].astype(np.int64)
        x -= x.mean(axis=0)
        x /= x.std(axis=0) + 1e-6
        desc = f"CIFAR-10 subset ({len(x)} training images, {x.shape[1]} features)"
    else:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((4000, SIZES[0])).astype(np.float32)
        y = rng.integers(0, SIZES[-1], 4000)
        desc = f"random data of CIFAR-10's shape ({DATA} not found)"
    idx = np.arange(samples) % len(x)
    desc += f" repeated to {samples} samples"
    return np.ascontiguousarray(x[idx]), y[idx], desc


def layer_plan(density: float) -> tuple[list[float], list[int]]:
    from sprig.sparsity.density import erk, layer_nnz, shapes_from_sizes

    shapes = shapes_from_sizes(list(SIZES))
    dens = erk(shapes, density)
    return dens, layer_nnz(shapes, dens)


# ----------------------------------------------------------------------------- sprig
def run_sprig(data: Any, density: float, seed: int) -> tuple[float, dict[str, int]]:
    """One epoch through ``Trainer.fit``; returns (seconds, memory)."""
    from sprig.activations import ReLU
    from sprig.layers import ActivationLayer, SparseLinear
    from sprig.losses import SoftmaxCrossEntropy
    from sprig.models import MLP
    from sprig.optimizers import Momentum
    from sprig.training.loop import Trainer

    _, nnz = layer_plan(density)
    rng = np.random.default_rng(seed)
    layers: list[Any] = []
    for i, (fin, fout) in enumerate(itertools.pairwise(SIZES)):
        layers.append(SparseLinear(fin, fout, nnz=nnz[i], rng=rng))
        if i < len(SIZES) - 2:
            layers.append(ActivationLayer(ReLU(), fout))
    model = MLP(layers)
    trainer = Trainer(
        model,
        loss=SoftmaxCrossEntropy(),
        optimizer=Momentum(MOMENTUM),
        schedule=LR,
        epochs=1,
        batch_size=BATCH,
        seed=seed,
    )
    history = trainer.fit(data)
    seconds = float(history[-1]["seconds"])
    if not np.isfinite(history[-1]["train_loss"]):
        raise RuntimeError("sprig training diverged")
    phases = {
        k[5:]: history[-1][k]
        for k in ("time_data", "time_forward", "time_backward", "time_optimizer")
        if k in history[-1]
    }
    print(
        "    sprig phases (s): " + ", ".join(f"{k} {v:.3f}" for k, v in phases.items()), flush=True
    )
    mem = dict.fromkeys(
        ("nnz", "values", "indices", "indptr", "momentum", "grad", "csc", "bias"), 0
    )
    for idx, layer in model.sparse_layers().items():
        W = layer.weight
        mem["nnz"] += W.nnz
        mem["values"] += W.data.nbytes
        mem["indices"] += W.indices.nbytes
        mem["indptr"] += W.indptr.nbytes
        mem["momentum"] += trainer.state.opt_states[f"{idx}.weight"].delta.nbytes
        mem["grad"] += layer.weight_grad.nbytes
        mem["csc"] += sum(a.nbytes for a in W.csc) + W.row_blocks.nbytes
        if layer.bias is not None:
            mem["bias"] += layer.bias.nbytes + trainer.state.opt_states[f"{idx}.bias"].delta.nbytes
    return seconds, mem


# ----------------------------------------------------------------------------- torch
if torch is not None:

    class MaskedLinear(nn.Module):
        """``nn.Linear`` whose weight is multiplied by a fixed binary mask in forward."""

        def __init__(self, fin: int, fout: int, nnz: int, rng: np.random.Generator) -> None:
            super().__init__()
            self.lin = nn.Linear(fin, fout)
            mask = np.zeros(fin * fout, np.float32)
            mask[rng.choice(fin * fout, size=nnz, replace=False)] = 1.0
            self.register_buffer("mask", torch.from_numpy(mask.reshape(fout, fin)))
            with torch.no_grad():
                self.lin.weight.mul_(self.mask)

        def forward(self, x: Any) -> Any:
            return F.linear(x, self.lin.weight * self.mask, self.lin.bias)

        def reapply(self) -> None:
            with torch.no_grad():
                self.lin.weight.mul_(self.mask)


def run_torch(X: Any, Y: Any, density: float | None, seed: int) -> tuple[float, dict[str, int]]:
    """One epoch of dense (``density=None``) or masked PyTorch; returns (seconds, memory)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mods: list[Any] = []
    if density is None:
        nnz = [a * b for a, b in itertools.pairwise(SIZES)]
        linears = [nn.Linear(a, b) for a, b in itertools.pairwise(SIZES)]
    else:
        _, nnz = layer_plan(density)
        mods = [
            MaskedLinear(a, b, k, rng)
            for (a, b), k in zip(itertools.pairwise(SIZES), nnz, strict=True)
        ]
        linears = mods
    seq: list[Any] = []
    for i, m in enumerate(linears):
        seq.append(m)
        if i < len(linears) - 1:
            seq.append(nn.ReLU())
    model = nn.Sequential(*seq)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    n = X.shape[0]
    perm = torch.from_numpy(np.random.default_rng([seed, 0]).permutation(n))
    t0 = time.perf_counter()
    for s in range(0, n, BATCH):
        idx = perm[s : s + BATCH]
        xb, yb = X[idx], Y[idx]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        for m in mods:
            m.reapply()
    seconds = time.perf_counter() - t0
    if not torch.isfinite(loss):
        raise RuntimeError("torch training diverged")
    mem = {"nnz": int(sum(nnz)), "weight": 0, "mask": 0, "momentum": 0, "bias": 0}
    for m in linears:
        lin = m.lin if density is not None else m
        w = lin.weight
        mem["weight"] += w.numel() * w.element_size()
        mem["momentum"] += opt.state[w]["momentum_buffer"].numel() * w.element_size()
        mem["bias"] += 2 * lin.bias.numel() * lin.bias.element_size()
        if density is not None:
            mem["mask"] += m.mask.numel() * m.mask.element_size()
    return seconds, mem


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--densities",
        default="0.01,0.05,0.1,0.2,0.5,1.0",
        help="comma-separated overall densities (default: %(default)s)",
    )
    ap.add_argument(
        "--samples",
        type=int,
        default=EPOCH_SAMPLES,
        help="training samples per measured epoch; times are scaled to 50,000",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="interleaved rounds (median)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1,000 samples, densities 0.01 and 1.0, no file written",
    )
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch runs")
    ap.add_argument("--section", help="docs/benchmarks.md section to (re)write")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    load0 = _report.start_load()
    if args.quick:
        args.samples, args.repeats, args.densities, args.no_write = 1000, 1, "0.01,1.0", True
    densities = [float(d) for d in args.densities.split(",") if d.strip()]
    use_torch = torch is not None and not args.no_torch

    import sprig
    from sprig.data.datasets import Dataset

    sprig.set_num_threads(args.threads)
    if use_torch:
        torch.set_num_threads(args.threads)
    X, y, data_desc = load_data(args.samples, args.seed)
    empty = np.zeros((0, X.shape[1]), np.float32)
    data = Dataset(X, y, empty, np.zeros(0, np.int64), num_classes=10, name="cifar10x")
    if use_torch:
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(y)
    scale = EPOCH_SAMPLES / args.samples

    # Warm-up: JIT compilation (or cache load) and torch's first-call costs, not timed.
    warm = Dataset(X[:300], y[:300], empty, np.zeros(0, np.int64), num_classes=10)
    t = time.perf_counter()
    run_sprig(warm, 0.05, args.seed)
    print(f"sprig warm-up (JIT compile or cache load): {time.perf_counter() - t:.1f} s", flush=True)
    if use_torch:
        run_torch(Xt[:300], Yt[:300], 0.05, args.seed)
        run_torch(Xt[:300], Yt[:300], None, args.seed)

    frameworks = ["sprig"] + (["torch_masked", "torch_dense"] if use_torch else [])
    times: dict[tuple[str, float], list[float]] = {}
    mems: dict[tuple[str, float], dict[str, int]] = {}
    for r in range(args.repeats):
        for d in densities:
            order = frameworks[r % len(frameworks) :] + frameworks[: r % len(frameworks)]
            for fw in order:
                gc.collect()
                if fw == "sprig":
                    sec, mem = run_sprig(data, d, args.seed + r)
                elif fw == "torch_masked":
                    sec, mem = run_torch(Xt, Yt, d, args.seed + r)
                else:
                    sec, mem = run_torch(Xt, Yt, None, args.seed + r)
                times.setdefault((fw, d), []).append(sec * scale)
                mems[(fw, d)] = mem
                print(
                    f"round {r + 1}/{args.repeats} density {d:<5} {fw:13s} "
                    f"{sec:7.3f} s measured, {sec * scale:7.2f} s per 50k-sample epoch",
                    flush=True,
                )

    med = {k: float(np.median(v)) for k, v in times.items()}
    lines = []
    extrap = (
        "measured on the full 50,000 samples"
        if args.samples == EPOCH_SAMPLES
        else f"measured on {args.samples} samples ({args.samples // BATCH} steps) and "
        f"scaled by {scale:g} to a 50,000-sample epoch"
    )
    lines += [
        f"## Training epoch: sprig vs PyTorch (MLP 3072-1024-1024-10, {args.threads} "
        f"thread{'s' if args.threads > 1 else ''})",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}",
        f"- Machine: {_report.machine()}",
        _report.load_line(load0),
        f"- Versions: {_report.versions()}",
        f"- Threads: {args.threads} (`sprig.set_num_threads`"
        + (", `torch.set_num_threads`" if use_torch else "")
        + ")",
        f"- Data: {data_desc}; times {extrap}. Median of {args.repeats} interleaved "
        "round(s); per density the frameworks ran back to back, order rotating per round.",
        "- Setup: ReLU, softmax cross-entropy (mean), batch 100, SGD momentum 0.9, lr 0.01, "
        "ERK layer densities; sprig = `Trainer.fit` on `SparseLinear` layers (epoch time "
        "of the trainer, no evaluation); torch masked = dense `nn.Linear` with `W * mask` "
        "in forward and the mask re-applied after each step; torch dense = `nn.Linear`.",
        "",
    ]
    head = "| density | ERK layer densities | nnz | sprig s/epoch |"
    sep = "|---|---|---|---|"
    if use_torch:
        head += " torch masked s/epoch | torch dense s/epoch | sprig vs masked | sprig vs dense |"
        sep += "---|---|---|---|"
    lines += [head, sep]
    for d in densities:
        dens, nnz = layer_plan(d)
        row = (
            f"| {d:g} | {', '.join(f'{x:.4g}' for x in dens)} | {sum(nnz):,} | "
            f"{med[('sprig', d)]:.2f} |"
        )
        if use_torch:
            tm, td, ts = med[("torch_masked", d)], med[("torch_dense", d)], med[("sprig", d)]
            row += f" {tm:.2f} | {td:.2f} | {tm / ts:.1f}x | {td / ts:.2f}x |"
        lines.append(row)
    if use_torch:
        all_dense = [v for (fw, _), vs in times.items() if fw == "torch_dense" for v in vs]
        lines += [
            "",
            f"Speed-up = torch time / sprig time (> 1: sprig faster). Torch dense "
            f"over all its runs: median {np.median(all_dense):.2f} s, range "
            f"{min(all_dense):.2f}-{max(all_dense):.2f} s.",
        ]
    if args.repeats > 1:
        lines += [
            "",
            "Spread (min-max over rounds, s/epoch): "
            + "; ".join(
                f"{fw} {d:g}: {min(times[(fw, d)]):.2f}-{max(times[(fw, d)]):.2f}"
                for d in densities
                for fw in frameworks
            ),
        ]

    lines += ["", "### Memory of weights + optimizer state (from the arrays' `nbytes`)", ""]
    head = "| density | nnz | sprig bytes | sprig B/nnz |"
    sep = "|---|---|---|---|"
    if use_torch:
        head += " torch masked bytes | torch masked B/nnz | ratio |"
        sep += "---|---|---|"
    lines += [head, sep]
    for d in densities:
        s = mems[("sprig", d)]
        sb = s["values"] + s["indices"] + s["indptr"] + s["momentum"]
        row = f"| {d:g} | {s['nnz']:,} | {sb / 2**20:.2f} MiB | {sb / s['nnz']:.2f} |"
        if use_torch:
            t_ = mems[("torch_masked", d)]
            tb = t_["weight"] + t_["mask"] + t_["momentum"]
            row += f" {tb / 2**20:.2f} MiB | {tb / t_['nnz']:.2f} | {tb / sb:.1f}x |"
        lines.append(row)
    s = mems[("sprig", densities[0])]
    lines += [
        "",
        "sprig = CSR values (float32) + int32 column indices + int64 row pointers + momentum "
        "(float32 per stored entry); torch masked = dense float32 weight + float32 mask + "
        "dense momentum buffer, divided by the same nnz. Not included on either side: "
        "biases and their momentum (a few KiB), gradients (sprig: 4 B/nnz, torch: a dense "
        "weight-sized `.grad`) and, for sprig, the cached transpose index used by "
        f"backward-data (at density {densities[0]:g}: "
        f"{(s['csc']) / s['nnz']:.1f} B/nnz incl. work blocks).",
    ]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if not args.no_write:
        # the default (2-thread) run owns "mlp_epoch"; other thread counts get their own section
        section = args.section or (
            "mlp_epoch" if args.threads == 2 else f"mlp_epoch_threads{args.threads}"
        )
        _report.write_section(section, text)
        print(f"written to {_report.DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
