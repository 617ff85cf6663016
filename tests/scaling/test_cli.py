"""``sprig scaling``: predict (json), optimal, fit, a tiny sweep feeding fit, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sprig.cli.main import main
from sprig.scaling.law import PUBLISHED
from sprig.scaling.runs import write_rows


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["scaling", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_json(capsys) -> None:
    code, out, _ = run(
        capsys,
        "predict",
        "--params",
        "7.68e9",
        "--density",
        "0.25",
        "--tokens",
        "10.4e9",
        "--unique",
        "2.6e9",
        "--format",
        "json",
    )
    assert code == 0
    obj = json.loads(out)
    assert obj["loss"] == pytest.approx(float(PUBLISHED.loss(7.68e9, 0.25, 10.4e9, 2.6e9)))
    assert obj["active_params"] == pytest.approx(7.68e9 * 0.25)
    code, out, _ = run(capsys, "predict", "--params", "1e9", "--tokens", "2e10")
    assert code == 0 and out.startswith("predicted loss 2.7563")


def test_optimal_table_json_and_plot(capsys, tmp_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "optimal",
        "--compute",
        "1e21",
        "--unique",
        "1e9",
        "--points",
        "12",
        "--format",
        "json",
    )
    assert code == 0
    obj = json.loads(out)
    alloc = {r["density"]: r for r in obj["allocation"]}
    assert alloc[1.0]["params"] == pytest.approx(float(PUBLISHED.optimal_params(1e21, 1.0)))
    assert alloc[0.25]["tokens"] == pytest.approx(float(PUBLISHED.optimal_tokens(1e21, 0.25)))
    (d,) = obj["densities"]
    assert 0.4 < d["loss_optimal_density_unlimited"] < 0.65
    assert d["compute_optimal_density"] < d["loss_optimal_density"] + 1e-9
    pytest.importorskip("matplotlib")
    png = tmp_path / "opt.png"
    code, out, _ = run(capsys, "optimal", "--unique", "1e9", "--points", "8", "--plot", str(png))
    assert code == 0 and "compute-opt s" in out and png.read_bytes()[:4] == b"\x89PNG"


def _synthetic_csv(path: Path) -> Path:
    rows = []
    for N in (1e7, 1e8, 1e9, 1e10):
        for s in (1.0, 0.5, 0.25, 0.125):
            for U in (1e8, 1e9, 1e10):
                rows.append(
                    dict(
                        params=N,
                        density=s,
                        tokens=U,
                        unique=U,
                        loss=float(PUBLISHED.one_epoch_loss(N, s, U)),
                    )
                )
    return write_rows(path, rows)


def test_fit_then_predict_with_the_fitted_law(capsys, tmp_path: Path) -> None:
    runs = _synthetic_csv(tmp_path / "runs.csv")
    law = tmp_path / "law.json"
    code, out, err = run(
        capsys,
        "fit",
        str(runs),
        "--stages",
        "1-2",
        "--grid",
        "coarse",
        "--heldout-above",
        "5e9",
        "--out",
        str(law),
    )
    assert code == 0, err
    assert "held-out runs: 12" in out and "stage 2:" in out
    fitted = json.loads(law.read_text())
    assert fitted["constants"]["alpha"] == pytest.approx(PUBLISHED.alpha, abs=2e-3)
    assert fitted["heldout_r2"] > 0.999
    code, out, _ = run(
        capsys,
        "predict",
        "--params",
        "1e9",
        "--density",
        "0.5",
        "--tokens",
        "1e9",
        "--law",
        str(law),
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out)["loss"] == pytest.approx(
        float(PUBLISHED.one_epoch_loss(1e9, 0.5, 1e9)), rel=1e-3
    )
    # the one-epoch law refuses repeated data, in one line
    code, _, err = run(
        capsys,
        "predict",
        "--params",
        "1e9",
        "--tokens",
        "4e9",
        "--unique",
        "1e9",
        "--law",
        str(law),
    )
    assert code == 2 and err.startswith("sprig: error: this law has no repetition")


@pytest.mark.parametrize(
    "argv, match",
    [
        (["predict", "--tokens", "1e9"], "--params is required"),
        (["predict", "--params", "abc", "--tokens", "1e9"], "--params must be a number"),
        (["predict", "--params", "1e9", "--tokens", "1e9", "--density", "0"], "--density must"),
        (["predict", "--params", "1e9", "--tokens", "-5"], "--tokens must be > 0"),
        (["predict", "--params", "1e9", "--tokens", "1e9", "--unique", "nan"], "--unique must"),
        (["predict", "--params", "1e9", "--tokens", "1e9", "--format", "xml"], "--format must"),
        (
            ["predict", "--params", "1e9", "--tokens", "1e9", "--law", "/nonexistent.json"],
            "law file /nonexistent.json does not exist",
        ),
        (["optimal"], "give --compute"),
        (["optimal", "--compute", "1e21", "--densities", "0.5,2"], "--densities must"),
        (["optimal", "--compute", "1e21", "--plot", "x.png"], "--plot needs --unique"),
        (["fit", "/nonexistent/runs.csv"], "runs file /nonexistent/runs.csv does not exist"),
        (["fit", "{runs}", "--stages", "2"], "--stages must be"),
        (["fit", "{runs}", "--fix", "gamma1"], "--fix takes NAME=VALUE"),
        (["fit", "{runs}", "--fix", "gamma1=x"], "--fix gamma1 must be a number"),
        (["fit", "{runs}", "--grid", "fine"], "grid='fine'"),
        (["fit", "{runs}", "--grid", "coarse"], "cannot identify gamma2"),
        (["sweep", "--hidden", "8"], "--out FILE"),
        (["sweep", "--out", "{tmp}/r.csv", "--hidden", "8,x"], "--hidden must be a number"),
        (["sweep", "--out", "{tmp}/r.csv", "--densities", "0"], "--densities must be > 0"),
        (["sweep", "--out", "{tmp}/r.csv", "--epochs", "1.5"], "--epochs must list integers"),
        (["sweep", "--out", "{tmp}/r.csv", "--holdout", "all"], "holdout='all'"),
        (
            ["sweep", "--out", "{tmp}/r.csv", "--dataset", "digits", "--unique", "5000"],
            "only .* training samples",
        ),
    ],
)
def test_bad_input_one_line_exit_2(capsys, tmp_path: Path, argv: list[str], match: str) -> None:
    import re

    runs = _synthetic_csv(tmp_path / "runs.csv")
    argv = [a.replace("{runs}", str(runs)).replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("sprig: error: "), err
    assert re.search(match, err), err
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.slow
def test_tiny_sweep_feeds_fit(capsys, tmp_path: Path) -> None:
    out_csv = tmp_path / "runs.csv"
    code, out, err = run(
        capsys,
        "sweep",
        "--dataset",
        "digits",
        "--hidden",
        "4,8,16",
        "--densities",
        "1,0.5,0.25,0.125",
        "--unique",
        "200,600",
        "--epochs",
        "1,2",
        "--validation",
        "300",
        "--lr",
        "0.01",
        "--threads",
        "1",
        "--quiet",
        "--out",
        str(out_csv),
    )
    assert code == 0, err
    assert "wrote 48 runs" in out
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 48
    assert {r["split"] for r in rows} == {"fit", "heldout"}  # hidden 16 is held out
    r = rows[0]
    assert int(r["params"]) == 64 * 4 + 4 * 4 + 4 * 10
    assert float(r["tokens"]) == float(r["unique"]) * int(r["epochs"])
    assert all(float(r["loss"]) > 0 for r in rows)
    # resume: nothing left to do, the file is unchanged
    before = out_csv.read_bytes()
    code, out, _ = run(
        capsys,
        "sweep",
        "--dataset",
        "digits",
        "--hidden",
        "4,8,16",
        "--densities",
        "1,0.5,0.25,0.125",
        "--unique",
        "200,600",
        "--epochs",
        "1,2",
        "--validation",
        "300",
        "--lr",
        "0.01",
        "--resume",
        "--quiet",
        "--out",
        str(out_csv),
    )
    assert code == 0 and "wrote 48 runs" in out and out_csv.read_bytes() == before
    # the one-epoch stages of the law fit the runs the sweep wrote
    code, out, err = run(
        capsys, "fit", str(out_csv), "--stages", "1-2", "--grid", "coarse", "--format", "json"
    )
    assert code == 0, err
    res = json.loads(out)
    assert [s["stage"] for s in res["stages"]] == [1, 2]
    assert len(res["heldout"]) == 16  # hidden 16: one-epoch and repeated runs
