"""SMET demonstration: loss spikes after topology updates with plain Adam vs SMET's Adam.

A sparse MLP is trained with Adam and a frequent DST update, three times from the same seed
(same initial weights, same batches, same DST random stream), differing only in the optimizer:

* ``adam``: plain Adam, one shared step counter: a regrown entry gets ``m = v = 0`` but the
  bias correction of the current step, so its first updates are several times ``lr``;
* ``per_entry``: ``Adam(per_entry_steps=True)``: regrown entries restart their own counter;
* ``smet``: ``Adam(per_entry_steps=True, warmup_steps=100)`` (SMET: per-entry counters and
  momentum warm-up of young entries).

A small callback logs the per-step training loss and the steps at which a topology update
happened. The spike measure of one update at step ``u`` (it is applied after step ``u``'s
optimizer step, so the loss of step ``u + 1`` is the first one computed with the new topology):
``mean(loss[u+1 .. u+K]) - mean(loss[u-K+1 .. u])`` and ``max(loss[u+1 .. u+K]) -
mean(loss[u-K+1 .. u])`` with ``K = 20``, averaged over updates. Per-step losses are mini-batch
losses, so the "before" window also measures the noise floor: the same statistic taken at steps
where no update happened (midway between updates) is reported as the baseline.

Usage::

    .venv/bin/python experiments/smet_spikes.py            # all settings, writes JSON + PNG
    .venv/bin/python experiments/smet_spikes.py --quick    # a small smoke run
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from sprig.data.loaders import load_dataset
from sprig.data.normalization import Normalization
from sprig.losses import REGISTRY as LOSSES
from sprig.optimizers.adam import Adam
from sprig.runtime import set_num_threads
from sprig.sparsity import algorithms as A
from sprig.sparsity import density as D
from sprig.specs.types import parse_layers
from sprig.training.build import build_mlp
from sprig.training.callbacks import Callback
from sprig.training.dst import TopologyUpdate, make_algorithm
from sprig.training.loop import Trainer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
K = 20

OPTIMIZERS = {
    "adam": dict(per_entry_steps=False, warmup_steps=0),
    "per_entry": dict(per_entry_steps=True, warmup_steps=0),
    "smet": dict(per_entry_steps=True, warmup_steps=100),
}


class LossLog(Callback):
    """Per-step loss and the steps after which the topology changed."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.updates: list[int] = []
        self._seen = 0

    def on_batch_end(self, state: Any, logs: dict[str, Any]) -> None:
        self.losses.append(float(logs["loss"]))
        n = state.extra.get("dst", {}).get("updates", 0)
        if n != self._seen:  # the TopologyUpdate callback (listed before) just edited
            self.updates.append(state.step)
            self._seen = n


def spike_stats(losses: np.ndarray, steps: list[int], k: int = K) -> dict[str, float]:
    """Mean / max loss increase in the ``k`` steps after each step of ``steps`` (1-based,
    'after step u') relative to the mean of the ``k`` steps up to it."""
    mean_inc, max_inc, first_inc = [], [], []
    for u in steps:
        if u < k or u + k > len(losses):
            continue
        before = losses[u - k : u].mean()  # steps u-k+1 .. u  (0-based u-k .. u-1)
        after = losses[u : u + k]  # steps u+1 .. u+k
        mean_inc.append(after.mean() - before)
        max_inc.append(after.max() - before)
        first_inc.append(after[:5].mean() - before)
    if not mean_inc:
        return {"n": 0}
    return {
        "n": len(mean_inc),
        "mean_increase": float(np.mean(mean_inc)),
        "max_increase": float(np.mean(max_inc)),
        "first5_increase": float(np.mean(first_inc)),
        "mean_increase_se": float(np.std(mean_inc) / np.sqrt(len(mean_inc))),
    }


def run(setting: dict[str, Any], opt_name: str, data: Any) -> dict[str, Any]:
    sizes = setting["sizes"]
    shapes = D.shapes_from_sizes(sizes)
    dens = D.erk(shapes, setting["density"])
    model = build_mlp(
        parse_layers(setting["layers"]),
        sizes,
        dens,
        rng=np.random.default_rng([setting["seed"], 1]),
    )
    steps = -(-len(data.y_train) // setting["batch"])
    if setting["dst"] == "magran_step":
        alg = A.magran(setting["fraction"], every=setting["every"], unit="step")
    else:
        alg = make_algorithm(setting["dst"], epochs=setting["epochs"], steps_per_epoch=steps)
    log = LossLog()
    opt = Adam(**OPTIMIZERS[opt_name])
    trainer = Trainer(
        model,
        loss=LOSSES["softmax_cross_entropy"](reduction="mean"),
        optimizer=opt,
        schedule=setting["lr"],
        epochs=setting["epochs"],
        batch_size=setting["batch"],
        seed=setting["seed"],
        callbacks=[TopologyUpdate(alg, seed=setting["seed"]), log],
    )
    t0 = time.perf_counter()
    hist = trainer.fit(data)
    losses = np.array(log.losses)
    ups = log.updates
    # control: midpoints between consecutive updates (no topology change there)
    mids = [(a + b) // 2 for a, b in itertools.pairwise(ups) if b - a >= 2 * K + 2]
    return {
        "optimizer": opt_name,
        "losses": losses.tolist(),
        "updates": ups,
        "spikes": spike_stats(losses, ups),
        "control": spike_stats(losses, mids),
        "final_test_accuracy": hist[-1]["test_accuracy"],
        "final_train_loss": hist[-1]["train_loss"],
        "seconds": time.perf_counter() - t0,
    }


SETTINGS = {
    # SET-family update (magnitude prune, random regrowth, new weights 0), half of the
    # weights replaced every 100 steps
    "magran_every100_f0.5_lr3e-3": dict(dst="magran_step", fraction=0.5, every=100, lr=3e-3),
    # RigL every 100 steps (cosine drop fraction from 0.3; gradient regrowth, new weights 0)
    "rigl_every100_lr3e-3": dict(dst="RigL(fraction=0.3, every=100, end=1.0)", lr=3e-3),
    # larger lr
    "magran_every100_f0.5_lr1e-2": dict(dst="magran_step", fraction=0.5, every=100, lr=1e-2),
}
BASE = dict(
    sizes=[784, 512, 512, 10],
    layers="ReLU;ReLU;Linear",
    density=0.05,
    batch=64,
    epochs=10,
    seed=3,
    train=20000,
    test=5000,
)


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(2, len(names), figsize=(5.2 * len(names), 7.5), squeeze=False)
    colors = {"adam": "tab:red", "per_entry": "tab:blue", "smet": "tab:green"}
    for j, name in enumerate(names):
        runs = results[name]["runs"]
        ax = axes[0][j]
        ups = runs[0]["updates"]
        w = 2 * K
        for r in runs:
            L = np.array(r["losses"])
            win = [L[u - w : u + w] for u in r["updates"] if u >= w and u + w <= len(L)]
            if not win:
                continue
            avg = np.mean(win, axis=0)
            ax.plot(
                np.arange(-w + 1, w + 1),
                avg,
                color=colors[r["optimizer"]],
                label=f"{r['optimizer']} (n={len(win)})",
            )
        ax.axvline(0.5, color="k", lw=0.8, ls="--")
        ax.set_title(f"{name}\nloss around updates (mean over updates)", fontsize=9)
        ax.set_xlabel("steps relative to the update (update after step 0)")
        ax.set_ylabel("training mini-batch loss")
        ax.legend(fontsize=8)
        ax = axes[1][j]
        lo = max(0, ups[len(ups) // 2] - 250) if ups else 0
        hi = lo + 500
        for r in runs:
            L = np.array(r["losses"])
            xs = np.arange(lo + 1, min(hi, len(L)) + 1)
            ax.plot(xs, L[lo:hi], color=colors[r["optimizer"]], lw=0.7, label=r["optimizer"])
        for u in ups:
            if lo <= u <= hi:
                ax.axvline(u + 0.5, color="k", lw=0.5, ls=":")
        ax.set_title("raw per-step loss (dotted: topology updates)", fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--settings", nargs="*", default=list(SETTINGS))
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "smet_spikes")
    p.add_argument("--plot", type=Path, default=ROOT / "docs" / "smet_spikes.png")
    a = p.parse_args()
    set_num_threads(1)
    base = dict(BASE)
    if a.quick:
        base.update(epochs=2, train=4000, test=1000)
    data = load_dataset(DATA / "fashion_mnist" / "fashion_mnist.npz")
    data = data.subset(base["train"], base["test"], seed=0)
    norm = Normalization.fit("minmax", data.x_train, pixel_max=data.pixel_max)
    data = norm.apply_dataset(data)
    a.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for name in a.settings:
        setting = {**base, **SETTINGS[name]}
        runs = []
        for opt in OPTIMIZERS:
            r = run(setting, opt, data)
            runs.append(r)
            s, c = r["spikes"], r["control"]
            print(
                f"{name:32s} {opt:10s} updates={s.get('n')} mean+={s.get('mean_increase', 0):.4f}"
                f" ±{s.get('mean_increase_se', 0):.4f} max+={s.get('max_increase', 0):.4f}"
                f" first5+={s.get('first5_increase', 0):.4f} | control mean+="
                f"{c.get('mean_increase', 0):.4f} max+={c.get('max_increase', 0):.4f} | "
                f"test acc {r['final_test_accuracy']:.4f} ({r['seconds']:.0f}s)",
                flush=True,
            )
        results[name] = {"setting": setting, "runs": runs}
        (a.out / f"{name}.json").write_text(json.dumps(results[name]))
    plot(results, a.plot)
    print(f"plot: {a.plot}")


if __name__ == "__main__":
    main()
