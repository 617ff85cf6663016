"""Threads under contention: sprig training with 1 and 2 threads, alone and beside a
competing CPU load, for several threading set-ups (issue 8).

With other processes on the cores, OpenMP-style worker threads that spin on barriers while
the scheduler has parked the thread they wait for make a 2-thread run far slower than a
1-thread run. Each measurement is a fresh interpreter (the threading environment is read
when the OpenMP runtime loads) that trains a 784-2000-2000-10 ReLU MLP (ERK, overall
density 0.1, batch 100, momentum SGD) for ``--batches`` batches on random data after a
warm-up, and reports seconds per batch. Set-ups:

* ``before``: the environment as found (``SPRIG_THREAD_DEFAULTS=off``), Numba's default
  threading layer (``omp`` here: no TBB installed);
* ``passive``: ``OMP_WAIT_POLICY=PASSIVE`` and ``KMP_BLOCKTIME=0`` (what ``import sprig``
  now sets unless the user set them; ``sprig.runtime.THREAD_DEFAULTS``);
* ``workqueue``: Numba's ``workqueue`` layer (no OpenMP), environment as found;
* ``after``: sprig's defaults now: the passive environment of ``import sprig`` and, as
  ``sprig train`` without ``--threads``, :func:`sprig.runtime.auto_threads` (the cores minus
  the load average). Compared in a second table with ``before`` at its old default (Numba
  uses every core when no thread count is given: 2 here).

Load: ``--load`` busy-loop processes (pure Python ``while True``) started before and
stopped after each measurement. Variants are interleaved round by round; medians reported.

    python benchmarks/contention.py                 # writes docs/benchmarks.md (contention)
    python benchmarks/contention.py --quick --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

SIZES = [784, 2000, 2000, 10]
BATCH = 100
SETUPS = {
    "before": {"SPRIG_THREAD_DEFAULTS": "off"},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"},
    "workqueue": {"SPRIG_THREAD_DEFAULTS": "off", "NUMBA_THREADING_LAYER": "workqueue"},
}
AFTER = {"after": {}}
BUSY = "while True: pass"


def child(threads: int, batches: int) -> None:
    """Train and print ``{"seconds_per_batch": ..., "layer": ...}`` as JSON."""
    import numba
    import numpy as np

    import sprig

    if threads == 0:  # sprig train's default: the cores minus the load
        threads = sprig.runtime.auto_threads()[0]
    sprig.set_num_threads(threads)
    rng = np.random.default_rng(0)
    n = BATCH * batches
    X = rng.normal(size=(n, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], size=n)
    model = sprig.sparse_mlp("ReLU;ReLU;Linear", SIZES, density=0.1, seed=0)
    opts = dict(batch_size=BATCH, lr=0.01, progress=False, lines=False)
    sprig.fit(model, (X[: 3 * BATCH], y[: 3 * BATCH]), epochs=1, **opts)  # warm-up (JIT load)
    t0 = time.perf_counter()
    sprig.fit(model, (X, y), epochs=1, **opts)
    seconds = (time.perf_counter() - t0) / batches
    print(json.dumps({"seconds_per_batch": seconds, "layer": numba.threading_layer(),
                      "threads": threads}))  # fmt: skip


def measure(setup: str, threads: int, load: int, batches: int) -> tuple[float, str, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
    env.update({**SETUPS, **AFTER}[setup])
    env["PYTHONPATH"] = os.pathsep.join(
        [str(_report.ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])]
    )
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(load)]
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(threads), "--batches", str(batches)],
            env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        for p in busy:
            p.kill()
            p.wait()
    row = json.loads(out.strip().splitlines()[-1])
    return float(row["seconds_per_batch"]), str(row["layer"]), int(row["threads"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--load", type=int, default=2, help="busy-loop processes (default 2)")
    ap.add_argument("--quick", action="store_true", help="5 batches, 1 round")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.batches)
        return
    if args.quick:
        args.batches, args.rounds = 5, 1
    load0 = _report.start_load()
    cells = [(s, t, ld) for s in SETUPS for ld in (0, args.load) for t in (1, 2)]
    cells += [("after", 0, ld) for ld in (0, args.load)]
    times: dict[tuple[str, int, int], list[float]] = {c: [] for c in cells}
    layers: dict[str, str] = {}
    chosen: dict[int, list[int]] = {0: [], args.load: []}
    for r in range(args.rounds):
        order = cells[r % len(cells) :] + cells[: r % len(cells)]
        for s, t, ld in order:
            sec, layers[s], used = measure(s, t, ld, args.batches)
            times[(s, t, ld)].append(sec)
            if s == "after":
                chosen[ld].append(used)
            print(f"round {r + 1} {s:9s} threads {used} load {ld}: {1e3 * sec:8.1f} ms/batch",
                  flush=True)  # fmt: skip
    med = {c: statistics.median(v) for c, v in times.items()}
    lines = [
        "## Threads under contention (`benchmarks/contention.py`)",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}",
        f"- Machine: {_report.machine()}",
        _report.load_line(load0),
        f"- Versions: {_report.versions()}",
        f"- Network {'-'.join(map(str, SIZES))} ReLU, ERK overall density 0.1, batch {BATCH}, "
        f"{args.batches} timed batches after a warm-up, median of {args.rounds} round(s); "
        f"competing load = {args.load} pure-Python busy loops beside sprig.",
        "",
        "| set-up | Numba layer | 1 thread, no load | 2 threads, no load | 1 thread, load "
        "| 2 threads, load | 2 vs 1 thread, no load | 2 vs 1 thread, load |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in SETUPS:
        a, b = med[(s, 1, 0)], med[(s, 2, 0)]
        c, d = med[(s, 1, args.load)], med[(s, 2, args.load)]
        lines.append(
            f"| {s} | {layers[s]} | {1e3 * a:.0f} ms | {1e3 * b:.0f} ms | {1e3 * c:.0f} ms | "
            f"{1e3 * d:.0f} ms | {b / a:.2f}x | {d / c:.2f}x |"
        )
    lines.append("")
    lines.append("Times are per training batch; the ratio columns are time(2 threads) / "
                 "time(1 thread): below 1 the second thread helps, above 1 it hurts.")  # fmt: skip
    lines += [
        "",
        "Default thread count (no `--threads`), before and after: before = every core with "
        "spinning OpenMP workers, after = passive workers and the automatic count.",
        "",
        "| default | no extra load | with load | threads used (no load / load) |",
        "|---|---:|---:|---|",
        f"| before | {1e3 * med[('before', 2, 0)]:.0f} ms | "
        f"{1e3 * med[('before', 2, args.load)]:.0f} ms | 2 / 2 |",
        f"| after | {1e3 * med[('after', 0, 0)]:.0f} ms | "
        f"{1e3 * med[('after', 0, args.load)]:.0f} ms | "
        f"{','.join(map(str, chosen[0]))} / {','.join(map(str, chosen[args.load]))} |",
        "",
        "Reading: on a machine whose cores are already busy (the load average above is "
        "the other processes' load), a second worker thread costs more than it gives in "
        "every set-up, and spinning OpenMP workers (`before`) cost the most; passive "
        "waiting narrows the gap but does not close it. Hence the defaults: `import sprig` "
        "sets `OMP_WAIT_POLICY=PASSIVE` and `KMP_BLOCKTIME=0` unless they are set "
        "(`SPRIG_THREAD_DEFAULTS=off` keeps the environment as found), and `sprig train` "
        "without `--threads` uses the cores minus the 1-minute load average, at least 1 "
        "(`sprig.runtime.auto_threads`), recorded in `config.toml` so a resume uses the "
        "same count. An explicit `--threads N` is always obeyed (capped at the cores).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        _report.write_section("contention", text)
        print(f"written to {_report.DOC}")


if __name__ == "__main__":
    main()
