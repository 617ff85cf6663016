"""A run killed with SIGKILL mid-epoch and resumed ends bit-identical to an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import shared_data

ARGS = [
    "--layers",
    "ReLU;Dropout(0.1);ReLU;Linear",
    "--layer-sizes",
    "784;128;64;10",
    "--overall-density",
    "0.1",
    "--dst",
    "SET(0.3)",
    "--optimizers",
    "Momentum(0.9)",
    "--learning-rate",
    "0.05",
    "--batch-size",
    "32",
    "--train-size",
    "6000",
    "--test-size",
    "500",
    "--epochs",
    "4",
    "--seed",
    "7",
    "--threads",
    "1",
    "--no-progress",
]


def _sprig(*args):
    return [sys.executable, "-m", "sprig.cli.main", *args]


def _weights(run_dir):
    with np.load(run_dir / "weights.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    data = str(shared_data("mnist"))
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(
        _sprig("train", "--dataset", data, "--run-dir", str(full), *ARGS),
        check=True,
        capture_output=True,
        timeout=600,
    )

    # Block the run deterministically mid-way through epoch 3 (188 batches per epoch), after
    # the epoch-2 checkpoint, then kill it: no sleeps, no dependence on machine speed.
    marker = tmp_path / "blocked"
    env = {
        **os.environ,
        "SPRIG_TEST_BLOCK_AT_STEP": str(2 * 188 + 50),
        "SPRIG_TEST_BLOCK_MARKER": str(marker),
    }
    proc = subprocess.Popen(
        _sprig("train", "--dataset", data, "--run-dir", str(killed), *ARGS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert proc.poll() is None, "the run ended before reaching the blocking step"
            assert time.monotonic() < deadline, "the run never reached the blocking step"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert marker.read_text() == str(2 * 188 + 50)
    assert not (killed / "weights.npz").exists()
    with np.load(killed / "checkpoint.npz", allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
    assert meta["epoch"] == 2 and meta["batch_in_epoch"] == 0

    out = subprocess.run(
        _sprig("train", "--resume", str(killed), "--no-progress"),
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "resuming" in out.stdout
    a, b = _weights(full), _weights(killed)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{k} differs after resume"
    rows_a = [json.loads(r) for r in (full / "metrics.jsonl").read_text().splitlines()]
    rows_b = [json.loads(r) for r in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [r["test_accuracy"] for r in rows_a] == [r["test_accuracy"] for r in rows_b]
    assert [r["train_loss"] for r in rows_a] == [r["train_loss"] for r in rows_b]
