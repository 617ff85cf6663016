"""sprig's training epoch at two source revisions, side by side in one run (no regression).

Builds a git worktree of ``--base`` (default: 35bfa14, the release before model trees) in a
temporary folder and times, for each overall density and round, one training epoch of the
``benchmarks/mlp_epoch.py`` network (3072-1024-1024-10, ReLU, ERK, momentum 0.9, batch 100,
``Trainer.fit``, evaluation excluded) in a fresh subprocess per revision — once with the base
sources, once with this checkout's — alternating which goes first. Each subprocess warms the
JIT on a short epoch first, so compile time is not counted. Reported: the median seconds per
50,000-sample epoch of each revision and their ratio (``current / base``: below 1 is faster),
with the machine's load average before and after. The process CPU time of the epoch is
reported too (all threads): on a shared machine it is less sensitive than wall time to
other processes holding the cores.

    python benchmarks/revisions.py --densities 0.01 0.1 --samples 10000 --repeats 3
    python benchmarks/revisions.py --base HEAD~5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])  # benchmarks/ of THIS checkout: the same network and data
import mlp_epoch as M
import sprig
sprig.set_num_threads(int(sys.argv[4]))
from sprig.data.datasets import Dataset
density, samples = float(sys.argv[2]), int(sys.argv[3])
x, y, _ = M.load_data(samples, 0)
data = Dataset(x, y, x[:0], y[:0], num_classes=10, name="bench")
warm = Dataset(x[:1000], y[:1000], x[:0], y[:0], num_classes=10, name="warm")
M.run_sprig(warm, density, 0)
cpu0 = time.process_time()
seconds, _ = M.run_sprig(data, density, 0)
cpu = time.process_time() - cpu0
scale = M.EPOCH_SAMPLES / samples
print(json.dumps({"seconds": seconds * scale, "cpu_seconds": cpu * scale}))
"""


def epoch_seconds(src: Path, density: float, samples: int, threads: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONUNBUFFERED": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "benchmarks"), str(density), str(samples),
         str(threads)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return float(got["seconds"]), float(got["cpu_seconds"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default="35bfa14", help="git revision to compare against")
    ap.add_argument("--densities", type=float, nargs="+", default=[0.01, 0.1])
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base),
                        args.base], check=True)  # fmt: skip
        try:
            trees = {"base": base / "src", "current": ROOT / "src"}
            times: dict[tuple[str, float], list[float]] = {}
            cpus: dict[tuple[str, float], list[float]] = {}
            for r in range(args.repeats):
                for d in args.densities:
                    order = list(trees) if r % 2 == 0 else list(reversed(trees))
                    for name in order:
                        s, c = epoch_seconds(trees[name], d, args.samples, args.threads)
                        times.setdefault((name, d), []).append(s)
                        cpus.setdefault((name, d), []).append(c)
                        print(f"round {r + 1} density {d} {name}: {s:.3f} s/epoch "
                              f"({c:.3f} s CPU)", flush=True)  # fmt: skip
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False)  # fmt: skip
    load1 = os.getloadavg()
    print(f"\nbase {args.base} vs current checkout; {args.threads} threads; "
          f"{args.samples} samples extrapolated to 50,000; median of {args.repeats} rounds; "
          f"load average before {load0[0]:.2f}, after {load1[0]:.2f}")  # fmt: skip
    print("| density | base s/epoch | current s/epoch | current / base | base CPU s | "
          "current CPU s | CPU current / base |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for d in args.densities:
        b = statistics.median(times[("base", d)])
        c = statistics.median(times[("current", d)])
        bc = statistics.median(cpus[("base", d)])
        cc = statistics.median(cpus[("current", d)])
        print(f"| {d} | {b:.3f} | {c:.3f} | {c / b:.3f} | {bc:.3f} | {cc:.3f} | {cc / bc:.3f} |")
    print(
        "CPU = process CPU time of the epoch (all threads, spinning included), scaled the "
        "same way: less sensitive than wall time to other processes holding the cores."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
