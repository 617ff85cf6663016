"""``sprig seft RUN_DIR``: prune a trained dense run and repair it; every method writes a run
directory whose ``seft.json`` shows a real repair (loss well below the pruned model's), SEFT and
the frozen mask at exactly the pruned nnz, dense and merged LoRA dense; bad input is one line
with exit status 2 and leaves nothing behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sprig.cli.main import main


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("seft_cli")
    run = root / "dense"
    rc = main(
        [
            "train", "--layers", "ReLU;Linear", "--layer-sizes", "64;64;10",
            "--overall-density", "1", "--dst", "static", "--epochs", "3", "--batch-size", "32",
            "--optimizers", "Momentum(0.9)", "--learning-rate", "0.05", "--seed", "0",
            "--threads", "1", "--train-size", "600", "--test-size", "300",
            "--run-dir", str(run), "--no-progress",
        ]
    )  # fmt: skip
    assert rc == 0
    return root, run


def _seft(run, out, *extra: str) -> dict:
    argv = ["seft", str(run), "--density", "0.1", "--epochs", "2", "--out", str(out)]
    assert main([*argv, "--no-progress", "--threads", "1", *extra]) == 0
    return json.loads((out / "seft.json").read_text())


@pytest.mark.parametrize(
    ("method", "pruning", "extra"),
    [
        ("seft", "wanda", ("--dst", "SEFT(fraction=0.2, every=5)")),
        ("static", "magnitude", ()),
        ("dense", "magnitude", ()),
        ("lora", "wanda", ("--rank", "4", "--alpha", "8")),
    ],
)
def test_seft_command_repairs_each_method(dense_run, method, pruning, extra) -> None:
    root, run = dense_run
    out = root / f"rep_{method}"
    s = _seft(run, out, "--method", method, "--pruning", pruning, *extra)
    assert (out / "weights.npz").is_file() and (out / "metrics.jsonl").is_file()
    dense, pruned, repaired = (
        s[k]["loss"] for k in ("before_pruning", "after_pruning", "after_repair")
    )
    assert pruned > dense + 0.2  # pruning to 10 % hurts
    assert repaired < pruned - 0.5 * (pruned - dense), (dense, pruned, repaired)
    total = 64 * 64 + 64 * 10
    assert sum(s["nnz"].values()) <= 0.1 * total + 1 and s["steps"] == 2 * 19
    if method in ("seft", "static"):
        assert s["density_after"] == pytest.approx(sum(s["nnz"].values()) / total)
        assert s["trainable_parameters"] == sum(s["nnz"].values()) + 64 + 10
    if method == "seft":
        assert s["topology_updates"] > 0
    if method == "dense":
        assert s["trainable_parameters"] == total + 64 + 10
        assert s["density_after"] > 0.5  # the sparsity is lost
    if method == "lora":
        assert s["trainable_parameters"] == 4 * (64 + 64) + 4 * (64 + 10)
        assert s["density_after"] > 0.5 and set(s["merged_sparsity"]) == {"0", "2"}
    assert s["optimizer_state_bytes"] == 4 * s["trainable_parameters"]  # momentum, float32
    with np.load(out / "weights.npz", allow_pickle=False) as z:
        assert z.files


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--density", "0"], "--density must be"),
        (["--density", "1.5"], "--density must be in (0, 1]"),
        (["--density", "0.1", "--method", "magic"], "--method must be one of"),
        (["--density", "0.1", "--pruning", "random"], "--pruning must be one of"),
        (["--density", "0.1", "--epochs", "0"], "--epochs must be an integer >= 1"),
        (["--density", "0.1", "--dst", "RigL"], "--dst must be a SEFT spec"),
        (["--density", "0.1", "--dst", "SEFT(fraction=2)"], "fraction"),
        (["--density", "0.1", "--method", "static", "--dst", "SEFT(every=3)"], "--dst is for"),
        (["--density", "0.1", "--weights", "missing.npz"], "not found"),
    ],
)
def test_seft_command_bad_input_is_one_line(dense_run, capsys, args, message) -> None:
    root, run = dense_run
    out = root / "bad"
    assert main(["seft", str(run), *args, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sprig: error:") and message in err and "\n" not in err
    assert not out.exists()


def test_seft_command_refuses_sparse_or_missing_runs(dense_run, tmp_path, capsys) -> None:
    _, run = dense_run
    assert main(["seft", str(tmp_path / "nope"), "--density", "0.5"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["seft", str(tmp_path), "--density", "0.5"]) == 2
    assert "not a sprig run" in capsys.readouterr().err
    sparse = tmp_path / "sparse"
    sparse.mkdir()
    text = (run / "config.toml").read_text()
    (sparse / "config.toml").write_text(
        text.replace("densities = [1.0, 1.0]", "densities = [0.5, 1.0]")
    )
    (sparse / "weights.npz").write_bytes((run / "weights.npz").read_bytes())
    assert main(["seft", str(sparse), "--density", "0.5", "--out", str(tmp_path / "o")]) == 2
    assert "trained dense" in capsys.readouterr().err
    assert main(["seft", str(run), "--density", "0.5", "--out", str(run)]) == 2
    assert "source run" in capsys.readouterr().err
