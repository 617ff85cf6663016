"""Training-step time of the small GPT (sprig.torch.models): sparse vs dense vs masked.

One training step (forward, cross-entropy, backward, ``Adam`` step) of the character-level
GPT, three variants built from the same model, timed side by side in one process with the
rounds interleaved (dense, masked, sparse, dense, ...), medians reported:

* ``dense``: every layer ``nn.Linear``;
* ``masked``: the blocks' linear layers dense ``nn.Linear`` with ``weight * mask`` in the
  forward pass (the baseline of mask-based DST libraries), at the sparse run's topology;
* ``sparse``: the blocks' linear layers ``sprig.torch.SparseLinear`` (``sparsify``, ERK),
  at overall density ``--density`` (the embeddings, norms and head stay dense in all three).

Also reported: bytes of parameters + buffers (index arrays / masks) + Adam state.

Usage: ``python benchmarks/gpt_step.py [--width 256 --context 128 --batch 16 --density 0.1]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
import _report
from _gpt_baselines import linear_stats, masked_from_sparse, memory_bytes

import sprig.torch as st
from sprig.torch.models import GPT, GPTConfig

VARIANTS = ("dense", "masked", "sparse")


def build(variant: str, cfg: GPTConfig, density: float, seed: int) -> GPT:
    model = GPT(cfg, generator=torch.Generator().manual_seed(seed))
    if variant != "dense":
        st.sparsify(model, density, exclude=("head",), rng=seed)
    if variant == "masked":
        masked_from_sparse(model)
    return model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--density", type=float, default=0.1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    vocab = 65  # tinyshakespeare's characters; random tokens suffice for timing
    cfg = GPTConfig(
        vocab, context=args.context, n_layer=args.layers, width=args.width, n_head=args.heads
    )
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randint(vocab, (args.batch, args.context), generator=gen)
    y = torch.randint(vocab, (args.batch, args.context), generator=gen)
    load0 = _report.start_load()
    models = {v: build(v, cfg, args.density, args.seed) for v in VARIANTS}
    opts = {v: torch.optim.Adam(m.parameters(), lr=1e-3) for v, m in models.items()}

    def step(v: str) -> float:
        m, opt = models[v], opts[v]
        t0 = time.perf_counter()
        loss = m.loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    for v in VARIANTS:  # warm-up: JIT compilation, Adam state allocation
        step(v)
        step(v)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for v in VARIANTS:
            times[v].append(step(v))
    med = {v: statistics.median(t) for v, t in times.items()}
    mem = {v: memory_bytes(models[v], opts[v]) for v in VARIANTS}
    dens = {v: linear_stats(models[v])["density"] for v in VARIANTS}
    mib = 1 << 20
    lines = [
        f"## GPT training step: density {args.density} vs dense vs masked",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}; machine: {_report.machine()}; torch threads: {args.threads}",
        _report.load_line(load0),
        f"- Model: `sprig.torch.models.GPT`, {args.layers} layers, width {args.width}, "
        f"{args.heads} heads, context {args.context}, vocabulary {vocab}; batch {args.batch} "
        f"× {args.context} tokens; one step = forward + cross-entropy + backward + "
        f"`torch.optim.Adam` step; median of {args.rounds} interleaved rounds after 2 warm-up "
        "steps. Sparse/masked: the 6 linear layers of every block (q, k, v, out, fc, proj) "
        "at ERK densities (`sparsify(model, density, exclude=('head',))`); embeddings, "
        "norms and head dense in every variant.",
        "",
        "| variant | blocks' linear density | median s / step | × dense | "
        "params + buffers | Adam state | total |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        m = mem[v]
        lines.append(
            f"| {v} | {dens[v]:.3f} | {med[v]:.3f} | {med[v] / med['dense']:.2f} | "
            f"{(m['parameters'] + m['buffers']) / mib:.2f} MiB | {m['optimizer'] / mib:.2f} MiB "
            f"| {m['total'] / mib:.2f} MiB |"
        )
    lines.append(
        f"\nsparse / masked step time: {med['sparse'] / med['masked']:.2f}; all times (s): "
        + "; ".join(f"{v} " + ", ".join(f"{t:.3f}" for t in times[v]) for v in VARIANTS)
    )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        _report.write_section(f"gpt_step_w{args.width}_d{args.density:g}", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
