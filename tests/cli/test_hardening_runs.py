"""Classes 3 and 9 of issue 8: leftovers of killed writers are cleaned on the next start or
resume; SIGINT saves a checkpoint and prints the --resume command (exit 130) and the resumed
run ends bit-identical; --threads is capped and recorded as capped; TOML files rely on the
CLI's defaults and flags override them; resuming a finished run says so once; every file of
a run has one permission mode; a checkpoint exists from the start."""

from __future__ import annotations

import stat

import numpy as np
import pytest

from hardening_util import TRAIN, assert_error, copy_run, snapshot, sprig, write_dataset
from sprig.io import load_npz
from sprig.rundir import RUN_FILES


def _argv(good, out, *extra):
    return [a.format(good=good, out=out) for a in TRAIN] + list(extra)


# ---------------------------------------------------------------------------- class 3


def test_leftover_temporaries_removed_on_resume(trained_run, tmp_path):
    _, _, run = trained_run
    d = copy_run(run, tmp_path / "run")
    junk = [d / ".checkpoint.npz.k2j3h4.tmp", d / ".metrics.jsonl.abcd.tmp", d / ".w.npz.x.tmp"]
    for p in junk:
        p.write_bytes(np.random.default_rng(0).bytes(3000))
    keep = [d / ".keepme", d / "notes.tmp"]
    for p in keep:
        p.write_text("mine")
    proc = sprig(["train", "--resume", str(d), "--no-progress", "--epochs", "2"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"removed 3 leftover temporary file(s) from {d}" in proc.stdout
    assert not any(p.exists() for p in junk)
    assert all(p.read_text() == "mine" for p in keep)


def test_leftover_temporaries_removed_on_fresh_start(trained_run, tmp_path):
    _, good, _ = trained_run
    d = tmp_path / "D"
    d.mkdir()
    (d / ".config.toml.zz.tmp").write_text("half a config")
    proc = sprig(_argv(good, d), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not list(d.glob(".*.tmp"))


# ---------------------------------------------------------------------------- class 9


def test_sigint_checkpoints_and_resume_is_bit_identical(trained_run, tmp_path):
    _, good, _ = trained_run
    full, cut = tmp_path / "full", tmp_path / "cut"
    proc = sprig(_argv(good, full, "--epochs", "2"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = sprig(_argv(good, cut, "--epochs", "2"), cwd=tmp_path,
                 extra_env={"SPRIG_TEST_SIGINT_AT_STEP": "11"})  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("sprig: interrupted at epoch 2, batch 3 (step 11)")
    assert f"resume with: sprig train --resume {cut}" in proc.stderr
    _, meta = load_npz(cut / "checkpoint.npz")
    assert (meta["epoch"], meta["batch_in_epoch"], meta["step"]) == (1, 3, 11)
    assert not (cut / "weights.npz").exists()
    proc = sprig(["train", "--resume", str(cut), "--no-progress"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stdout and "epoch 2, batch 4 (step 11)" in proc.stdout
    a, _ = load_npz(full / "weights.npz")
    b, _ = load_npz(cut / "weights.npz")
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert (full / "metrics.jsonl").read_text().count("\n") == 2
    assert (cut / "metrics.jsonl").read_text().count("\n") == 2
    # one permission mode for every file of a run
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in cut.iterdir() if p.is_file()}
    assert len(set(modes.values())) == 1, modes


def test_resume_finished_run_says_so_once(trained_run, tmp_path):
    _, _, run = trained_run
    d = copy_run(run, tmp_path / "run")
    before = snapshot(d)
    proc = sprig(["train", "--resume", str(d), "--no-progress"], cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.strip().splitlines() == [
        f"run {d} already finished its 1 epochs; nothing to do (to train further: sprig "
        f"train --resume {d} --epochs N with N > 1)"
    ]
    assert snapshot(d) == before


def test_threads_capped_and_recorded(trained_run, tmp_path):
    _, good, _ = trained_run
    d = tmp_path / "r"
    proc = sprig(_argv(good, d, "--threads", "1000"), cwd=tmp_path,
                 extra_env={"NUMBA_NUM_THREADS": "2"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "note: threads 1000 capped to 2" in proc.stdout
    assert "\nthreads = 2\n" in (d / "config.toml").read_text()


def test_toml_relies_on_cli_defaults_and_flags_override(trained_run, tmp_path):
    """A file setting only a few options gets the CLI's defaults for the rest (layer sizes
    from the data, the demo optimizer, SET) and a flag beats the file."""
    _, good, _ = trained_run
    cfg = tmp_path / "mine.toml"
    cfg.write_text(f'dataset = "{good}"\nepochs = 5\nbatch-size = 16\nseed = 3\n')
    d = tmp_path / "r"
    proc = sprig(["train", "--config", str(cfg), "--epochs", "1", "--run-dir", str(d),
                  "--no-progress", "--threads", "1"], cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = (d / "config.toml").read_text()
    for line in ("epochs = 1", "batch_size = 16", "seed = 3", "learning_rate = 0.05",
                 "layer_sizes = [20, 256, 256, 3]", 'dst = "set(fraction=0.3)"'):  # fmt: skip
        assert f"\n{line}\n" in text, (line, text)
    assert '"momentum(momentum=0.9, weight_decay=0.0)"' in text


def test_checkpoint_exists_from_the_start(tmp_path):
    """The Checkpoint callback writes a step-0 checkpoint when training begins, so a run
    killed before its first epoch ends can be resumed."""
    import sprig as sp
    from sprig.training.callbacks import Callback
    from sprig.training.checkpoint import Checkpoint

    class Stop(Callback):
        def on_batch_end(self, state, logs):
            raise RuntimeError("killed")

    path = tmp_path / "checkpoint.npz"
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), np.arange(40) % 2
    model = sp.sparse_mlp("ReLU;Linear", [6, 8, 2], density=0.5)
    with pytest.raises(RuntimeError, match="killed"):
        sp.fit(model, (X, y), epochs=1, callbacks=[Checkpoint(path), Stop()], progress=False,
               lines=False)  # fmt: skip
    _, meta = load_npz(path)
    assert (meta["epoch"], meta["step"]) == (0, 0)


def test_run_files_are_known():
    assert {"config.toml", "checkpoint.npz", "weights.npz", "metrics.jsonl"} <= set(RUN_FILES)


def test_resume_refuses_locked_style_errors_without_traceback(tmp_path):
    proc = sprig(["train", "--resume", str(tmp_path / "nothing"), "--no-progress"], cwd=tmp_path)
    assert_error(proc, "no checkpoint.npz")
    assert not (tmp_path / "nothing").exists()


def test_good_dataset_helper(tmp_path):
    assert load_npz  # keep the import used by the helpers
    assert write_dataset(tmp_path / "g.npz").exists()


def test_auto_threads_follow_the_load(monkeypatch):
    import os

    from sprig import runtime

    monkeypatch.setattr(runtime, "thread_ceiling", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert runtime.auto_threads() == (4, "4 core(s), load average 0.2")
    monkeypatch.setattr(os, "getloadavg", lambda: (2.6, 0.0, 0.0))
    assert runtime.auto_threads()[0] == 1  # 4 cores - 2.6 busy, rounded
    monkeypatch.setattr(os, "getloadavg", lambda: (20.0, 0.0, 0.0))
    assert runtime.auto_threads()[0] == 1


def test_thread_defaults_respect_the_user(monkeypatch):
    from sprig import runtime

    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.delenv("KMP_BLOCKTIME", raising=False)
    assert runtime.apply_thread_defaults() == {"KMP_BLOCKTIME": "0"}
    assert os_environ("OMP_WAIT_POLICY") == "ACTIVE"
    monkeypatch.delenv("KMP_BLOCKTIME")
    monkeypatch.setenv("SPRIG_THREAD_DEFAULTS", "off")
    assert runtime.apply_thread_defaults() == {}


def os_environ(key):
    import os

    return os.environ.get(key)
