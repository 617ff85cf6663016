"""Cold start: a fresh ``python`` process that imports sprig and runs its first training step.

Each measurement is a new ``python -c`` process (so nothing is in memory) that imports sprig,
builds the 3072-1024-1024-10 sparse MLP (density 0.01, ERK) and runs ``Trainer.fit`` on one
batch of 100 samples (one optimizer step), float32. It reports the time of ``import`` and of
model construction + the first step; the parent also takes the wall time of the whole process
(interpreter start-up included).

* warm JIT cache: the default on-disk Numba cache (``cache=True``), filled by one untimed
  run first; the median of ``--runs`` processes is reported;
* cold JIT cache: one process with ``NUMBA_CACHE_DIR`` pointing at an empty temporary
  directory, i.e. the first run after installation (everything compiles).

Results go to ``docs/benchmarks.md`` (section ``cold_start``) unless ``--no-write``.

    python benchmarks/cold_start.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import sprig
from sprig.activations import ReLU
from sprig.data.datasets import Dataset
from sprig.layers import ActivationLayer, SparseLinear
from sprig.losses import SoftmaxCrossEntropy
from sprig.models import MLP
from sprig.optimizers import Momentum
from sprig.sparsity.density import erk, layer_nnz, shapes_from_sizes
from sprig.training.loop import Trainer
t1 = time.perf_counter()
sprig.set_num_threads(int(sys.argv[1]))
sizes = [3072, 1024, 1024, 10]
shapes = shapes_from_sizes(sizes)
nnz = layer_nnz(shapes, erk(shapes, 0.01))
rng = np.random.default_rng(0)
model = MLP([SparseLinear(3072, 1024, nnz=nnz[0], rng=rng), ActivationLayer(ReLU(), 1024),
             SparseLinear(1024, 1024, nnz=nnz[1], rng=rng), ActivationLayer(ReLU(), 1024),
             SparseLinear(1024, 10, nnz=nnz[2], rng=rng)])
x = rng.standard_normal((100, 3072)).astype(np.float32)
y = rng.integers(0, 10, 100)
data = Dataset(x, y, np.zeros((0, 3072), np.float32), np.zeros(0, np.int64), num_classes=10)
Trainer(model, loss=SoftmaxCrossEntropy(), optimizer=Momentum(0.9), schedule=0.01, epochs=1,
        batch_size=100).fit(data)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_step": t2 - t1}))
"""


def run_child(threads: int, env: dict[str, str]) -> dict[str, float]:
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=_report.ROOT,
    )
    wall = time.perf_counter() - t
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process"] = wall
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-cold", action="store_true", help="skip the empty-cache run")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    load0 = _report.start_load()
    env = dict(os.environ)
    run_child(args.threads, env)  # fill the cache (untimed)
    warm = [run_child(args.threads, env) for _ in range(args.runs)]
    for r in warm:
        print("warm cache:", {k: round(v, 3) for k, v in r.items()}, flush=True)
    cold = None
    if not args.no_cold:
        with tempfile.TemporaryDirectory(prefix="sprig_numba_cache_") as d:
            cold = run_child(args.threads, {**env, "NUMBA_CACHE_DIR": d})
        print("cold cache:", {k: round(v, 3) for k, v in cold.items()}, flush=True)

    def med(key: str) -> float:
        return float(np.median([r[key] for r in warm]))

    lines = [
        "## Cold start: fresh process, `import sprig` + first training step",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}",
        f"- Machine: {_report.machine()}",
        _report.load_line(load0),
        f"- Versions: {_report.versions()}",
        f"- Network 3072-1024-1024-10 at density 0.01 (ERK), float32, one `Trainer.fit` step of "
        f"batch 100, {args.threads} threads.",
        "",
        "| JIT cache | runs | import sprig (+ submodules) | build model + first step | "
        "whole process (incl. interpreter) |",
        "|---|---|---|---|---|",
        f"| warm (on-disk, `cache=True`) | {len(warm)} (median) | {med('import'):.2f} s | "
        f"{med('first_step'):.2f} s | {med('process'):.2f} s |",
    ]
    if cold is not None:
        lines.append(
            f"| cold (empty `NUMBA_CACHE_DIR`) | 1 | {cold['import']:.2f} s | "
            f"{cold['first_step']:.2f} s | {cold['process']:.2f} s |"
        )
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if not args.no_write:
        _report.write_section("cold_start", text)
        print(f"written to {_report.DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
