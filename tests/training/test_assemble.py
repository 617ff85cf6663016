"""One assembler: the CLI, the Python API and the estimator build the same run from the same
options; everything the CLI can do, the API can."""

from __future__ import annotations

import numpy as np
import pytest

import sprig
from sprig.cli.main import main
from sprig.data import load_digits
from sprig.errors import ConfigError
from sprig.specs.config import TrainConfig
from sprig.training.assemble import assemble

OPTIONS = {
    "layers": "ReLU;Linear",
    "layer_sizes": "64;32;10",
    "epochs": 2,
    "batch_size": 64,
    "overall_density": 0.3,
    "seed": 5,
    "optimizers": "Momentum(0.9)",
    "learning_rate": 0.05,
}


def _weights(model):
    return {k: np.asarray(v) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("dst", ["RigL(every=5)", "GMP", "SET(0.2)"])
def test_api_train_equals_cli(dst, tmp_path, capsys):
    """sprig.train(options) and `sprig train` with the same options end bit-identical."""
    run = sprig.train({**OPTIONS, "dst": dst}, progress=False)
    args = ["train", "--run-dir", str(tmp_path / "cli"), "--no-progress", "--dst", dst]
    for key, value in OPTIONS.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    assert main(args) == 0, capsys.readouterr().err
    from sprig.cli.inspect_cmds import load_source, model_of

    cli_model = model_of(load_source(tmp_path / "cli"))
    a, b = _weights(run.model), _weights(cli_model)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert len(run.history) == 2


def test_fit_runs_gmp_from_a_dense_model():
    model = sprig.sparse_mlp("ReLU;Linear", [64, 64, 10], density=1.0, seed=0)
    assert not model.sparse_layers()
    history = sprig.fit(
        model,
        load_digits(),
        epochs=3,
        dst="GMP",
        density=0.2,
        normalize="standardize",
        progress=False,
        lines=False,
    )
    c = model.count()
    assert c["weights_nnz"] / c["weights_dense"] == pytest.approx(0.2, abs=1e-3)
    assert len(model.sparse_layers()) == 2 and history[-1]["test_accuracy"] > 0.5


def test_fit_refuses_gmp_without_room_to_prune():
    model = sprig.sparse_mlp("ReLU;Linear", [64, 64, 10], density=0.2, seed=0)
    with pytest.raises(ConfigError, match="build the model dense"):
        sprig.fit(model, load_digits(), epochs=1, dst="GMP", progress=False, lines=False)


def test_fit_takes_prune_and_grow():
    model = sprig.sparse_mlp("ReLU;Linear", [64, 64, 10], density=0.2, seed=0)
    h = sprig.fit(
        model,
        load_digits(),
        epochs=2,
        prune="Magnitude(0.2)",
        grow="gradient",
        progress=False,
        lines=False,
    )
    assert len(h[1]["dst"]) == 1


def test_assemble_without_run_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = assemble(
        TrainConfig.from_dict({**OPTIONS, "keep_best": True, "patience": 3}),
        progress=False,
        lines=False,
    )
    run.fit()
    assert run.run_dir is None and list(tmp_path.iterdir()) == []


def test_api_train_writes_a_resumable_run_dir(tmp_path, capsys):
    run = sprig.train({**OPTIONS, "dst": "SET"}, run_dir=tmp_path / "run", progress=False)
    assert {"checkpoint.npz", "config.toml", "metrics.jsonl"} <= {
        p.name for p in (tmp_path / "run").iterdir()
    }
    assert main(["train", "--resume", str(tmp_path / "run"), "--epochs", "3", "--no-progress"]) == 0
    assert len(run.history) == 2
