"""Class 1 of issue 8, concurrent writers: one sprig process per run directory, enforced by
an ``flock`` that the kernel drops on any exit (SIGKILL included). Real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

from hardening_util import TRAIN, assert_error, copy_run, env, popen, snapshot, sprig

#: a process that takes the run directory's lock, says so, and waits for its stdin to close
HOLDER = textwrap.dedent(
    """
    import sys
    from sprig.rundir import RunDirLock
    RunDirLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    sys.stdin.read()
    """
)


def _holder(run_dir):
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env(),
    )  # fmt: skip
    assert p.stdout is not None and p.stdout.readline().strip() == "locked"
    return p


def test_two_trainings_started_together(trained_run, tmp_path):
    """Exactly one of two simultaneous ``sprig train --run-dir D`` wins; D holds that run's
    config, weights and metrics only."""
    _, good, _ = trained_run
    d = tmp_path / "D"
    procs = [
        popen(
            [a.format(good=good, out=d) for a in TRAIN] + ["--seed", str(seed), "--epochs", "2"],
            cwd=tmp_path,
        )
        for seed in (11, 22)
    ]
    results = [(p, *p.communicate(timeout=180)) for p in procs]
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes == [0, 2], [(p.returncode, err) for p, _, err in results]
    seeds = zip(results, (11, 22), strict=True)
    (winner_seed,) = [s for (p, _, _), s in seeds if p.returncode == 0]
    (loser,) = [(p, out, err) for p, out, err in results if p.returncode != 0]
    proc = subprocess.CompletedProcess([], loser[0].returncode, loser[1], loser[2])
    msg = loser[2].lower()
    assert "in use by another sprig process" in msg or "already holds a run" in msg, msg
    assert_error(proc, str(d))
    assert f"seed = {winner_seed}\n" in (d / "config.toml").read_text()
    rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]


def test_locked_directory_refused_and_untouched(trained_run, tmp_path):
    _, _, run = trained_run
    d = copy_run(run, tmp_path / "run")
    before = snapshot(d)
    holder = _holder(d)
    try:
        proc = sprig(["train", "--resume", str(d), "--no-progress", "--epochs", "3"], cwd=tmp_path)
    finally:
        holder.communicate(timeout=30)  # closes its stdin: it exits
    assert_error(proc, f"in use by another sprig process (it holds {d}/.sprig-lock)")
    assert snapshot(d) == before


def test_lock_released_by_sigkill(trained_run, tmp_path):
    """A holder killed with SIGKILL leaves no stale lock: the next command proceeds."""
    _, _, run = trained_run
    d = copy_run(run, tmp_path / "run")
    holder = _holder(d)
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=30)
    proc = sprig(["train", "--resume", str(d), "--no-progress"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "already finished" in proc.stdout


def test_run_dir_is_a_file(trained_run, tmp_path):
    _, good, _ = trained_run
    f = tmp_path / "afile"
    f.write_text("keep me")
    proc = sprig([a.format(good=good, out=f) for a in TRAIN], cwd=tmp_path)
    assert_error(proc, "exists and is not a directory")
    assert f.read_text() == "keep me"


def test_directory_with_run_files_but_no_checkpoint(trained_run, tmp_path):
    """A fresh run never writes into a directory holding another run's files (here a
    config.toml, e.g. the user's own --config file)."""
    _, good, run = trained_run
    d = tmp_path / "D"
    d.mkdir()
    (d / "config.toml").write_text((run / "config.toml").read_text())
    before = snapshot(d)
    proc = sprig(
        [a.format(good=good, out=d) for a in TRAIN] + ["--config", str(d / "config.toml")],
        cwd=tmp_path,
    )
    assert_error(proc, "already holds a run (config.toml)")
    assert snapshot(d) == before
