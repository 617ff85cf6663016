"""The three sparse products of one layer at two revisions of ``kernels.py``, interleaved.

Loads ``src/sprig/matrices/kernels.py`` of ``--base`` (``git show``) as a second module beside
this checkout's, and times the single-threaded row kernels of both (forward ``spmm`` with the
fused ReLU, backward-data ``spmm_t``, weight gradient ``sddmm`` with the fused ReLU mask and
the bias row sums) on the layers of the ``benchmarks/mlp_epoch.py`` network (batch 100,
float32), alternating base and current call by call. Time is the calling thread's CPU time
(``time.thread_time``), the minimum over the rounds: on a shared machine it does not count
the time other processes hold the core (their cache and memory traffic still shows).
Reported: GF/s (2 flops per stored weight and sample) and the speed-up current / base.

    python benchmarks/kernel_revisions.py --base 903a32c --rounds 40
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [(3072, 1024, 0.01), (1024, 1024, 0.011), (3072, 1024, 0.265), (1024, 1024, 0.4)]


def load_kernels(rev: str, tmp: Path) -> Any:
    """``kernels.py`` of ``rev`` as module ``kernels_<rev>`` (its JIT cache in ``tmp``)."""
    src = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:src/sprig/matrices/kernels.py"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    path = tmp / f"kernels_{rev.replace('~', '_')}.py"
    path.write_text(src.replace("from ..typing import", "from sprig.typing import"))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default="903a32c", help="git revision to compare against")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--batch", type=int, default=100)
    opts = ap.parse_args(argv)

    import sprig
    from sprig.layers import SparseLinear
    from sprig.matrices import kernels as current

    sprig.set_num_threads(1)
    load0 = os.getloadavg()[0]
    n = opts.batch
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        base = load_kernels(opts.base, Path(tmp))
        print(f"base {opts.base} vs current checkout; 1 thread; batch {n}; min thread CPU time "
              f"of {opts.rounds} interleaved rounds")  # fmt: skip
        print("| layer | density | nnz | product | base GF/s | current GF/s | current / base |")
        print("|---|---|---|---|---|---|---|")
        for fin, fout, d in LAYERS:
            layer = SparseLinear(fin, fout, density=d, rng=rng)
            W = layer.weight
            X = rng.standard_normal((fin, n)).astype(np.float32)
            dY = rng.standard_normal((fout, n)).astype(np.float32)
            mask = np.maximum(rng.standard_normal((fout, n)), 0).astype(np.float32)
            col_ptr, row_idx, perm, _ = W.csc
            rows = np.stack([W.indptr[:-1], W.indptr[1:]])
            cols = np.stack([col_ptr[:-1], col_ptr[1:]])
            Y = np.empty((fout, n), np.float32)
            dX = np.empty((fin, n), np.float32)
            g = np.empty(W.nnz, np.float32)
            sums = np.empty(fout, np.float32)
            b = layer.bias
            operands = {
                "spmm": (0, fout, rows[0], rows[1], W.indices, W.data, X, b, Y, True, True, True),
                "spmm_t": (0, fin, cols[0], cols[1], row_idx, perm, W.data, dY, dX, True),
                "sddmm": (0, fout, rows[0], rows[1], W.indices, dY, X, g, sums, mask, True),
            }
            calls = {}
            for name, K in (("base", base), ("current", current)):
                fns = {"spmm": K._spmm_rows, "spmm_t": K._spmm_t_cols, "sddmm": K._sddmm_rows}
                for op, fn in fns.items():
                    calls[(op, name)] = (fn, operands[op])
            for fn, a in calls.values():
                fn(*a)  # compile or load the JIT cache
            best = dict.fromkeys(calls, np.inf)
            for _ in range(opts.rounds):
                for key, (fn, a) in calls.items():
                    t = time.thread_time()
                    fn(*a)
                    best[key] = min(best[key], time.thread_time() - t)
            flops = 2 * W.nnz * n
            for op in ("spmm", "spmm_t", "sddmm"):
                tb, tc = best[(op, "base")], best[(op, "current")]
                print(f"| {fin}x{fout} | {W.density:.3g} | {W.nnz:,} | {op} | "
                      f"{flops / tb / 1e9:.1f} | {flops / tc / 1e9:.1f} | {tb / tc:.2f}x |",
                      flush=True)  # fmt: skip
    print(f"load average (1 min) before {load0:.2f}, after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
