"""Class 5 of issue 8, architecture mismatches: weights and checkpoints record the
architecture (layer kinds, widths, activations) and every reader checks it, so a ReLU;Tanh
run is never resumed or evaluated as ReLU;ReLU."""

from __future__ import annotations

import shutil

import pytest

from hardening_util import assert_error, snapshot, sprig


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("arch")
    argv = ["train", "--layers", "ReLU;Tanh;Linear", "--layer-sizes", "64;16;12;10",
            "--epochs", "1", "--seed", "0", "--no-progress", "--threads", "1",
            "--run-dir", str(root / "run")]  # fmt: skip
    out = sprig(argv, cwd=root)
    assert out.returncode == 0, out.stderr
    relu = root / "relu.toml"
    text = (root / "run" / "config.toml").read_text()
    assert 'layers = ["relu", "tanh", "linear"]' in text
    relu.write_text(text.replace('"tanh"', '"relu"'))
    return root


def test_evaluate_with_another_activation_is_refused(run):
    before = snapshot(run)
    proc = sprig(["evaluate", str(run / "run" / "weights.npz"), "--config", str(run / "relu.toml")],
                 cwd=run)  # fmt: skip
    assert_error(proc, "was written by another architecture: '3: ActivationLayer(Tanh(), 12)'")
    assert snapshot(run) == before


def test_resume_with_another_activation_is_refused(run, tmp_path):
    other = tmp_path / "run"
    shutil.copytree(run / "run", other)
    (other / "config.toml").write_text((run / "relu.toml").read_text())
    before = snapshot(other)
    proc = sprig(["train", "--resume", str(other), "--epochs", "2"], cwd=tmp_path)
    assert_error(proc, "written by another architecture")
    assert snapshot(other) == before
