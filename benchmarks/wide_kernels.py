"""Why wide sparse layers are slow: the three products against the machine's gather ceiling.

For a square ``W × W`` layer with ``k`` stored weights per row (``k = 40`` is the ε = 20
Erdős–Rényi density of ``benchmarks/scale.py``) and a feature-major batch of ``B = 100``, each
stored weight reads one ``B``-float row (400 bytes) of the gathered operand at a random row.
Once that operand (``W × B × 4`` bytes) no longer fits in the private L2, every stored weight
costs a cache miss of 400 bytes, and the products run at the speed of random row gathers, not
of arithmetic. This script measures, per width and side by side in one process:

* the products as sprig runs them (``CSRMatrix.matmul_fm`` / ``rmatmul_fm`` / ``sampled_fm``),
  in GF/s and in GB/s of gathered rows (``nnz · B · 4 / t``);
* the same products by column panels (``--panels``, MiB of gathered operand per panel:
  the tiling of the scale issue) and by batch chunks (``--chunks``: the batch split into
  pieces of ``c`` columns, each gathered row shorter);
* the *gather ceiling*: a kernel that only gathers the same rows in the same order and sums
  them (no weights, no output rows), i.e. the fastest any product with this access pattern
  can go, and the sequential copy bandwidth (``np.copyto`` of 400 MB, read + write).

If the products run at the gather ceiling, no rearrangement of the arithmetic helps: only
fewer or cheaper misses do (cache reuse, which a uniformly random topology of this density
does not offer within an L2-sized tile — ``k · tile / W`` entries per row and tile).

    python benchmarks/wide_kernels.py                       # widths 5000 .. 500000
    python benchmarks/wide_kernels.py --widths 20000,500000 --no-write
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

import sprig
from sprig.matrices import kernels
from sprig.matrices.csr import CSRMatrix


@nb.njit(parallel=True, cache=True, fastmath=True, boundscheck=False)
def _gather_only(blocks, indptr, indices, Xt, out):  # pragma: no cover - jitted
    n = Xt.shape[1]
    for blk in nb.prange(len(blocks) - 1):
        for i in range(blocks[blk], blocks[blk + 1]):
            for t in range(n):
                out[blk, t] = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                for t in range(n):
                    out[blk, t] += Xt[j, t]


def _best(f, reps: int) -> float:
    f()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def _ceiling(W: CSRMatrix, Xt: np.ndarray, reps: int) -> float:
    """Seconds to gather (and sum) the rows of ``Xt`` that a forward product reads."""
    blocks = kernels.balanced_blocks(W.indptr)
    out = np.empty((len(blocks) - 1, Xt.shape[1]), dtype=Xt.dtype)
    return _best(lambda: _gather_only(blocks, W.indptr, W.indices, Xt, out), reps)


def _products(W: CSRMatrix, Xt: np.ndarray, dYt: np.ndarray, reps: int) -> tuple[float, ...]:
    return (
        _best(lambda: W.matmul_fm(Xt), reps),
        _best(lambda: W.rmatmul_fm(dYt), reps),
        _best(lambda: W.sampled_fm(dYt, Xt), reps),
    )


def _chunked(W: CSRMatrix, Xt: np.ndarray, dYt: np.ndarray, c: int, reps: int) -> tuple[float, ...]:
    B = Xt.shape[1]
    parts = [(a, min(a + c, B)) for a in range(0, B, c)]
    xs = [np.ascontiguousarray(Xt[:, a:b]) for a, b in parts]
    ds = [np.ascontiguousarray(dYt[:, a:b]) for a, b in parts]
    return (
        _best(lambda: [W.matmul_fm(x) for x in xs], reps),
        _best(lambda: [W.rmatmul_fm(d) for d in ds], reps),
        _best(lambda: [W.sampled_fm(d, x) for d, x in zip(ds, xs, strict=True)], reps),
    )


def _copy_gbs(reps: int) -> float:
    a = np.ones(100_000_000, dtype=np.float32)
    b = np.empty_like(a)
    return 2 * a.nbytes / _best(lambda: np.copyto(b, a), reps) / 1e9


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--widths", default="5000,20000,100000,500000")
    p.add_argument("--per-row", type=int, default=40, help="stored weights per row (k)")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--panels", default="64,16,4", help="MiB per panel ('' for none)")
    p.add_argument("--chunks", default="25", help="batch chunk sizes ('' for none)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--section", default="wide_kernels")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args(argv)
    sprig.set_num_threads(a.threads)
    widths = [int(w) for w in a.widths.split(",")]
    panel_mib = [int(x) for x in a.panels.split(",") if x]
    chunks = [int(x) for x in a.chunks.split(",") if x]
    load0 = _report.start_load()
    copy = _copy_gbs(a.reps)
    print(f"sequential copy: {copy:.1f} GB/s (read + write)", flush=True)
    rows = []
    for w in widths:
        rng = np.random.default_rng(0)
        W = CSRMatrix.random(
            (w, w), nnz=w * a.per_row, rng=rng, dtype=np.float32,
            values=lambda k, r: r.standard_normal(k, dtype=np.float32),
        )  # fmt: skip
        Xt = rng.standard_normal((w, a.batch), dtype=np.float32)
        dYt = rng.standard_normal((w, a.batch), dtype=np.float32)
        flop = 2.0 * a.batch * W.nnz
        gathered = W.nnz * a.batch * 4 / 1e9  # GB of rows gathered per product
        ceiling = _ceiling(W, Xt, a.reps)
        variants: list[tuple[str, tuple[float, ...]]] = []
        saved = kernels.PANEL_BYTES
        try:
            kernels.PANEL_BYTES = 1 << 62
            variants.append(("one pass", _products(W, Xt, dYt, a.reps)))
            for mib in panel_mib:
                kernels.PANEL_BYTES = mib << 20
                P = kernels.n_panels(w, a.batch, 4)
                if P > 1:
                    variants.append((f"panels {mib} MiB (P={P})", _products(W, Xt, dYt, a.reps)))
            kernels.PANEL_BYTES = 1 << 62
            for c in chunks:
                if c < a.batch:
                    variants.append((f"batch chunks of {c}", _chunked(W, Xt, dYt, c, a.reps)))
        finally:
            kernels.PANEL_BYTES = saved
        mb = w * a.batch * 4 / 2**20
        rows.append(
            f"| {w:,} | {W.nnz:,} | {mb:.0f} | gather only | {ceiling * 1e3:.0f} | | | "
            f"{gathered / ceiling:.1f} | |"
        )
        for name, (f, b, g) in variants:
            rows.append(
                f"| | | | {name} | {f * 1e3:.0f} | {b * 1e3:.0f} | {g * 1e3:.0f} | "
                f"{gathered / f:.1f} / {gathered / b:.1f} / {gathered / g:.1f} | "
                f"{flop / f / 1e9:.1f} / {flop / b / 1e9:.1f} / {flop / g / 1e9:.1f} |"
            )
        print("\n".join(rows[-len(variants) - 1 :]), flush=True)
    lines = [
        "## Wide layers: products against the gather ceiling (`benchmarks/wide_kernels.py`)",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}; machine: {_report.machine()}; threads {a.threads}",
        _report.load_line(load0),
        f"- Versions: {_report.versions()}",
        f"- Square W×W layers, {a.per_row} stored weights per row (uniformly random), batch "
        f"{a.batch}, float32; best of {a.reps}. Sequential copy bandwidth: {copy:.1f} GB/s "
        "(read + write of 400 MB).",
        "",
        "| width | nnz | gathered operand MiB | variant | fwd ms | bwd ms | grad ms | "
        "GB/s of gathered rows (fwd / bwd / grad) | GF/s (fwd / bwd / grad) |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not a.no_write:
        _report.write_section(a.section, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
