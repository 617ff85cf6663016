"""Helpers of the hardening test modules (tests/cli/test_hardening_*.py, issue 8).

Each bad-input case runs ``sprig`` in a fresh interpreter and is checked the same way: exit
status, exactly one stderr line ``sprig: error: …`` containing the expected text (the bad
value and what is allowed), no traceback, and the sha256 of every pre-existing file under
the case's root unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

#: a valid ``sprig train`` on the tiny dataset of :func:`write_dataset`
TRAIN = [
    "train", "--dataset", "{good}", "--layer-sizes", "20;16;3", "--layers", "ReLU;Linear",
    "--epochs", "1", "--batch-size", "16", "--seed", "0", "--no-progress", "--threads", "1",
    "--run-dir", "{out}",
]  # fmt: skip


def write_dataset(path: Any, *, n: int = 120, y_train: Any = None, y_test: Any = None) -> Path:
    """A tiny 3-class dataset (20 features) as ``.npz``; labels replaceable."""
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.normal(size=(n, 20)).astype(np.float32),
        y_train=np.arange(n) % 3 if y_train is None else y_train,
        x_test=rng.normal(size=(30, 20)).astype(np.float32),
        y_test=np.arange(30) % 3 if y_test is None else y_test,
    )
    return Path(path)


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment (shared byte-code cache, one Numba thread) plus ``extra``."""
    out = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "sprig-test-pycache")
    out.setdefault("NUMBA_NUM_THREADS", "1")
    src = str(Path(__file__).resolve().parents[1] / "src")
    out["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [out.get("PYTHONPATH")])])
    return {**out, **(extra or {})}


def sprig(argv: list[str], *, cwd: Any, extra_env: dict[str, str] | None = None,
          timeout: float = 180) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``sprig ARGV`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "sprig.cli.main", *argv],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env(extra_env),
    )  # fmt: skip


def popen(argv: list[str], *, cwd: Any, extra_env: dict[str, str] | None = None) -> Any:
    return subprocess.Popen(
        [sys.executable, "-m", "sprig.cli.main", *argv],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(extra_env),
    )  # fmt: skip


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path → digest)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest)
    return dest


class Case(NamedTuple):
    id: str
    argv: list[str]
    expect: str  # substring of the one error line (case-insensitive)
    code: int = 2
    env: dict[str, str] | None = None


def run_cases(root: Path, paths: dict[str, str], cases: list[Case]) -> dict[str, Any]:
    """Run every case (3 at a time) in its own work folder; returns id → (proc, changed),
    where ``changed`` lists pre-existing files under ``root`` whose content changed."""
    before = snapshot(root)

    def one(c: Case) -> Any:
        work = root.parent / f"{root.name}-{c.id}"
        work.mkdir()
        fill = {**paths, "out": str(work / "out")}
        argv = [a.format(**fill) for a in c.argv]
        return sprig(argv, cwd=work, extra_env=c.env)

    with ThreadPoolExecutor(max_workers=3) as pool:
        procs = dict(zip([c.id for c in cases], pool.map(one, cases), strict=True))
    after = snapshot(root)
    changed = sorted(k for k in before if after.get(k) != before[k])
    return {"procs": procs, "changed": changed}


def assert_error(proc: Any, expect: str, code: int = 2) -> None:
    """Exit ``code``, one stderr line ``sprig: error: …`` containing ``expect``, no
    traceback."""
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode == code, (proc.returncode, out)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("sprig: error: "), proc.stderr
    assert expect.lower() in lines[0].lower(), lines[0]
