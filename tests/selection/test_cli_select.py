"""``sprig select``: ranking files, the selected-pixels plot, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from sprig.cli.main import main
from sprig.io import load_npz


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A tiny single-channel image dataset (8×8), labels from a 2×2 patch."""
    rng = np.random.default_rng(0)
    x = rng.random((90, 8, 8)).astype(np.float32)
    y = (x[:, 2:4, 5:7].mean(axis=(1, 2)) > 0.5).astype(np.uint8)
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    return path


def test_select_writes_csv_npz_and_plot(images, tmp_path, capsys):
    base = ["select", "--dataset", str(images), "--k", "5", "--epochs", "2"]
    assert main([*base, "--out", str(tmp_path / "r.csv"), "--plot", str(tmp_path / "p.png")]) == 0
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0] == "rank,feature,score" and len(lines) == 65
    feats = [int(line.split(",")[1]) for line in lines[1:]]
    assert sorted(feats) == list(range(64))
    scores = [float(line.split(",")[2]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True)
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"

    argv = [*base, "--method", "attribution", "--dst", "rigl", "--out", str(tmp_path / "r.npz")]
    assert main(argv) == 0
    arrays, meta = load_npz(tmp_path / "r.npz")
    assert arrays["selected"].tolist() == arrays["ranking"][:5].tolist()
    assert arrays["scores"].shape == (64,)
    assert meta["method"] == "attribution" and meta["k"] == 5

    assert main(base) == 0  # no --out: the selection is printed
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "rank,feature,score" and len(out) == 7


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "0"], "--k must be an integer >= 1, got '0'"),
        (["--k", "65"], "--k 65 is larger than the 64 features"),
        (["--k", "x"], "--k must be an integer >= 1, got 'x'"),
        (["--method", "lasso"], "--method must be one of quickselection, attribution"),
        (["--ranking", "itr"], "--ranking 'itr' is not one of quickselection's"),
        (["--out", "r.txt"], "--out must end in .csv or .npz"),
        (["--epochs", "-1"], "--epochs must be an integer >= 1"),
        (["--dataset", "/no/such.npz"], "does not exist"),
    ],
)
def test_bad_input_one_line_exit_2(images, extra, message, capsys):
    argv = ["select", "--dataset", str(images), "--k", "3", "--epochs", "1", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sprig: error: ") and message in err and err.count("\n") == 1


def test_plot_needs_images(tmp_path, capsys):
    rng = np.random.default_rng(1)
    path = tmp_path / "flat.npz"
    x, y = rng.random((20, 6)), np.arange(20) % 2
    np.savez(path, x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])
    argv = ["select", "--dataset", str(path), "--k", "2", "--plot", str(tmp_path / "p.png")]
    assert main(argv) == 2
    assert "needs a single-channel image dataset" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()
