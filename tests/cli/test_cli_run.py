"""End-to-end: ``sprig train`` on real MNIST (a tiny subset), then ``info``, ``evaluate``,
``plot`` and ``export`` on the run — every command as a subprocess, as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from conftest import shared_data
from sprig.specs.config import TrainConfig

TRAIN = [
    "--layer-sizes", "784;64;10", "--layers", "ReLU;Linear", "--epochs", "2",
    "--train-size", "500", "--test-size", "200", "--batch-size", "32", "--seed", "3",
    "--overall-density", "0.2", "--dst", "SET(0.3)", "--no-progress",
]  # fmt: skip
ROW_KEYS = {
    "epoch",
    "step",
    "lr",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "seconds",
    "layers",
    "dst",
}
PNG = b"\x89PNG\r\n\x1a\n"


def _env(extra=None):
    """The child's environment: byte-compiled sources cached outside the tree (each command is
    a fresh interpreter; without a cache every one recompiles sprig), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "sprig-test-pycache")
    return {**env, **(extra or {})}


def sprig(*args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "sprig.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def number(text, key):
    """The number printed after ``key`` (``key: 0.5`` or ``key 0.5``)."""
    m = re.search(rf"\b{key}:? (-?[0-9.]+(?:e-?[0-9]+)?)", text)
    assert m, f"{key} not in output:\n{text}"
    return float(m.group(1))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = shared_data("mnist")
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    out = sprig("train", "--dataset", data, "--run-dir", run_dir, *TRAIN).stdout
    assert "done: 2 epochs" in out
    return run_dir


@pytest.fixture(scope="module")
def rows(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_run_directory_files(run, rows):
    for name in (
        "config.toml",
        "checkpoint.npz",
        "metrics.jsonl",
        "metrics.csv",
        "weights.npz",
        "normalization.json",
    ):
        assert (run / name).is_file(), name
    # metrics.jsonl: one row per epoch with the documented keys
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        assert set(r) >= ROW_KEYS, ROW_KEYS - set(r)
        assert any(k.startswith("time_") for k in r)
        assert set(r["layers"]) == {"0", "2"}
        for info in r["layers"].values():
            assert info["nnz"] > 0 and 0 < info["density"] <= 1
        assert 0 <= r["test_accuracy"] <= 1 and np.isfinite(r["test_loss"])
    assert rows[1]["step"] == 2 * 16  # 500 samples / batch 32
    assert rows[1]["dst"] and {"pruned", "grown", "unseen_grown"} <= set(
        rows[1]["dst"][0]["layers"][0]
    )
    # metrics.csv parses and agrees
    with open(run / "metrics.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 2
    for r, c in zip(rows, table, strict=True):
        assert int(c["epoch"]) == r["epoch"]
        assert float(c["test_accuracy"]) == pytest.approx(r["test_accuracy"], abs=1e-12)
        assert float(c["train_loss"]) == pytest.approx(r["train_loss"], rel=1e-12)
    # checkpoint: a pickle-free archive with metadata
    with np.load(run / "checkpoint.npz", allow_pickle=False) as z:
        files = set(z.files)
        meta = json.loads(str(z["__meta__"]))
    assert meta["format"] == "sprig-checkpoint-2"
    assert meta["epoch"] == 2 and meta["step"] == 32
    assert any(k.startswith("model/") for k in files)
    assert any(k.startswith("opt/") for k in files)
    # config.toml re-parses to the config stored in the checkpoint
    cfg = TrainConfig.from_toml(run / "config.toml")
    assert cfg.layer_sizes == (784, 64, 10) and cfg.epochs == 2 and cfg.seed == 3
    assert cfg == TrainConfig.from_dict(meta["config"])
    norm = json.loads((run / "normalization.json").read_text())
    assert norm["method"] == "scale"  # auto: [0, 1] for grayscale images, as the field does


def test_info_run_dir(run, rows):
    out = sprig("info", run).stdout
    last = rows[-1]
    assert "sprig checkpoint" in out
    assert "784;64;10" in out and "relu;linear" in out
    assert "epoch: 2/2; step: 32" in out
    for i, layer in last["layers"].items():
        assert f"layer {i}: nnz {layer['nnz']} density" in out
        assert number(out, f"layer {i}: nnz {layer['nnz']} density") == pytest.approx(
            layer["density"], rel=1e-5
        )
    nnz = sum(x["nnz"] for x in last["layers"].values())
    assert f"stored weights: {nnz} of {784 * 64 + 64 * 10}" in out
    assert number(out, "parameters") == nnz + 64 + 10
    nbytes = int(re.search(r"memory: (\d+) bytes", out).group(1))
    assert nbytes > 4 * (nnz + 64 + 10)  # float32 values, plus indices of the sparse layers
    assert number(out, "test_accuracy") == pytest.approx(last["test_accuracy"], abs=1e-6)


def test_info_weights_and_checkpoint_files(run, rows):
    out = sprig("info", run / "weights.npz").stdout
    assert "sprig weights file" in out and "784;64;10" in out
    assert number(out, "test_accuracy") == pytest.approx(rows[-1]["test_accuracy"], abs=1e-6)
    out = sprig("info", run / "checkpoint.npz").stdout
    assert "epoch: 2/2" in out


def test_info_bare_weights_file(run, rows, tmp_path):
    """No config beside the file: the arrays per layer, under their original indices."""
    import shutil

    bare = tmp_path / "w.npz"
    shutil.copy(run / "weights.npz", bare)
    out = sprig("info", bare).stdout
    assert "architecture: unknown" in out
    for i, layer in rows[-1]["layers"].items():
        assert re.search(rf"layer {i}  (sparse|dense)  shape \d+x\d+  nnz {layer['nnz']}  ", out)
    assert "shape 64x784" in out and "shape 10x64" in out


def test_evaluate_matches_last_epoch(run, rows):
    for source in (run, run / "weights.npz"):
        out = sprig("evaluate", source).stdout
        assert "200 samples" in out
        assert number(out, "test_accuracy") == pytest.approx(rows[-1]["test_accuracy"], abs=1e-9)
        assert number(out, "test_loss") == pytest.approx(rows[-1]["test_loss"], abs=2e-6)


def test_evaluate_other_test_set(run):
    data = shared_data("mnist")
    out = sprig("evaluate", run, "--data", data, "--test-size", "300", "--batch-size", "64").stdout
    assert "300 samples" in out
    acc = number(out, "test_accuracy")
    assert 0.3 < acc <= 1.0  # far above chance after two epochs


def test_plot_writes_valid_pngs(run, tmp_path):
    import matplotlib.image

    out_dir = tmp_path / "plots"
    out = sprig("plot", run, "--out", out_dir).stdout
    names = {"learning_curves.png", "density.png", "dst.png", "weights.png"}
    assert {p.name for p in out_dir.iterdir()} == names
    for name in names:
        path = out_dir / name
        assert str(path) in out
        data = path.read_bytes()
        assert data[:8] == PNG
        assert len(data) > 5000
        img = matplotlib.image.imread(path)
        assert img.ndim == 3 and img.shape[0] >= 200 and img.shape[1] >= 300
        assert img.std() > 0.01  # not a blank canvas


def test_export_nerva_round_trip(run, rows, tmp_path):
    from sprig.data.loaders import load_dataset
    from sprig.data.normalization import Normalization
    from sprig.models.mlp import MLP
    from sprig.models.nerva_io import load_nerva_weights
    from sprig.training.build import build_layers

    out = tmp_path / "nerva.npz"
    sprig("export", run / "checkpoint.npz", "--nerva", out)
    with np.load(out, allow_pickle=False) as z:
        assert sorted(z.files) == ["W1", "W2", "b1", "b2"]
        assert z["W1"].shape == (64, 784) and z["W2"].shape == (10, 64)

    cfg = TrainConfig.from_toml(run / "config.toml")

    def rebuilt(seed):
        return MLP(
            build_layers(
                cfg.layers, cfg.layer_sizes, cfg.densities, rng=np.random.default_rng(seed)
            )
        )

    reference, from_nerva = rebuilt(0), rebuilt(1)
    reference.load_weights(run / "weights.npz")
    load_nerva_weights(from_nerva, out)
    norm = Normalization.from_dict(json.loads((run / "normalization.json").read_text()))
    x = norm.apply(load_dataset(shared_data("mnist")).x_test[:500])
    a, b = reference.predict(x), from_nerva.predict(x)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert np.array_equal(a.argmax(1), b.argmax(1))

    # and the CLI evaluates the Nerva file (network described by --config) identically
    ev = sprig("evaluate", out, "--config", run / "config.toml").stdout
    assert number(ev, "test_accuracy") == pytest.approx(rows[-1]["test_accuracy"], abs=1e-9)
