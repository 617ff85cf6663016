"""Per-kernel timings of a sparse layer's three products: sprig vs torch.sparse CSR vs SciPy.

Layer 3072 -> 1024 (``W``: 1024 x 3072 CSR, uniformly random positions), batch 100, float32.
The products, in sprig's feature-major layout (``Xt``: 3072 x 100, ``dYt``: 1024 x 100):

* forward        ``Yt = W Xt + b``     sprig ``CSRMatrix.matmul_fm``; torch ``W_csr @ Xt`` (+ b);
                                       SciPy ``csr_array @ Xt`` (+ b)
* backward-data  ``dXt = Wᵀ dYt``      sprig ``rmatmul_fm`` (gather through its cached column
                                       index); torch / SciPy: a CSR copy of ``Wᵀ`` made once
                                       (as sprig caches its index) ``@ dYt``
* SDDMM          ``dW = (dYt Xtᵀ)[W]``  sprig ``sampled_fm``; torch
                                       ``torch.sparse.sampled_addmm(W_csr, dYt, Xtᵀ)``; SciPy
                                       has no SDDMM (n/a)

Every implementation's result is checked against a float64 dense reference first. Rounds are
interleaved (each round runs every implementation of every product once, ``reps`` calls each);
the table gives the median over rounds of the time per call and the effective rate
``2 · batch · nnz / time``. ``--baseline REV`` adds the sprig kernels of git revision ``REV``
(e.g. the version before an optimisation) as a column. Results go to ``docs/benchmarks.md``
(section ``kernels``) unless ``--no-write``.

    python benchmarks/kernels.py
    python benchmarks/kernels.py --densities 0.01,0.1 --rounds 5 --no-write
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

try:
    import torch
except ImportError:
    torch = None
try:
    import scipy.sparse as sp
except ImportError:
    sp = None

SHAPE = (1024, 3072)


def load_baseline(rev: str) -> Any:
    """The ``kernels`` module of git revision ``rev`` (or of the file ``rev`` if that exists),
    importable on its own."""
    if Path(rev).is_file():
        src = Path(rev).read_text()
        rev = Path(rev).stem
    else:
        src = subprocess.run(
            ["git", "show", f"{rev}:src/sprig/matrices/kernels.py"],
            cwd=_report.ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    src = src.replace(
        "from ..typing import FloatArray, IntArray", "from sprig.typing import FloatArray, IntArray"
    )
    d = Path(tempfile.mkdtemp(prefix="sprig_baseline_"))
    path = d / f"kernels_{rev.replace('/', '_').replace('~', '_')}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def one_density(
    d: float, B: int, rounds: int, base: Any, baseline: str | None, rng: np.random.Generator
) -> dict[tuple[float, str, str], float]:
    """Check and time every implementation of the three products at density ``d``."""
    from sprig.matrices import CSRMatrix

    results: dict[tuple[float, str, str], float] = {}
    W = CSRMatrix.random(
        SHAPE, density=d, rng=rng, values=lambda n, r: r.standard_normal(n).astype(np.float32)
    )
    Xt = rng.standard_normal((SHAPE[1], B)).astype(np.float32)
    dYt = rng.standard_normal((SHAPE[0], B)).astype(np.float32)
    b = rng.standard_normal(SHAPE[0]).astype(np.float32)
    Y = np.empty((SHAPE[0], B), np.float32)
    dX = np.empty((SHAPE[1], B), np.float32)
    g = np.empty(W.nnz, np.float32)
    col_ptr, row_idx, perm, cblocks = W.csc
    A = W.toarray().astype(np.float64)
    ref = {
        "forward": A @ Xt + b[:, None],
        "backward-data": A.T @ dYt,
        "sddmm": (dYt.astype(np.float64) @ Xt.T.astype(np.float64))[W.row_of, W.indices],
    }
    fns: dict[tuple[str, str], Callable[[], Any]] = {
        ("sprig", "forward"): lambda: W.matmul_fm(Xt, b, out=Y),
        ("sprig", "backward-data"): lambda: W.rmatmul_fm(dYt, out=dX),
        ("sprig", "sddmm"): lambda: W.sampled_fm(dYt, Xt, out=g),
    }
    if base is not None:
        name = f"sprig@{baseline}"
        fns[(name, "forward")] = lambda: base.spmm(
            W.row_blocks, W.indptr, W.indices, W.data, Xt, b, Y
        )
        fns[(name, "backward-data")] = lambda: base.spmm_transposed(
            cblocks, col_ptr, row_idx, perm, W.data, dYt, SHAPE[1], dX
        )
        fns[(name, "sddmm")] = lambda: base.sddmm(W.row_blocks, W.indptr, W.indices, dYt, Xt, g)
    if torch is not None:
        import warnings

        warnings.filterwarnings("ignore", ".*Sparse CSR tensor support is in beta.*")
        tW = torch.sparse_csr_tensor(
            torch.from_numpy(W.indptr),
            torch.from_numpy(W.indices.astype(np.int64)),
            torch.from_numpy(W.data),
            size=SHAPE,
            check_invariants=False,
        )
        tWT = torch.sparse_csr_tensor(
            torch.from_numpy(col_ptr),
            torch.from_numpy(row_idx.astype(np.int64)),
            torch.from_numpy(W.data[perm]),
            size=(SHAPE[1], SHAPE[0]),
            check_invariants=False,
        )
        tX, tdY, tb = torch.from_numpy(Xt), torch.from_numpy(dYt), torch.from_numpy(b)
        tXT = tX.T.contiguous()  # (B, 3072): the layout sampled_addmm's mat2 wants
        fns[("torch.sparse", "forward")] = lambda: torch.addmm(tb[:, None], tW, tX)
        fns[("torch.sparse", "backward-data")] = lambda: tWT @ tdY
        fns[("torch.sparse", "sddmm")] = lambda: torch.sparse.sampled_addmm(tW, tdY, tXT, beta=0.0)
    if sp is not None:
        sW = sp.csr_array((W.data, W.indices, W.indptr), shape=SHAPE)
        sWT = sp.csr_array((W.data[perm], row_idx, col_ptr), shape=SHAPE[::-1])
        fns[("scipy", "forward")] = lambda: sW @ Xt + b[:, None]
        fns[("scipy", "backward-data")] = lambda: sWT @ dYt
    # correctness first (also warms up / compiles)
    for (impl, prod), f in fns.items():
        r = f()
        if impl == "torch.sparse":
            r = r.values() if prod == "sddmm" else r
            r = r.numpy()
        r = np.asarray(r, dtype=np.float64)
        err = np.max(np.abs(r - ref[prod])) / max(1.0, np.max(np.abs(ref[prod])))
        if err > 1e-4:
            raise AssertionError(f"{impl} {prod} at density {d}: relative error {err:.2e}")
    reps = max(3, round(2e6 / (B * max(W.nnz, 1))))
    times: dict[tuple[str, str], list[float]] = {k: [] for k in fns}
    keys = list(fns)
    for r in range(rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            f = fns[key]
            t0 = time.perf_counter()
            for _ in range(reps):
                f()
            times[key].append((time.perf_counter() - t0) / reps)
    for (impl, prod), ts in times.items():
        results[(d, impl, prod)] = float(np.median(ts))
    print(
        f"density {d}: nnz {W.nnz}, "
        + ", ".join(
            f"{impl} {prod} {results[(d, impl, prod)] * 1e3:.3f} ms" for impl, prod in keys
        ),
        flush=True,
    )
    results[(d, "nnz", "")] = float(W.nnz)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--densities", default="0.001,0.005,0.01,0.05,0.1,0.2,0.5")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median)")
    ap.add_argument(
        "--baseline",
        default=None,
        help="git revision (or a kernels.py file) whose sprig kernels to add as a column",
    )
    ap.add_argument("--quick", action="store_true", help="densities 0.01,0.1, 3 rounds, no file")
    ap.add_argument("--section", help="docs/benchmarks.md section to (re)write")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    load0 = _report.start_load()
    if args.quick:
        args.densities, args.rounds, args.no_write = "0.01,0.1", 3, True
    densities = [float(d) for d in args.densities.split(",") if d.strip()]

    import sprig

    sprig.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    base = load_baseline(args.baseline) if args.baseline else None

    rng = np.random.default_rng(args.seed)
    B = args.batch
    impls = (
        ["sprig"]
        + ([f"sprig@{args.baseline}"] if base else [])
        + (["torch.sparse"] if torch is not None else [])
        + (["scipy"] if sp is not None else [])
    )
    results: dict[tuple[float, str, str], float] = {}
    for d in densities:
        results.update(one_density(d, B, args.rounds, base, args.baseline, rng))

    products = ("forward", "backward-data", "sddmm")
    lines = [
        f"## Kernels: one sparse layer {SHAPE[1]}->{SHAPE[0]}, batch {B}, float32, "
        f"{args.threads} thread{'s' if args.threads > 1 else ''}",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}",
        f"- Machine: {_report.machine()}",
        _report.load_line(load0),
        f"- Versions: {_report.versions()}",
        f"- Threads: {args.threads}. Median of {args.rounds} interleaved rounds; "
        "ms per call and effective GF/s = 2·batch·nnz/time. SciPy: no SDDMM (n/a); "
        "SciPy's sparse x dense product is single-threaded.",
        "",
    ]
    for prod in products:
        head = f"| {prod}: density | nnz |" + "".join(f" {i} |" for i in impls)
        head += " sprig vs best other |"
        lines += [head, "|" + "---|" * (len(impls) + 3)]
        for d in densities:
            nnz = int(results[(d, "nnz", "")])
            row = f"| {d:g} | {nnz:,} |"
            for impl in impls:
                t = results.get((d, impl, prod))
                row += (
                    " n/a |" if t is None else f" {t * 1e3:.3f} ms ({2 * B * nnz / t / 1e9:.1f}) |"
                )
            others = [
                results[(d, i, prod)]
                for i in impls
                if i != "sprig" and not i.startswith("sprig@") and (d, i, prod) in results
            ]
            row += f" {min(others) / results[(d, 'sprig', prod)]:.2f}x |" if others else " - |"
            lines.append(row)
        lines.append("")
    if base is not None:
        old = f"sprig@{args.baseline}"
        ratios = "; ".join(
            f"{prod} "
            + ", ".join(
                f"{d:g}: {results[(d, old, prod)] / results[(d, 'sprig', prod)]:.2f}x"
                for d in densities
            )
            for prod in products
        )
        lines.append(
            f"Current sprig kernels vs {old} (median time ratio, > 1: current faster): {ratios}."
        )
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if not args.no_write:
        # the default (2-thread) run owns "kernels"; other thread counts get their own section
        section = args.section or (
            "kernels" if args.threads == 2 else f"kernels_threads{args.threads}"
        )
        _report.write_section(section, text)
        print(f"written to {_report.DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
