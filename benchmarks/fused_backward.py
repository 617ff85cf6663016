"""The fused backward pass against the two products it replaces, side by side in one process.

A training step's backward pass of a sparse layer needs the weight gradient at the stored
positions (SDDMM, ``CSRMatrix.sampled_fm``) and the input gradient ``dXt = Wᵀ dYt``
(``CSRMatrix.rmatmul_fm``). ``CSRMatrix.backward_fm`` (``kernels.backward``) computes both in
one pass over the column index: each stored weight gathers its row of ``dYt`` once for both
instead of one row of ``Xt`` (SDDMM) plus one row of ``dYt`` (backward-data). This script
times, per layer, the two separate products and the fused pass in interleaved rounds (best
round each: the shared machine adds only positive noise) and reports their ratio, for the
layers of the small MLP of ``benchmarks/mlp_epoch.py`` (3072-1024-1024-10 at ERK densities
0.01 and 0.3) and for square layers with 40 stored weights per row (ε = 20, the wide layers of
``benchmarks/scale.py``).

    python benchmarks/fused_backward.py
    python benchmarks/fused_backward.py --wide 20000,100000 --threads 1 --no-write
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

import sprig
from sprig.matrices import CSRMatrix

BATCH = 100
# (rows, cols, nnz): the two sparse hidden products of 3072-1024-1024-10 at ERK 0.01 / 0.3
SMALL = [(1024, 3072, 31_457), (1024, 1024, 11_534), (1024, 3072, 833_618), (1024, 1024, 419_430)]


def _time(f, reps: int) -> float:
    t = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - t) / reps


def measure(shape: tuple[int, int], nnz: int, rounds: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    W = CSRMatrix.random(shape, nnz=nnz, rng=rng, dtype=np.float32)
    W.data[:] = rng.standard_normal(W.nnz).astype(np.float32)
    Xt = rng.standard_normal((shape[1], BATCH)).astype(np.float32)
    dYt = rng.standard_normal((shape[0], BATCH)).astype(np.float32)
    grad = np.empty(W.nnz, np.float32)
    g, dX = W.backward_fm(dYt, Xt)  # also builds the cached column index
    np.testing.assert_allclose(g, W.sampled_fm(dYt, Xt), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(dX, W.rmatmul_fm(dYt))

    def separate() -> None:
        W.sampled_fm(dYt, Xt, grad)
        W.rmatmul_fm(dYt)

    def fused() -> None:
        W.backward_fm(dYt, Xt, grad)

    reps = max(1, int(3e8 / (W.nnz * BATCH)))
    best = {"separate": np.inf, "fused": np.inf}
    for r in range(rounds):
        order = [("separate", separate), ("fused", fused)]
        for name, f in order if r % 2 == 0 else order[::-1]:
            best[name] = min(best[name], _time(f, reps))
    flops = 4.0 * W.nnz * BATCH
    return {
        **best,
        "gfs_sep": flops / best["separate"] / 1e9,
        "gfs_fused": flops / best["fused"] / 1e9,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wide", default="20000,100000,250000,500000", help="square widths, 40/row")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    load0 = _report.start_load()
    sprig.set_num_threads(a.threads)
    layers = [((r, c), n) for r, c, n in SMALL]
    layers += [((w, w), 40 * w) for w in (int(x) for x in a.wide.split(",") if x)]
    rows = []
    for shape, nnz in layers:
        m = measure(shape, nnz, a.rounds)
        line = (
            f"| {shape[0]} x {shape[1]} | {nnz:,} | {m['separate'] * 1e3:.3f} | "
            f"{m['fused'] * 1e3:.3f} | {m['fused'] / m['separate']:.2f} | "
            f"{m['gfs_sep']:.1f} / {m['gfs_fused']:.1f} |"
        )
        rows.append(line)
        print(line, flush=True)
    lines = [
        "## Fused backward pass: weight gradient + input gradient in one pass",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}",
        f"- Machine: {_report.machine()}",
        _report.load_line(load0),
        f"- Versions: {_report.versions()}",
        f"- Threads: {a.threads}. Batch {BATCH}, float32, uniformly random topologies; best of "
        f"{a.rounds} interleaved rounds. *separate*: `sampled_fm` + `rmatmul_fm` (what a "
        "backward pass ran before); *fused*: `backward_fm` (same input gradient bit for bit, "
        "weight gradient equal to rounding).",
        "",
        "| layer (out x in) | nnz | separate ms | fused ms | fused / separate "
        "| GF/s separate / fused |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not a.no_write:
        _report.write_section("fused_backward", text)
        print(f"written to {_report.DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
