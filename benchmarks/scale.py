"""Wide sparse MLPs on MNIST: time per epoch, GF/s per product, bytes per weight, peak RSS.

Network 784-W-W-10 (ReLU, ReLU, softmax cross-entropy), Erdős–Rényi layer densities
``ε (n_in + n_out) / (n_in n_out)`` with ε = 20 for the two hidden layers, the output layer
dense; batch 100, SGD momentum 0.9, lr 0.01, SET (ζ = 0.3) at every epoch end; through the
public API (``sprig.sparse_mlp`` + the ``Trainer`` that ``sprig.fit`` builds, kept so that the
SET update can be timed). Kernels are compiled on a small model first. Each width runs in its
own process (so the peak RSS is that width's). Per width it reports:

* build: seconds to construct the model (random topologies and values);
* epoch: training time of the measured samples (``--samples``, default the full 60,000) and
  the time scaled to 60,000 samples, wall clock and process CPU seconds (CPU time is the
  better figure on a shared machine: it counts what this process got);
* SET: seconds of one SET update after the epoch (the one that opens epoch 2: proposal, CSR
  edit, gradient and momentum remap; SET does not run inside the first epoch);
* eval: seconds to evaluate ``--test`` test samples, and the test accuracy;
* GF/s per product of the W×W layer (forward, backward-data, weight gradient), median of
  ``--reps`` calls on a batch of 100 after training, wall and per CPU second;
* bytes per stored weight of the sparse layers: values, column indices, row pointers,
  gradient, momentum and the cached indexes the kernels use (CSC, panels, work blocks);
* peak RSS (``ru_maxrss``) of the width's process.

Runs against any sprig checkout (``PYTHONPATH=<checkout>/src``), so a "before" table can be
made from an older commit with the same script:

    python benchmarks/scale.py --widths 20000,100000 --samples 2000 --json after.json
    PYTHONPATH=/tmp/scale-before/src python benchmarks/scale.py ... --json before.json
    python benchmarks/scale.py --compare before.json after.json --section scale
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

EPS = 20.0
BATCH = 100
MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist" / "mnist.npz"


def er_density(n_in: int, n_out: int, eps: float = EPS) -> float:
    """Erdős–Rényi density ``ε (n_in + n_out) / (n_in n_out)`` (capped at 1)."""
    return min(1.0, eps * (n_in + n_out) / (n_in * n_out))


def _cpu() -> float:
    return time.process_time()


def _nbytes(layer: Any) -> dict[str, int]:
    W = layer.weight
    out = {
        "nnz": W.nnz,
        "values": W.data.nbytes,
        "indices": W.indices.nbytes,
        "indptr": W.indptr.nbytes,
        "grad": layer.weight_grad.nbytes,
        "momentum": W.data.nbytes,
        "indexes": 0,
    }
    cached = W.__dict__  # cached_property values computed so far (CSC, panels, blocks...)
    for v in cached.values():
        arrays = v.values() if isinstance(v, dict) else (v if isinstance(v, tuple) else (v,))
        out["indexes"] += sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
    return out


def _product_rates(layer: Any, reps: int, seed: int) -> dict[str, Any]:
    """Wall and CPU GF/s of the three products of ``layer`` on a random batch of 100."""
    W = layer.weight
    rng = np.random.default_rng(seed)
    Xt = rng.standard_normal((W.shape[1], BATCH), dtype=np.float32)
    dYt = rng.standard_normal((W.shape[0], BATCH), dtype=np.float32)
    out = {}
    flop = 2.0 * BATCH * W.nnz
    calls = {
        "forward": lambda: W.matmul_fm(Xt),
        "backward": lambda: W.rmatmul_fm(dYt),
        "gradient": lambda: W.sampled_fm(dYt, Xt),
    }
    for name, f in calls.items():
        f()
        walls, cpus = [], []
        for _ in range(reps):
            t, c = time.perf_counter(), _cpu()
            f()
            walls.append(time.perf_counter() - t)
            cpus.append(_cpu() - c)
        out[name] = {
            "wall_s": float(np.median(walls)),
            "cpu_s": float(np.median(cpus)),
            "gflops_wall": flop / float(np.median(walls)) / 1e9,
            "gflops_cpu": flop / float(np.median(cpus)) / 1e9,
        }
    return out


def _trainer(model: Any, args: argparse.Namespace, data: Any, callbacks: list[Any]) -> Any:
    """What ``sprig.fit`` builds (SGD momentum, softmax cross-entropy, SET callback), with the
    topology callback returned so that the first update can be timed after one epoch."""
    from sprig.losses import SoftmaxCrossEntropy
    from sprig.optimizers import Momentum
    from sprig.specs.types import parse_dst
    from sprig.training.dst import TopologyUpdate, make_algorithm
    from sprig.training.loop import Trainer

    steps = -(-len(data.y_train) // BATCH)
    algorithm = make_algorithm(parse_dst(args.dst), epochs=2, steps_per_epoch=steps)
    topo = TopologyUpdate(algorithm, seed=args.seed)
    trainer = Trainer(model, loss=SoftmaxCrossEntropy(), optimizer=Momentum(0.9), schedule=0.01,
                      epochs=1, batch_size=BATCH, seed=args.seed,
                      callbacks=[topo, *callbacks])  # fmt: skip
    return trainer, topo


def _warm_up(args: argparse.Namespace, data: Any) -> None:
    """Compile (or load from the JIT cache) every kernel on a small model first."""
    import sprig

    small = data.subset(300, 200)
    model = sprig.sparse_mlp("ReLU;ReLU;Linear", [784, 512, 512, 10],
                             density=[0.1, 0.1, 1.0], seed=args.seed)  # fmt: skip
    trainer, topo = _trainer(model, args, small, [])
    trainer.fit(small)
    topo.on_epoch_begin(trainer.state)
    _product_rates(model.sparse_layers()[2], 1, args.seed)


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    import sprig
    from sprig.data.datasets import Dataset

    sprig.set_num_threads(args.threads)
    width = args.one
    load0 = os.getloadavg()[0]
    with np.load(MNIST) as f:
        x_tr = f["x_train"].reshape(-1, 784).astype(np.float32) / 255.0
        y_tr = f["y_train"].astype(np.int64)
        x_te = f["x_test"].reshape(-1, 784).astype(np.float32) / 255.0
        y_te = f["y_test"].astype(np.int64)
    data = Dataset(x_tr[: args.samples], y_tr[: args.samples], x_te[: args.test],
                   y_te[: args.test], num_classes=10, name="mnist")  # fmt: skip
    t = time.perf_counter()
    _warm_up(args, data)
    print(f"warm-up (JIT compile or cache load): {time.perf_counter() - t:.1f} s", flush=True)
    sizes = [784, width, width, 10]
    dens = [er_density(784, width), er_density(width, width), 1.0]
    t, c = time.perf_counter(), _cpu()
    model = sprig.sparse_mlp("ReLU;ReLU;Linear", sizes, density=dens, seed=args.seed)
    build = (time.perf_counter() - t, _cpu() - c)
    print(f"width {width}: built in {build[0]:.1f} s", flush=True)
    from sprig.training.callbacks import Callback

    class Steps(Callback):
        def on_batch_end(self, state: Any, logs: Any) -> None:
            if state.batch_in_epoch % args.log_every == 0:
                print(f"  step {state.batch_in_epoch}  {time.perf_counter() - t0:.1f} s  "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip

    t0 = time.perf_counter()
    c0 = _cpu()
    trainer, topo = _trainer(model, args, data, [Steps()])
    hist = trainer.fit(data)
    fit_wall, fit_cpu = time.perf_counter() - t0, _cpu() - c0
    row = hist[-1]
    scale = 60_000 / args.samples
    # SET runs at the start of every epoch but the first: time the update that opens epoch 2
    # (proposal, CSR edit, gradient and momentum remap), exactly as the trainer would run it.
    t, c = time.perf_counter(), _cpu()
    topo.on_epoch_begin(trainer.state)
    set_s = (time.perf_counter() - t, _cpu() - c)
    print(f"  SET update {set_s[0]:.1f} s", flush=True)
    rates = _product_rates(model.sparse_layers()[2], args.reps, args.seed)
    mem = {k: 0 for k in ("nnz", "values", "indices", "indptr", "grad", "momentum", "indexes")}
    for i, layer in model.sparse_layers().items():
        m = _nbytes(layer)
        m["momentum"] = trainer.state.opt_states[f"{i}.weight"].delta.nbytes
        for k, v in m.items():
            mem[k] += v
    res = {
        "width": width,
        "sizes": sizes,
        "densities": dens,
        "threads": args.threads,
        "samples": args.samples,
        "test": args.test,
        "build_s": build[0],
        "build_cpu_s": build[1],
        "epoch_s": float(row["seconds"]),
        "epoch_cpu_s": fit_cpu - float(row.get("time_evaluate", 0.0)) * (fit_cpu / fit_wall),
        "epoch60k_s": float(row["seconds"]) * scale,
        "fit_wall_s": fit_wall,
        "fit_cpu_s": fit_cpu,
        "topology_s": set_s[0],
        "topology_cpu_s": set_s[1],
        "evaluate_s": float(row.get("time_evaluate", 0.0)),
        "test_accuracy": float(row.get("test_accuracy", float("nan"))),
        "train_loss": float(row["train_loss"]),
        "rates": rates,
        "memory": mem,
        "bytes_per_weight": sum(v for k, v in mem.items() if k != "nnz") / mem["nnz"],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "load_start": load0,
        "load_end": os.getloadavg()[0],
    }
    return res


def table(results: list[dict[str, Any]], label: str) -> list[str]:
    lines = [
        f"| {label} width | nnz | build s (CPU s) | epoch s (measured samples) | s per 60k "
        "epoch (scaled) | CPU s per 60k | SET s (CPU s) | eval s | test acc | GF/s fwd / bwd / "
        "grad (wall; per CPU-s) | B per weight | peak RSS GB | load start-end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        sc = 60_000 / r["samples"]
        ra = r["rates"]
        gf = " / ".join(f"{ra[k]['gflops_wall']:.1f}" for k in ("forward", "backward", "gradient"))
        gc = " / ".join(f"{ra[k]['gflops_cpu']:.1f}" for k in ("forward", "backward", "gradient"))
        lines.append(
            f"| {r['width']:,} | {r['memory']['nnz']:,} | {r['build_s']:.1f} "
            f"({r['build_cpu_s']:.1f}) | "
            f"{r['epoch_s']:.1f} ({r['samples']}) | {r['epoch60k_s']:.0f} | "
            f"{r['epoch_cpu_s'] * sc:.0f} | {r['topology_s']:.1f} "
            f"({r.get('topology_cpu_s', float('nan')):.1f}) | {r['evaluate_s']:.1f} | "
            f"{r['test_accuracy']:.4f} | {gf}; {gc} | {r['bytes_per_weight']:.1f} | "
            f"{r['peak_rss_gb']:.2f} | {r['load_start']:.1f}-{r['load_end']:.1f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--widths", default="20000,100000,250000,500000")
    ap.add_argument("--samples", type=int, default=60_000, help="training samples (1 epoch)")
    ap.add_argument("--test", type=int, default=10_000, help="test samples evaluated")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dst", default="SET(0.3)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--json", help="append the results (one JSON object per line) here")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"),
                    help="write the side-by-side table of two --json files")  # fmt: skip
    ap.add_argument("--section", default="scale")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.one:
        print("RESULT " + json.dumps(run_one(args)), flush=True)
        return 0
    if args.compare:
        before, after = ([json.loads(x) for x in Path(p).read_text().splitlines() if x.strip()]
                         for p in args.compare)  # fmt: skip
        body = [
            "## Scale: 784-W-W-10 sparse MLPs on MNIST (ε = 20 ER densities, output layer dense)",
            "",
            f"- Command: `{_report.command()}` (the JSON files come from `--json` runs)",
            f"- Date: {_report.today()}; machine: {_report.machine()}",
            f"- Versions: {_report.versions()}",
            "",
            *table(before, "before"),
            "",
            *table(after, "after"),
        ]
        text = "\n".join(body)
        print(text)
        if not args.no_write:
            _report.write_section(args.section, text)
        return 0
    results = []
    for w in [int(x) for x in args.widths.split(",") if x.strip()]:
        cmd = [sys.executable, __file__, "--one", str(w), "--samples", str(args.samples),
               "--test", str(args.test), "--threads", str(args.threads), "--dst", args.dst,
               "--reps", str(args.reps), "--seed", str(args.seed), "--log-every",
               str(args.log_every)]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        res = None
        assert proc.stdout is not None
        for line in proc.stdout:  # progress lines as they come (a 1 M-neuron epoch is long)
            if line.startswith("RESULT "):
                res = json.loads(line[len("RESULT ") :])
            else:
                sys.stdout.write(line)
                sys.stdout.flush()
        if proc.wait() or res is None:
            return proc.returncode or 1
        results.append(res)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(res) + "\n")
        print("\n".join(table([res], "")), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
