"""Shared helpers of the experiment scripts: run ``sprig train`` commands, summarize run dirs."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPRIG = str(Path(sys.executable).with_name("sprig"))
DATA = ROOT.parent / "shared" / "data"


def command(run_dir: Path, options: dict[str, Any]) -> list[str]:
    """``sprig train`` argv for ``options`` (flag name → value; ``True`` = bare flag)."""
    argv = [SPRIG, "train"]
    for k, v in options.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            argv.append(flag)
        elif v is not None:
            argv += [flag, str(v)]
    return [*argv, "--run-dir", str(run_dir), "--no-progress"]


def run_all(jobs: list[tuple[str, list[str]]], out: Path, parallel: int) -> None:
    """Run every ``(name, argv)`` (skipping finished ones), ``parallel`` at a time."""
    out.mkdir(parents=True, exist_ok=True)

    def one(job: tuple[str, list[str]]) -> None:
        name, argv = job
        run_dir = out / name
        if (run_dir / "weights.npz").exists():
            print(f"[skip] {name}: already finished", flush=True)
            return
        print(f"[start] {name}: {shlex.join(argv)}", flush=True)
        t0 = time.time()
        with open(out / f"{name}.log", "w") as log:
            rc = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        print(f"[done] {name}: rc={rc} in {time.time() - t0:.0f}s", flush=True)

    with ThreadPoolExecutor(parallel) as ex:
        list(ex.map(one, jobs))


def summarize(run_dir: Path) -> dict[str, Any] | None:
    """Final/best test accuracy, epochs run, median seconds per epoch, final ITOP rate."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        return None
    accs = [r["test_accuracy"] for r in rows]
    secs = sorted(r["seconds"] for r in rows[1:] or rows)  # epoch 1 includes JIT compilation
    nnz = sum(v["nnz"] for v in rows[-1]["layers"].values())
    explored = None
    for r in reversed(rows):
        if r.get("dst"):
            lay = r["dst"][-1]["layers"]
            explored = [round(x["explored"], 4) for x in lay]
            break
    return {
        "epochs": rows[-1]["epoch"],
        "final": accs[-1],
        "best": max(accs),
        "best_epoch": 1 + accs.index(max(accs)),
        "last50": sum(accs[-50:]) / len(accs[-50:]),
        "sec_per_epoch": secs[len(secs) // 2],
        "nnz": nnz,
        "explored": explored,
        "finished": (run_dir / "weights.npz").exists(),
    }


def print_summary(jobs: list[tuple[str, list[str]]], out: Path) -> None:
    """The results table of the runs in ``out`` and the command of each."""
    print(
        "| run | final acc | best acc (epoch) | mean acc, last 50 epochs | epochs | s/epoch | nnz "
        "| explored |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, _ in jobs:
        s = summarize(out / name)
        if s is None:
            print(f"| {name} | not run | | | | | | |")
            continue
        cut = "" if s["finished"] else " (cut short)"
        print(
            f"| {name} | {100 * s['final']:.2f}% | {100 * s['best']:.2f}% ({s['best_epoch']})"
            f" | {100 * s['last50']:.2f}% | {s['epochs']}{cut} | {s['sec_per_epoch']:.2f}"
            f" | {s['nnz']} | {s['explored']} |"
        )
    print()
    for name, argv in jobs:
        print(f"{name}: {shlex.join(argv)}")
