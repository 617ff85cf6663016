"""Peak memory and cost of training phases and topology updates of wide sparse MLPs.

Two measurements (each in its own process, so ``ru_maxrss`` is this one's):

* ``--what phases``: the 784-W-W-10 MLP of ``benchmarks/scale.py`` (ε = 20 ER densities,
  output layer dense, SGD momentum, batch 100, SET) on ``--samples`` MNIST images: peak and
  current RSS after loading the data, building the model, each training step (evaluation of
  ``--test`` images included at the end) and one SET update.
* ``--what rigl``: one W×W layer with 40 stored weights per row and a random gradient sample
  of batch 100; one RigL update with sampled gradient growth (``sampled = c``, α = 0.3, i.e.
  the largest update of a run): wall and CPU seconds of the proposal and of the edit, peak
  RSS, and one forward product of the same layer for scale.

    python benchmarks/scale_memory.py --what phases --width 500000
    python benchmarks/scale_memory.py --what rigl --width 500000 --sampled 10,5
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale

import sprig


def _rss(tag: str) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    with open("/proc/self/statm") as f:
        now = int(f.read().split()[1]) * resource.getpagesize() / 2**30
    print(f"{tag}: peak RSS {peak:.2f} GB, now {now:.2f} GB", flush=True)


def phases(a: argparse.Namespace) -> None:
    from sprig.data.datasets import Dataset
    from sprig.training.callbacks import Callback

    with np.load(scale.MNIST) as f:
        x_tr = f["x_train"][: a.samples].reshape(-1, 784).astype(np.float32) / 255.0
        y_tr = f["y_train"][: a.samples].astype(np.int64)
        x_te = f["x_test"][: a.test].reshape(-1, 784).astype(np.float32) / 255.0
        y_te = f["y_test"][: a.test].astype(np.int64)
    data = Dataset(x_tr, y_tr, x_te, y_te, num_classes=10, name="mnist")
    _rss("data")
    w = a.width
    dens = [scale.er_density(784, w), scale.er_density(w, w), 1.0]
    model = sprig.sparse_mlp("ReLU;ReLU;Linear", [784, w, w, 10], density=dens, seed=0)
    _rss("model built")

    class Steps(Callback):
        def on_batch_end(self, state: Any, logs: Any) -> None:
            _rss(f"training step {state.batch_in_epoch}")

    args = argparse.Namespace(dst="SET", seed=0)
    trainer, topo = scale._trainer(model, args, data, [Steps()])
    trainer.fit(data)
    _rss("epoch done (evaluation included)")
    t, c = time.perf_counter(), time.process_time()
    topo.on_epoch_begin(trainer.state)
    _rss(f"SET update ({time.perf_counter() - t:.1f} s, {time.process_time() - c:.1f} CPU-s)")


def rigl(a: argparse.Namespace) -> None:
    from sprig.matrices.csr import CSRMatrix
    from sprig.sparsity import algorithms as A
    from sprig.sparsity.info import GradientSample, LayerInfo

    w, batch = a.width, 100
    rng = np.random.default_rng(0)
    W = CSRMatrix.random(
        (w, w), nnz=w * 40, rng=rng, dtype=np.float32,
        values=lambda k, r: r.standard_normal(k, dtype=np.float32),
    )  # fmt: skip
    Xt = rng.standard_normal((w, batch), dtype=np.float32)
    dYt = rng.standard_normal((w, batch), dtype=np.float32)
    info = LayerInfo(sample=GradientSample(Xt, dYt))
    _rss("layer and sample")
    for c in (float(x) for x in a.sampled.split(",")):
        alg = A.rigl(100 * w, sampled=c)  # t = 0: α = 0.3, the largest update of a run
        t, p = time.perf_counter(), time.process_time()
        edit = alg.propose_all({"l.weight": (W, info)}, 0, np.random.default_rng(1))["l.weight"]
        tp, cp = time.perf_counter() - t, time.process_time() - p
        t, p = time.perf_counter(), time.process_time()
        A.apply_edit(W, edit)
        te, ce = time.perf_counter() - t, time.process_time() - p
        t, p = time.perf_counter(), time.process_time()
        W.matmul_fm(Xt)
        tf, cf = time.perf_counter() - t, time.process_time() - p
        _rss(
            f"RigL sampled={c:g}, nnz {W.nnz:,}, grown {len(edit.add_rows):,}: proposal "
            f"{tp:.1f} s ({cp:.1f} CPU-s), edit {te:.1f} s ({ce:.1f} CPU-s); one forward "
            f"product {tf:.2f} s ({cf:.2f} CPU-s)"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--what", choices=("phases", "rigl"), required=True)
    p.add_argument("--width", type=int, default=500_000)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--test", type=int, default=200)
    p.add_argument("--sampled", default="10")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    sprig.set_num_threads(a.threads)
    (phases if a.what == "phases" else rigl)(a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
