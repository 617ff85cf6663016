"""Runs without --seed are reproducible from their saved config; pruning at init via the CLI."""

import json
import subprocess
import sys

import pytest


def _sprig(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "sprig.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


def test_run_without_seed_evaluates_on_the_same_subset(tmp_path):
    run = tmp_path / "run"
    out = _sprig(
        "train",
        "--train-size",
        "800",
        "--test-size",
        "200",
        "--epochs",
        "2",
        "--run-dir",
        str(run),
        "--no-progress",
    )
    assert out.returncode == 0, out.stderr
    assert "seed = " in (run / "config.toml").read_text()  # the drawn seed is saved
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    ev = _sprig("evaluate", str(run))
    assert ev.returncode == 0, ev.stderr
    acc = float(ev.stdout.strip().splitlines()[-1].split(":")[1])
    assert acc == pytest.approx(last["test_accuracy"], abs=1e-6)


@pytest.mark.parametrize("method", ["snip", "synflow"])
def test_init_pruning_gives_the_requested_nnz_and_trains(tmp_path, method):
    run = tmp_path / method
    out = _sprig(
        "train",
        "--init-pruning",
        method,
        "--densities",
        "0.1;0.1;1",
        "--dst",
        "static",
        "--epochs",
        "3",
        "--seed",
        "1",
        "--run-dir",
        str(run),
        "--no-progress",
    )
    assert out.returncode == 0, out.stderr
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    # digits: 64-256-256-10; exact nnz at densities 0.1, 0.1 and a dense output layer
    assert last["layers"]["0"]["nnz"] == round(0.1 * 64 * 256)
    assert last["layers"]["2"]["nnz"] == round(0.1 * 256 * 256)
    assert last["layers"]["4"]["nnz"] == 2560
    assert last["test_accuracy"] > 0.8


def test_smet_from_the_command_line(tmp_path):
    run = tmp_path / "smet"
    out = _sprig(
        "train",
        "--optimizers",
        "SMET(warmup_steps=50)",
        "--learning-rate",
        "0.003",
        "--dst",
        "MagRan(0.3)",
        "--density-lr-power",
        "0.5",
        "--epochs",
        "3",
        "--seed",
        "2",
        "--run-dir",
        str(run),
        "--no-progress",
    )
    assert out.returncode == 0, out.stderr
    assert 'optimizers = ["smet(' in (run / "config.toml").read_text()
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["test_accuracy"] > 0.85
    # the per-entry step counters are checkpointed with the stored entries
    import numpy as np

    with np.load(run / "checkpoint.npz", allow_pickle=False) as z:
        assert z["opt/0.weight/step"].shape == z["model/0.weight.data"].shape
