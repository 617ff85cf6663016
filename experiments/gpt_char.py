"""A small GPT on tinyshakespeare (characters): dense vs truly sparse (sprig.torch) vs masked.

Runs (same initial model, same batches; ``--run`` picks one, each writes ``<out>/<run>.json``):

* ``dense``: every layer dense, ``torch.optim.Adam``;
* ``masked``: the blocks' linear layers are dense ``nn.Linear`` whose weight is multiplied by a
  binary mask (the baseline of mask-based DST libraries; ``_gpt_baselines.MaskedLinear``),
  same initial topology and values as the sparse runs, MagRan on the masks, ``Adam``;
* ``sparse_adam``: the blocks' linear layers are ``sprig.torch.SparseLinear`` (``sparsify``,
  ERK), MagRan through ``sprig.torch.TopologyUpdater``, plain ``torch.optim.Adam`` (a regrown
  entry gets zero moments and the shared step's bias correction: SMET's "cold start");
* ``sparse_smet``: the same with ``sprig.torch.SMET`` (per-entry steps + momentum warm-up).

Recorded: per-step training loss, the steps after which the topology changed, validation loss
(mean cross-entropy over fixed consecutive windows of the validation split) every
``--eval-every`` steps, median time per training step, bytes of parameters + buffers +
optimizer state. ``--report`` prints the table and the spike statistics (mean loss increase in
the ``K`` steps after each update relative to the ``K`` steps before it; control: the same at
the midpoints between updates) and draws ``docs/gpt_char_spikes.png``. ``--pool DIR ...``
pools the spike statistics of several seeds (one ``--out`` directory per seed): mean ±
standard error over all (seed, update) pairs, per-seed means, the paired difference plain
Adam − SMET (same seed, same updates, same mini-batches) with t tests, and
``docs/gpt_char_spikes_seeds.png``.

Usage (commands of docs/results.md §5)::

    for r in dense sparse_smet sparse_adam masked; do
        PYTHONPATH=src python experiments/gpt_char.py --run $r; done
    PYTHONPATH=src python experiments/gpt_char.py --report
    for s in 1 2; do for r in sparse_adam sparse_smet; do
        PYTHONPATH=src python experiments/gpt_char.py --run $r --seed $s \
            --out runs/gpt_char_seed$s; done; done
    PYTHONPATH=src python experiments/gpt_char.py --pool runs/gpt_char runs/gpt_char_seed1 \
        runs/gpt_char_seed2
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _gpt_baselines import linear_stats, masked_from_sparse, masked_magran, memory_bytes

from sprig.sparsity.algorithms import magran
from sprig.torch.data import CharDataset
from sprig.torch.models import GPT, GPTConfig

ROOT = Path(__file__).resolve().parents[1]
TEXT = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
RUNS = ("dense", "masked", "sparse_adam", "sparse_smet")
K = 15


def spike_increments(losses: np.ndarray, steps: list[int], k: int = K) -> dict[str, np.ndarray]:
    """Per step ``u`` of ``steps`` (1-based: 'after step u'; those with ``k`` steps on both
    sides): the loss increase at step ``u + 1`` (``step1``), the mean of the first 5 and of the
    ``k`` steps after (``first5``, ``mean``) and their maximum (``max``), each minus the mean
    of the ``k`` steps up to ``u``; ``steps`` holds the steps kept."""
    kept = [u for u in steps if u >= k and u + k <= len(losses)]
    before = np.array([losses[u - k : u].mean() for u in kept])
    after = np.array([losses[u : u + k] for u in kept]).reshape(len(kept), k)
    return {
        "steps": np.array(kept, dtype=np.int64),
        "step1": after[:, 0] - before,
        "first5": after[:, :5].mean(axis=1) - before,
        "mean": after.mean(axis=1) - before,
        "max": after.max(axis=1) - before,
    }


def spike_stats(losses: np.ndarray, steps: list[int], k: int = K) -> dict[str, float]:
    """Mean / max increase of the loss in the ``k`` steps after each step of ``steps``
    (1-based: 'after step u') relative to the mean of the ``k`` steps up to it (the measure of
    experiments/smet_spikes.py), averaged over the steps."""
    inc = spike_increments(losses, steps, k)
    n = len(inc["steps"])
    if not n:
        return {"n": 0}
    return {
        "n": n,
        "mean_increase": float(np.mean(inc["mean"])),
        "mean_increase_se": float(np.std(inc["mean"]) / np.sqrt(n)),
        "first5_increase": float(np.mean(inc["first5"])),
        "step1_increase": float(np.mean(inc["step1"])),
        "step1_increase_se": float(np.std(inc["step1"]) / np.sqrt(n)),
        "max_increase": float(np.mean(inc["max"])),
    }


def spikes_of(r: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Spike statistics of a run's recorded losses at its updates, and the control (the
    midpoints between consecutive updates, where the topology did not change)."""
    k = r["args"].get("window", K)
    L, updates = np.array(r["losses"]), r["updates"]
    mids = [(u + v) // 2 for u, v in itertools.pairwise(updates) if v - u >= 2 * k + 2]
    return spike_stats(L, updates, k), spike_stats(L, mids, k)


@torch.no_grad()
def val_loss(model: GPT, ds: CharDataset, context: int, batches: int, batch: int) -> float:
    model.eval()
    total, n = 0.0, 0
    for x, y in ds.windows("val", context, batch_size=batch, max_batches=batches):
        total += model.loss(x, y).item() * x.shape[0]
        n += x.shape[0]
    model.train()
    return total / n


def build(a: argparse.Namespace, kind: str, vocab: int) -> tuple[GPT, Any, Any]:
    """Model, optimizer and a ``topology(step) -> changed?`` callable for run ``kind``."""
    import sprig.torch as st

    cfg = GPTConfig(vocab, context=a.context, n_layer=a.layers, width=a.width, n_head=a.heads)
    model = GPT(cfg, generator=torch.Generator().manual_seed(a.seed))
    if kind == "dense":
        return model, torch.optim.Adam(model.parameters(), lr=a.lr), None
    # the same sparse topology and values for masked, sparse_adam and sparse_smet
    torch.manual_seed(a.seed)
    st.sparsify(model, a.density, exclude=("head",), rng=a.seed)
    # MagRan every `every` optimizer steps (the spec string's MagRan counts epochs, which a
    # stream of random windows does not have): drop the round(fraction·nnz) smallest |w| of
    # each layer, regrow as many uniformly at random, new weights 0
    dst = magran(a.fraction, every=a.every, unit="step")
    if kind == "masked":
        masked_from_sparse(model)
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
        gen = torch.Generator().manual_seed(a.seed + 1)

        def masked_update(step: int) -> bool:
            if step % a.every:
                return False
            masked_magran(model, opt, a.fraction, gen)
            return True

        return model, opt, masked_update
    opt = (
        torch.optim.Adam(model.parameters(), lr=a.lr)
        if kind == "sparse_adam"
        else st.SMET(model.parameters(), lr=a.lr)
    )
    updater = st.TopologyUpdater(model, opt, dst=dst, seed=a.seed + 1)

    def sparse_update(step: int) -> bool:
        return bool(updater.step())

    return model, opt, sparse_update


def run(a: argparse.Namespace, kind: str) -> dict[str, Any]:
    torch.set_num_threads(a.threads)
    ds = CharDataset.from_file(a.text)
    model, opt, topology = build(a, kind, ds.vocab_size)
    gen = torch.Generator().manual_seed(a.seed + 2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / a.warmup))
    losses: list[float] = []
    times: list[float] = []
    updates: list[int] = []
    evals: list[tuple[int, float]] = [(0, val_loss(model, ds, a.context, a.val_batches, a.batch))]
    print(f"{kind}: {linear_stats(model)}  val0 {evals[0][1]:.4f}", flush=True)
    t_start = time.perf_counter()
    for step in range(1, a.steps + 1):
        x, y = ds.batch("train", a.batch, a.context, generator=gen)
        t0 = time.perf_counter()
        loss = model.loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        times.append(time.perf_counter() - t0)
        if topology is not None and topology(step):
            updates.append(step)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"{kind}: loss {loss.item()} at step {step}")
        losses.append(loss.item())
        if step % a.eval_every == 0 or step == a.steps:
            evals.append((step, val_loss(model, ds, a.context, a.val_batches, a.batch)))
            print(
                f"{kind} step {step}: train {np.mean(losses[-a.eval_every :]):.4f} "
                f"val {evals[-1][1]:.4f}  {statistics.median(times):.3f} s/step",
                flush=True,
            )
    result = {
        "run": kind,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
        "losses": losses,
        "updates": updates,
        "evals": evals,
        "final_val_loss": evals[-1][1],
        "median_step_s": statistics.median(times),
        "mean_step_s": float(np.mean(times)),
        "wall_s": time.perf_counter() - t_start,
        "memory": memory_bytes(model, opt),
        "linear": linear_stats(model),
    }
    result["spikes"], result["control"] = spikes_of(result)
    return result


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "dense": "k",
        "masked": "tab:orange",
        "sparse_adam": "tab:red",
        "sparse_smet": "tab:green",
    }
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for name, r in results.items():
        w = r["args"].get("window", K)
        L = np.array(r["losses"])
        win = [L[u - w : u + w] for u in r["updates"] if u >= w and u + w <= len(L)]
        if win:
            axes[0].plot(
                np.arange(-w + 1, w + 1),
                np.mean(win, axis=0),
                color=colors[name],
                label=f"{name} (n={len(win)})",
            )
            # minus the mean of the K steps before: the spike itself
            rel = [x - x[:w].mean() for x in win]
            axes[1].plot(
                np.arange(-w + 1, w + 1), np.mean(rel, axis=0), color=colors[name], label=name
            )
        ev = np.array(r["evals"])
        axes[2].plot(ev[:, 0], ev[:, 1], color=colors[name], marker=".", label=name)
    for ax in axes[:2]:
        ax.axvline(0.5, color="k", lw=0.8, ls="--")
        ax.set_xlabel("steps relative to the topology update (applied after step 0)")
    axes[0].set_ylabel("training mini-batch loss, mean over updates")
    axes[1].set_ylabel("loss minus its mean over the K steps before")
    axes[1].axhline(0, color="grey", lw=0.5)
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("validation loss")
    for ax in axes:
        ax.legend(fontsize=8)
    a0 = next((r for r in results.values() if r["updates"]), next(iter(results.values())))["args"]
    fig.suptitle(
        f"GPT (char, tinyshakespeare), width {a0['width']}, density {a0['density']}: loss "
        f"around MagRan({a0['fraction']}) updates every {a0['every']} steps; sparse runs at "
        f"lr {a0['lr']:g}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def report(a: argparse.Namespace) -> None:
    results = {}
    for name in RUNS:
        p = a.out / f"{name}.json"
        if p.exists():
            results[name] = json.loads(p.read_text())
    dense_t = results.get("dense", {}).get("median_step_s")
    # the last evaluation step every run has (the runs may differ in length)
    common = min((r["evals"][-1][0] for r in results.values()), default=0)
    print(
        f"| run | blocks' linear density | val loss at step {common} | final val loss (step) | "
        "median s/step | params + buffers | optimizer state | total | step +1 | "
        "mean + (K steps) | first 5 + | max + | control: step +1 / mean + / max + |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    mb = 1 << 20
    for name, r in results.items():
        m = r["memory"]
        s, c = spikes_of(r)
        at = dict((int(t), v) for t, v in r["evals"])[common]

        def f(d: dict[str, Any], key: str) -> str:
            return f"{d[key]:+.4f}" if key in d else "—"

        se = f" ± {s['mean_increase_se']:.4f}" if "mean_increase_se" in s else ""
        se1 = f" ± {s['step1_increase_se']:.4f}" if "step1_increase_se" in s else ""
        ratio = f" ({r['median_step_s'] / dense_t:.2f}× dense)" if dense_t else ""
        print(
            f"| {name} | {r['linear']['density']:.3f} | {at:.4f} | {r['final_val_loss']:.4f} "
            f"({r['evals'][-1][0]}) | {r['median_step_s']:.3f}{ratio} | "
            f"{(m['parameters'] + m['buffers']) / mb:.2f} MiB | {m['optimizer'] / mb:.2f} MiB | "
            f"{m['total'] / mb:.2f} MiB | {f(s, 'step1_increase')}{se1} | "
            f"{f(s, 'mean_increase')}{se} (n={s.get('n', 0)}) | {f(s, 'first5_increase')} | "
            f"{f(s, 'max_increase')} | {f(c, 'step1_increase')} / {f(c, 'mean_increase')} / "
            f"{f(c, 'max_increase')} (n={c.get('n', 0)}) |"
        )
    if results:
        plot(results, a.plot)
        print(f"plot: {a.plot}")


STATS = ("step1", "mean", "max")
STAT_NAMES = {"step1": "step +1", "mean": "mean + (K steps)", "max": "max +"}


def _increments(
    r: dict[str, Any], first: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-update increments of a run at its updates and at the control midpoints, those
    at steps ``>= first`` only."""
    k = r["args"].get("window", K)
    L, updates = np.array(r["losses"]), r["updates"]
    mids = [(u + v) // 2 for u, v in itertools.pairwise(updates) if v - u >= 2 * k + 2]
    return (
        spike_increments(L, [u for u in updates if u >= first], k),
        spike_increments(L, [u for u in mids if u >= first], k),
    )


def _mse(x: np.ndarray, sign: str = "+") -> str:
    """``mean ± standard error`` (sample standard deviation, ddof 1)."""
    if len(x) < 2:
        return f"{np.mean(x):{sign}.4f}" if len(x) else "—"
    return f"{np.mean(x):{sign}.4f} ± {np.std(x, ddof=1) / np.sqrt(len(x)):.4f}"


def _t_p(x: np.ndarray) -> str:
    """t statistic and two-sided p value of a one-sample t test of mean 0."""
    from scipy import stats

    if len(x) < 2 or np.std(x) == 0:
        return "—"
    t = stats.ttest_1samp(x, 0.0)
    return f"t = {t.statistic:.2f}, p = {t.pvalue:.2g}"


def _welch(x: np.ndarray, y: np.ndarray) -> str:
    """``mean(x) − mean(y) ± its standard error`` with Welch's t test (unpaired)."""
    from scipy import stats

    if len(x) < 2 or len(y) < 2:
        return "—"
    se = np.sqrt(np.var(x, ddof=1) / len(x) + np.var(y, ddof=1) / len(y))
    t = stats.ttest_ind(x, y, equal_var=False)
    return f"{np.mean(x) - np.mean(y):+.4f} ± {se:.4f} (t = {t.statistic:.2f}, p = {t.pvalue:.2g})"


def load_seeds(dirs: list[Path]) -> dict[str, dict[int, dict[str, Any]]]:
    """``{run: {seed: result}}`` of the ``<dir>/<run>.json`` files found in ``dirs``; a seed
    that appears twice for one run is an error (two directories of the same seed)."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for d in dirs:
        if not d.is_dir():
            raise SystemExit(f"gpt_char.py: error: --pool directory {d} does not exist")
        for name in RUNS:
            p = d / f"{name}.json"
            if not p.exists():
                continue
            r = json.loads(p.read_text())
            seed = int(r["args"]["seed"])
            if seed in out.setdefault(name, {}):
                raise SystemExit(
                    f"gpt_char.py: error: seed {seed} of run {name} appears twice ({p})"
                )
            out[name][seed] = r
    return out


def pooled_report(a: argparse.Namespace) -> None:
    """Spike statistics pooled over seeds (one directory per seed): per run, mean ± standard
    error over all (seed, update) pairs at the updates and at the control midpoints, the
    per-seed means, and the paired difference of the plain-Adam runs minus SMET (same seed,
    same update steps, same mini-batches), with a t test over the pairs and over the seeds."""
    runs = load_seeds(a.pool)
    if not runs:
        raise SystemExit("gpt_char.py: error: no <run>.json in the --pool directories")
    first = a.pool_from
    inc = {n: {s: _increments(r, first) for s, r in sorted(by.items())} for n, by in runs.items()}
    since = f", updates and controls after step {first} or later" if first else ""
    print(f"Pooled over (seed, update) pairs{since}; ± = standard error (ddof 1).\n")
    print(
        "| run | seeds | pairs | "
        + " | ".join(STAT_NAMES[k] for k in STATS)
        + " | control: "
        + " / ".join(STAT_NAMES[k] for k in STATS)
        + " | step +1 minus control step +1 (Welch) | final val loss, mean over seeds |"
    )
    print("|---|---|---|" + "---|" * len(STATS) + "---|---|---|")
    for name, by in inc.items():
        pool = {k: np.concatenate([u[k] for u, _ in by.values()]) for k in STATS}
        ctrl = {k: np.concatenate([c[k] for _, c in by.values()]) for k in STATS}
        vals = [r["final_val_loss"] for r in runs[name].values()]
        print(
            f"| {name} | {','.join(map(str, by))} | {len(pool['step1'])} | "
            + " | ".join(_mse(pool[k]) for k in STATS)
            + " | "
            + " / ".join(_mse(ctrl[k]) for k in STATS)
            + f" | {_welch(pool['step1'], ctrl['step1'])} | {_mse(np.array(vals), sign='')} |"
        )
    print("\nPer seed: mean over its updates (control in brackets); final validation loss.\n")
    print("| run | seed | updates | step +1 (control) | mean + (control) | max + (control) | val |")
    print("|---|---|---|---|---|---|---|")
    for name, by in inc.items():
        for seed, (u, c) in by.items():
            print(
                f"| {name} | {seed} | {len(u['step1'])} | "
                + " | ".join(f"{np.mean(u[k]):+.4f} ({np.mean(c[k]):+.4f})" for k in STATS)
                + f" | {runs[name][seed]['final_val_loss']:.4f} |"
            )
    if "sparse_smet" in inc:
        print(
            "\nPaired: plain Adam minus SMET, same seed and update (same mini-batches); "
            "control = the same difference at the midpoints.\n"
        )
        print(
            "| difference | stat | over (seed, update) pairs | t test over pairs | "
            "per-seed means | over seeds | control over pairs |"
        )
        print("|---|---|---|---|---|---|---|")
        smet = inc["sparse_smet"]
        for name in ("sparse_adam", "masked"):
            if name not in inc:
                continue
            seeds = [s for s in inc[name] if s in smet]
            for k in STATS:
                diffs, cdiffs, per_seed = [], [], []
                for s in seeds:
                    (ua, ca), (us, cs) = inc[name][s], smet[s]
                    if not (
                        np.array_equal(ua["steps"], us["steps"])
                        and np.array_equal(ca["steps"], cs["steps"])
                    ):
                        raise SystemExit(
                            f"gpt_char.py: error: seed {s}: {name} and sparse_smet updated "
                            "at different steps; cannot pair them"
                        )
                    diffs.append(ua[k] - us[k])
                    cdiffs.append(ca[k] - cs[k])
                    per_seed.append(float(np.mean(ua[k] - us[k])))
                d, cd = np.concatenate(diffs), np.concatenate(cdiffs)
                print(
                    f"| {name} − sparse_smet | {STAT_NAMES[k]} | {_mse(d)} (n={len(d)}, "
                    f"{int(np.sum(d > 0))} > 0) | {_t_p(d)} | "
                    f"{', '.join(f'{x:+.4f}' for x in per_seed)} | "
                    f"{_mse(np.array(per_seed))} ({_t_p(np.array(per_seed))}) | {_mse(cd)} "
                    f"({_t_p(cd)}) |"
                )
    plot_seeds(runs, a.plot, first)
    print(f"\nplot: {a.plot}")


def plot_seeds(runs: dict[str, dict[int, dict[str, Any]]], path: Path, first: int = 0) -> None:
    """Left: loss around the updates minus its mean over the K steps before, averaged over all
    (seed, update) pairs (band: ± one standard error), per-seed means thin; right: the paired
    difference plain Adam − SMET around the updates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "dense": "k",
        "masked": "tab:orange",
        "sparse_adam": "tab:red",
        "sparse_smet": "tab:green",
    }

    def rel_windows(r: dict[str, Any]) -> np.ndarray:
        w = r["args"].get("window", K)
        L = np.array(r["losses"])
        ups = [u for u in r["updates"] if u >= max(w, first) and u + w <= len(L)]
        win = [L[u - w : u + w] for u in ups]
        return np.array([x - x[:w].mean() for x in win]).reshape(len(win), 2 * w)

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    rels: dict[str, dict[int, np.ndarray]] = {}
    for name, by in runs.items():
        rels[name] = {s: rel_windows(r) for s, r in sorted(by.items())}
        allw = np.concatenate(list(rels[name].values()))
        if not len(allw):
            continue
        w = allw.shape[1] // 2
        x = np.arange(-w + 1, w + 1)
        m, se = allw.mean(axis=0), allw.std(axis=0, ddof=1) / np.sqrt(len(allw))
        axes[0].plot(x, m, color=colors[name], label=f"{name} ({len(by)} seeds, n={len(allw)})")
        axes[0].fill_between(x, m - se, m + se, color=colors[name], alpha=0.2)
        for rel in rels[name].values():
            axes[0].plot(x, rel.mean(axis=0), color=colors[name], lw=0.5, alpha=0.5)
    if "sparse_smet" in rels:
        for name in ("sparse_adam", "masked"):
            if name not in rels:
                continue
            seeds = [s for s in rels[name] if s in rels["sparse_smet"]]
            if not seeds:
                continue
            d = np.concatenate([rels[name][s] - rels["sparse_smet"][s] for s in seeds])
            w = d.shape[1] // 2
            x = np.arange(-w + 1, w + 1)
            m, se = d.mean(axis=0), d.std(axis=0, ddof=1) / np.sqrt(len(d))
            axes[1].plot(x, m, color=colors[name], label=f"{name} − sparse_smet (n={len(d)})")
            axes[1].fill_between(x, m - se, m + se, color=colors[name], alpha=0.2)
    for ax in axes:
        ax.axvline(0.5, color="k", lw=0.8, ls="--")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("steps relative to the topology update (applied after step 0)")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("loss minus its mean over the K steps before")
    axes[1].set_ylabel("paired difference of that (same seed, update, batches)")
    a0 = next(iter(next(iter(runs.values())).values()))["args"]
    fig.suptitle(
        f"GPT (char), width {a0['width']}, density {a0['density']}, MagRan({a0['fraction']}) "
        f"every {a0['every']} steps, lr {a0['lr']:g}: mean over seeds and updates"
        + (f" after step {first} or later" if first else "")
        + " ± s.e.",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", choices=RUNS)
    p.add_argument("--report", action="store_true")
    p.add_argument(
        "--pool",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="report the spike statistics pooled over the runs in these directories (one per "
        "seed); the plot goes to --plot",
    )
    p.add_argument(
        "--pool-from",
        type=int,
        default=0,
        metavar="STEP",
        help="--pool: only the updates (and control midpoints) after step STEP or later",
    )
    p.add_argument("--text", type=Path, default=TEXT)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "gpt_char")
    p.add_argument(
        "--plot",
        type=Path,
        help="the plot of --report (default docs/gpt_char_spikes.png) or --pool (default "
        "docs/gpt_char_spikes_seeds.png)",
    )
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--density", type=float, default=0.1)
    p.add_argument("--fraction", type=float, default=0.3)
    p.add_argument("--every", type=int, default=40)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--window", type=int, default=15, help="K of the spike statistics")
    p.add_argument("--val-batches", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    return p


def main() -> None:
    a = parser().parse_args()
    if a.pool:
        a.plot = a.plot or ROOT / "docs" / "gpt_char_spikes_seeds.png"
        pooled_report(a)
        return
    if a.report:
        a.plot = a.plot or ROOT / "docs" / "gpt_char_spikes.png"
        report(a)
        return
    if a.run is None:
        raise SystemExit("gpt_char.py: error: give --run {" + ",".join(RUNS) + "} or --report")
    a.out.mkdir(parents=True, exist_ok=True)
    result = run(a, a.run)
    tmp = a.out / f"{a.run}.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(a.out / f"{a.run}.json")
    print(
        json.dumps(
            {
                k: result[k]
                for k in ("final_val_loss", "median_step_s", "memory", "spikes", "control")
            }
        )
    )


if __name__ == "__main__":
    main()
