"""A two-head model with a shared sparse trunk from a TOML config: trains with RigL, reports
validation metrics, resumes bit-identically after a SIGKILL, and works with info/evaluate."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

CONFIG = """\
layers = "ReLU;ReLU;Linear"
layer_sizes = "64;96;48;10"
overall_density = 0.2
heads = 2
head_blocks = 2
heads_loss = "mean"
validation_split = 0.1
dst = "RigL(fraction=0.3, every=10)"
optimizers = "Momentum(0.9)"
learning_rate = 0.05
epochs = 4
batch_size = 32
seed = 5
threads = 1
"""
STEPS_PER_EPOCH = 41  # 1293 training rows after the 10 % validation split, batch 32


def _sprig(*args, **kw):
    return [sys.executable, "-m", "sprig.cli.main", *args]


def _weights(run):
    with np.load(run / "weights.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.slow
def test_two_heads_from_toml_train_resume_and_inspect(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG)
    full, killed = tmp_path / "full", tmp_path / "killed"
    cmd = _sprig("train", "--config", str(cfg), "--run-dir", str(full), "--no-progress")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(r) for r in (full / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["step"] == STEPS_PER_EPOCH
    assert {"val_loss", "val_accuracy", "test_accuracy"} <= set(rows[-1])
    assert rows[-1]["test_accuracy"] > 0.8
    assert set(rows[-1]["layers"]) == {"trunk.0", "heads.0.0", "heads.0.2", "heads.1.0",
                                       "heads.1.2"}  # fmt: skip
    first = rows[0]["dst"][0]["layers"]
    assert [r["layer"] for r in first] == ["trunk.0", "heads.0.0", "heads.0.2", "heads.1.0",
                                           "heads.1.2"]  # fmt: skip

    marker = tmp_path / "blocked"
    block = 2 * STEPS_PER_EPOCH + 17
    env = {**os.environ, "SPRIG_TEST_BLOCK_AT_STEP": str(block),
           "SPRIG_TEST_BLOCK_MARKER": str(marker)}  # fmt: skip
    proc = subprocess.Popen(_sprig("train", "--config", str(cfg), "--run-dir", str(killed),
                                   "--no-progress"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert proc.poll() is None, "the run ended before reaching the blocking step"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (killed / "weights.npz").exists()
    out = subprocess.run(_sprig("train", "--resume", str(killed), "--no-progress"),
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    a, b = _weights(full), _weights(killed)
    assert a.keys() == b.keys() and "heads.1.2.weight.data" in a
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{k} differs after resume"

    info = subprocess.run(_sprig("info", str(full)), capture_output=True, text=True, timeout=300)
    assert info.returncode == 0, info.stderr
    assert "layer heads.1.0: nnz" in info.stdout
    ev = subprocess.run(_sprig("evaluate", str(full)), capture_output=True, text=True,
                        timeout=300)  # fmt: skip
    assert ev.returncode == 0, ev.stderr
    acc = float(ev.stdout.split("test_accuracy:")[1])
    assert acc == pytest.approx(rows[-1]["test_accuracy"], abs=1e-6)  # printed with 6 decimals
