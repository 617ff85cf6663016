"""Files written by sprig 0.1.0 (format ``sprig-checkpoint-1``, integer layer names) still load.

``tests/fixtures/v1`` is a run directory produced by the release before model trees (commit
35bfa14): a 64-24-16-10 ReLU/Dropout/Tanh network at 30 % density with SET and momentum,
trained 2 epochs on the embedded digits. ``expected_weights_after_epoch3.npz`` is what that
release wrote after resuming it for a third epoch; resuming with today's code must give the
same topology (every index array bit for bit: the restored RNG states drive SET's regrowth) and
the same values to float32 rounding (the fused backward pass, ``kernels.backward``, sums the
weight gradients' dot products in another order than 0.1.0: measured differences <= 1.2e-7),
and two resumes with today's code must agree bit for bit (same seed, one thread).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v1"


def _sprig(*args):
    return subprocess.run(
        [sys.executable, "-m", "sprig.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "__meta__"}


def test_v1_checkpoint_resumes_bit_identically(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("checkpoint.npz", "config.toml", "metrics.jsonl", "normalization.json"):
        shutil.copy(FIXTURE / name, run / name)
    text = (run / "config.toml").read_text()
    assert "epochs = 2\n" in text
    (run / "config.toml").write_text(text.replace("epochs = 2\n", "epochs = 3\n"))
    again = tmp_path / "again"
    shutil.copytree(run, again)
    for d in (run, again):
        out = _sprig("train", "--resume", str(d), "--no-progress")
        assert out.returncode == 0, out.stderr
    got = _arrays(run / "weights.npz")
    want = _arrays(FIXTURE / "expected_weights_after_epoch3.npz")
    assert got.keys() == want.keys()
    for k in want:
        if want[k].dtype.kind == "f":
            np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-6, err_msg=k)
        else:
            assert np.array_equal(got[k], want[k]), k
    second = _arrays(again / "weights.npz")
    for k in got:
        assert np.array_equal(got[k], second[k]), k


def test_v1_files_work_with_inspect_commands(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    info = _sprig("info", str(run))
    assert info.returncode == 0, info.stderr
    assert "stored weights" in info.stdout
    ev = _sprig("evaluate", str(run))
    assert ev.returncode == 0, ev.stderr
    assert "accuracy" in ev.stdout
