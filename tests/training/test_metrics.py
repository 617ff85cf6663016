"""What a run reports: FLOPs, cumulative time, the ITOP rate by its name, flat CSV columns,
and plots of one run or several overlaid."""

import json
from pathlib import Path

import numpy as np
import pytest

from sprig.activations import ReLU
from sprig.data.loaders import load_digits
from sprig.data.normalization import normalize
from sprig.layers import ActivationLayer, Linear, SparseLinear
from sprig.losses import SoftmaxCrossEntropy
from sprig.models import MLP
from sprig.optimizers import Momentum
from sprig.training.callbacks import csv_row
from sprig.training.dst import TopologyUpdate, make_algorithm
from sprig.training.loop import Trainer, flops

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v1" / "metrics.jsonl"


def small(seed=0):
    rng = np.random.default_rng(seed)
    return MLP([SparseLinear(64, 40, density=0.25, rng=rng), ActivationLayer(ReLU(), 40),
                Linear(40, 10, rng=rng)])  # fmt: skip


@pytest.fixture(scope="module")
def rows():
    data = normalize(load_digits(), "standardize")[0]
    m = small()
    alg = make_algorithm("SET(0.3)", epochs=3, steps_per_epoch=57)
    tr = Trainer(m, loss=SoftmaxCrossEntropy(), optimizer=Momentum(0.9), schedule=0.05,
                 epochs=3, batch_size=32, callbacks=[TopologyUpdate(alg)])  # fmt: skip
    return tr.fit(data)


def test_flops_are_counted_from_stored_weights(rows):
    m = small()
    f = flops(m, 32)
    nnz0 = m.net[0].nnz
    assert f["flops_forward"] == 2 * nnz0 + 2 * 400
    assert f["flops_train_step"] == 32 * (2 * 2 * nnz0 + 3 * 2 * 400)
    assert rows[-1]["flops_forward"] == f["flops_forward"]  # SET keeps nnz


def test_total_seconds_accumulate(rows):
    totals = [r["total_seconds"] for r in rows]
    assert totals == pytest.approx(np.cumsum([r["seconds"] for r in rows]).tolist())


def test_dst_updates_record_the_network_itop_rate(rows):
    u = rows[1]["dst"][0]
    assert u["unit"] == "epoch" and u["epoch"] == 2 and u["step"] == rows[0]["step"]
    lay = u["layers"][0]
    assert set(lay) >= {"layer", "pruned", "grown", "unseen_grown", "explored"}
    assert "itop_rate" not in lay
    # one sparse layer: the network's explored fraction is that layer's
    assert u["explored"] == pytest.approx(lay["explored"])
    assert rows[2]["dst"][0]["explored"] > u["explored"]


def test_csv_row_flattens_layers_and_dst(rows):
    flat = csv_row(rows[1])
    assert flat["nnz/0"] == rows[1]["layers"]["0"]["nnz"]
    assert flat["density/2"] == 1.0
    assert flat["dst_updates"] == 1 and flat["dst_pruned"] == flat["dst_grown"] > 0
    assert flat["explored"] == rows[1]["dst"][0]["explored"]
    assert not any(isinstance(v, dict | list) for v in flat.values())


def test_plots_of_one_run_several_runs_and_old_runs(rows, tmp_path):
    pytest.importorskip("matplotlib")
    from sprig import plotting

    old = [json.loads(x) for x in FIXTURE.read_text().splitlines()]
    ups = plotting.dst_updates(old)
    assert ups[0]["layers"][0]["unseen_grown"] == ups[0]["layers"][0]["itop_rate"]
    written = plotting.plot_run(rows, {"0": np.ones(3)}, tmp_path / "one", log_density=True)
    assert [p.name for p in written] == ["learning_curves.png", "density.png", "dst.png",
                                         "weights.png"]  # fmt: skip
    p = plotting.plot_compare({"SET": rows, "v1": old}, tmp_path / "cmp.png", log_density=True)
    assert p.stat().st_size > 10_000
    assert plotting.plot_dst({"SET": rows, "v1": old}, tmp_path / "d.png", x="step") is not None
    assert plotting.overall_density(rows[0]) == pytest.approx(
        (rows[0]["layers"]["0"]["nnz"] + 400) / (64 * 40 + 400)
    )


def test_sprig_plot_overlays_several_runs(tmp_path):
    pytest.importorskip("matplotlib")
    import shutil
    import subprocess
    import sys

    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(FIXTURE.parent, a)
    shutil.copytree(FIXTURE.parent, b)
    cmd = [sys.executable, "-m", "sprig", "plot", str(a), str(b), "--out", str(tmp_path / "o"),
           "--log-density", "--x", "step"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "o" / "compare.png").stat().st_size > 10_000
    out = subprocess.run(cmd[:6], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and out.stderr.startswith("sprig: error: several runs need --out")
