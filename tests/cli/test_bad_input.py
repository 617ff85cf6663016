"""Bad input never gives a traceback: one line ``sprig: error: …`` naming the problem, a
non-zero exit status, and no existing file touched.

One table, one subprocess per case. Most cases fail while the options or the data are read,
before any training; the checkpoint cases share one tiny trained run (a module fixture).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from conftest import shared_data
from sprig.io import load_npz, save_npz

#: a valid ``sprig train`` on the tiny dataset; cases append options (the last one wins)
TRAIN = [
    "train",
    "--dataset",
    "{good}",
    "--layer-sizes",
    "20;16;3",
    "--layers",
    "ReLU;Linear",
    "--epochs",
    "1",
    "--batch-size",
    "16",
    "--seed",
    "0",
    "--no-progress",
    "--run-dir",
    "{out}",
]


def _dataset(path, *, x_train=None, y_train=None, x_test=None, **extra):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.normal(size=(120, 20)).astype(np.float32) if x_train is None else x_train,
        "y_train": np.arange(120) % 3 if y_train is None else y_train,
        "x_test": rng.normal(size=(30, 20)).astype(np.float32) if x_test is None else x_test,
        "y_test": np.arange(30) % 3,
        **extra,
    }
    np.savez(path, **arrays)


def _env(extra=None):
    """The child's environment: byte-compiled sources cached outside the tree (each command is
    a fresh interpreter; without a cache every one recompiles sprig), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "sprig-test-pycache")
    return {**env, **(extra or {})}


def _sprig(argv, *, cwd, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "sprig.cli.main", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(env),
    )


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """Every file the cases point at, made once; the test checks that none of them changes."""
    root = tmp_path_factory.mktemp("bad")
    d = root / "data"
    d.mkdir()
    good = d / "good.npz"
    _dataset(good)
    x = np.random.default_rng(1).normal(size=(120, 20)).astype(np.float32)
    x_nan, x_inf = x.copy(), x.copy()
    x_nan[5, 3] = np.nan
    x_inf[7, 1] = np.inf
    _dataset(d / "nan.npz", x_train=x_nan)
    _dataset(d / "inf.npz", x_train=x_inf)
    _dataset(d / "labels.npz", y_train=np.full(120, 0.5))
    _dataset(d / "rows.npz", y_train=np.arange(100) % 3)
    np.savez(d / "nokeys.npz", a=np.zeros(3), b=np.ones(3))
    blob = good.read_bytes()
    (d / "empty.npz").write_bytes(b"")
    (d / "truncated.npz").write_bytes(blob[: len(blob) // 2])
    (d / "corrupt.npz").write_bytes(np.random.default_rng(2).bytes(4096))

    run = root / "run"
    argv = [a.format(good=good, out=run) for a in TRAIN]
    proc = _sprig(argv, cwd=root)
    assert proc.returncode == 0, proc.stderr
    ckpt = (run / "checkpoint.npz").read_bytes()
    for name, content in (
        ("corrupt", np.random.default_rng(3).bytes(len(ckpt))),
        ("truncated", ckpt[: len(ckpt) // 2]),
        ("empty", b""),
        ("notckpt", blob),
    ):
        copy = root / f"ckpt_{name}"
        shutil.copytree(run, copy)
        (copy / "checkpoint.npz").write_bytes(content)
        (copy / "weights.npz").unlink()
    meta_copy = root / "ckpt_meta"  # a valid archive whose metadata lacks the counters
    shutil.copytree(run, meta_copy)
    arrays, meta = load_npz(run / "checkpoint.npz")
    del meta["epoch"], meta["step"]
    save_npz(meta_copy / "checkpoint.npz", arrays, meta=meta)
    bad_config = root / "bad_config"
    shutil.copytree(run, bad_config)
    (bad_config / "config.toml").write_text("layers = [\n")
    arrays, meta = load_npz(run / "weights.npz")
    key = next(k for k in sorted(arrays) if k.endswith(("weight", "weight.data")))
    arrays[key][..., 0] = np.nan
    save_npz(root / "nan_weights.npz", arrays, meta=meta)
    _dataset(
        d / "wide.npz", x_train=np.ones((120, 30), np.float32), x_test=np.ones((30, 30), np.float32)
    )
    nockpt = root / "nockpt"
    nockpt.mkdir()
    shutil.copy(run / "config.toml", nockpt / "config.toml")
    (nockpt / "metrics.jsonl").write_text('{"epoch": 1}\nnot json\n{"epoch": 3}\n')

    from sprig.activations import ReLU
    from sprig.layers import ActivationLayer, SparseLinear
    from sprig.models.mlp import MLP

    rng = np.random.default_rng(0)
    other = MLP(
        [
            SparseLinear(20, 8, density=0.5, rng=rng),
            ActivationLayer(ReLU(), 8),
            SparseLinear(8, 3, density=0.5, rng=rng),
        ]
    )
    other.save_weights(root / "other_weights.npz")

    (root / "unknown_key.toml").write_text(
        f'layers = "ReLU;Linear"\nlayer_sizes = "20;16;3"\ndataset = "{good}"\ncolour = "red"\n'
    )
    (root / "bad_syntax.toml").write_text('layers = "ReLU;Linear\nepochs = = 3\n')
    nompl = root / "nompl" / "matplotlib"
    nompl.mkdir(parents=True)
    (nompl / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")

    paths = {
        "good": good,
        "nan": d / "nan.npz",
        "inf": d / "inf.npz",
        "labels": d / "labels.npz",
        "rows": d / "rows.npz",
        "nokeys": d / "nokeys.npz",
        "empty": d / "empty.npz",
        "truncated": d / "truncated.npz",
        "corrupt": d / "corrupt.npz",
        "missing": d / "missing.npz",
        "run": run,
        "ckpt": run / "checkpoint.npz",
        "ckpt_corrupt": root / "ckpt_corrupt",
        "ckpt_truncated": root / "ckpt_truncated",
        "ckpt_empty": root / "ckpt_empty",
        "ckpt_notckpt": root / "ckpt_notckpt",
        "nockpt": nockpt,
        "other_weights": root / "other_weights.npz",
        "unknown_key": root / "unknown_key.toml",
        "bad_syntax": root / "bad_syntax.toml",
        "nompl": root / "nompl",
        "ckpt_meta": meta_copy,
        "bad_config": bad_config,
        "nan_weights": root / "nan_weights.npz",
        "wide": d / "wide.npz",
    }
    return root, {k: str(v) for k, v in paths.items()}


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


class Case(NamedTuple):
    id: str
    argv: list[str]
    expect: str
    env: dict[str, str] | None
    xfail: str | None  # a known bug outside the CLI (strict: fixing it must un-xfail)


def case(
    id: str,
    argv: list[str],
    expect: str,
    env: dict[str, str] | None = None,
    *,
    xfail: str | None = None,
) -> Case:
    return Case(id, argv, expect, env, xfail)


def _train(*extra):
    return [*TRAIN, *extra]


# (argv, substring the error line must contain (case-insensitive)[, extra environment]);
# {name} is a path of the ctx fixture, {out} a fresh path for the case's outputs
CASES = [
    # malformed specs
    case("layers-empty-item", _train("--layers", "ReLU;;Linear"), "expected a value after ';'"),
    case("optimizer-unclosed", _train("--optimizers", "Nesterov(0.9"), "unclosed '('"),
    case("schedule-bad-milestone", _train("--learning-rate", "MultiStepLR(0.1; 50,x; 0.1)"),
         "multistep milestones[1] must be an integer, got 'x'"),
    case("sizes-not-numbers", _train("--layer-sizes", "20;abc;3"),
         "layer_sizes 2 of 3 must be an integer"),
    # unknown names
    case("unknown-activation", _train("--layers", "Relux;Linear"), "unknown layer 'relux'"),
    case("unknown-loss", _train("--loss", "HingeLoss"), "unknown loss 'hingeloss'"),
    case("unknown-optimizer", _train("--optimizers", "Adamax(0.9)"), "unknown optimizer 'adamax'"),
    case("unknown-dst", _train("--dst", "FooDST(0.3)"), "unknown dst algorithm 'foodst'"),
    case("unknown-initializer", _train("--layer-weights", "Glorotish"),
         "unknown initializer 'glorotish'"),
    case("unknown-normalization", _train("--normalize", "zscore"), "normalize must be one of"),
    # sizes that do not match the data
    case("first-size-not-features", _train("--layer-sizes", "784;16;3"), "has 20 features"),
    case("last-size-below-classes", _train("--layer-sizes", "20;16;2"), "has 3 classes"),
    case("sizes-count", _train("--layer-sizes", "20;16;8;3"), "layer_sizes must have 3 values"),
    # densities outside (0, 1], epochs and batch sizes
    case("density-zero", _train("--densities", "0"), "densities must be in (0, 1], got 0.0"),
    case("density-above-one", _train("--densities", "1.5"), "densities must be in (0, 1], got 1.5"),
    case("overall-density-negative", _train("--overall-density", "-0.1"),
         "overall_density must be in (0, 1]"),
    case("epochs-zero", _train("--epochs", "0"), "epochs must be >= 1, got 0"),
    case("epochs-negative", _train("--epochs", "-3"), "epochs must be >= 1, got -3"),
    case("batch-size-zero", _train("--batch-size", "0"), "batch_size must be >= 1, got 0"),
    case("batch-size-negative", _train("--batch-size", "-8"), "batch_size must be >= 1, got -8"),
    case("threads-zero", _train("--threads", "0"), "threads must be >= 1"),
    case("dataset-kind-unknown", _train("--dataset-kind", "parquet"),
         "dataset_kind must be one of"),
    case("train-size-too-large", _train("--train-size", "5000"), "train_size 5000 exceeds the 120"),
    # bad datasets
    case("data-nan", _train("--dataset", "{nan}"), "1 nan/inf value(s)"),
    case("data-inf", _train("--dataset", "{inf}"), "feature 1 (inf)"),
    case("data-fractional-labels", _train("--dataset", "{labels}"), "integer class labels"),
    case("data-row-count-mismatch", _train("--dataset", "{rows}"), "but y_train has 100 labels"),
    case("data-missing-keys", _train("--dataset", "{nokeys}"), "has keys ['a', 'b']"),
    case("data-empty-file", _train("--dataset", "{empty}"), "empty.npz is empty"),
    case("data-truncated", _train("--dataset", "{truncated}"), "truncated.npz is not a readable"),
    case("data-corrupt", _train("--dataset", "{corrupt}"), "corrupt.npz is not a readable"),
    case("data-missing-file", _train("--dataset", "{missing}"), "missing.npz does not exist"),
    # checkpoints: info / evaluate / resume
    case("info-corrupt-checkpoint", ["info", "{ckpt_corrupt}/checkpoint.npz"],
         "checkpoint.npz is corrupt"),
    case("info-truncated-checkpoint", ["info", "{ckpt_truncated}/checkpoint.npz"],
         "checkpoint.npz is corrupt"),
    case("info-empty-checkpoint", ["info", "{ckpt_empty}/checkpoint.npz"],
         "checkpoint.npz is empty"),
    case("info-not-a-checkpoint", ["info", "{ckpt_notckpt}/checkpoint.npz"], "neither"),
    case("info-missing-path", ["info", "{missing}"], "no such"),
    case("info-dir-without-weights", ["info", "{nompl}"], "neither"),
    case("info-nan-weights", ["info", "{nan_weights}"], "contains nan or infinite"),
    case("evaluate-corrupt-checkpoint", ["evaluate", "{ckpt_corrupt}"],
         "checkpoint.npz is corrupt"),
    case("evaluate-truncated-checkpoint", ["evaluate", "{ckpt_truncated}"],
         "checkpoint.npz is corrupt"),
    case("evaluate-empty-checkpoint", ["evaluate", "{ckpt_empty}/checkpoint.npz"],
         "checkpoint.npz is empty"),
    case("evaluate-corrupt-data", ["evaluate", "{run}", "--data", "{corrupt}"],
         "corrupt.npz is not a readable"),
    case("evaluate-wrong-features", ["evaluate", "{run}", "--data", "{wide}"], "30 features"),
    case("evaluate-nan-weights",
         ["evaluate", "{nan_weights}", "--config", "{run}/config.toml"],
         "contains nan or infinite"),
    case("evaluate-batch-size-zero", ["evaluate", "{run}", "--batch-size", "0"], "--batch-size"),
    case("evaluate-weights-without-config", ["evaluate", "{other_weights}"], "config"),
    case("evaluate-other-architecture",
         ["evaluate", "{other_weights}", "--config", "{run}/config.toml"], "shape (8, 20)"),
    case("resume-corrupt-checkpoint",
         ["train", "--resume", "{ckpt_corrupt}", "--no-progress"], "checkpoint.npz is corrupt"),
    case("resume-truncated-checkpoint",
         ["train", "--resume", "{ckpt_truncated}", "--no-progress"],
         "checkpoint.npz is corrupt"),
    case("resume-empty-checkpoint",
         ["train", "--resume", "{ckpt_empty}", "--no-progress"], "checkpoint.npz is empty"),
    case("resume-without-checkpoint",
         ["train", "--resume", "{nockpt}", "--no-progress"], "no checkpoint"),
    case("resume-corrupt-config",
         ["train", "--resume", "{bad_config}", "--no-progress"], "invalid toml"),
    case("resume-checkpoint-meta-incomplete",
         ["train", "--resume", "{ckpt_meta}", "--no-progress"], "missing or invalid metadata"),
    case("resume-with-architecture",
         ["train", "--resume", "{run}", "--layers", "ReLU;Linear"], "--resume takes only"),
    case("load-weights-other-net",
         _train("--load-weights", "{other_weights}"), "weight has shape (8, 20)"),
    case("load-weights-nan", _train("--load-weights", "{nan_weights}"), "contains nan or infinite"),
    case("load-weights-corrupt", _train("--load-weights", "{corrupt}"), "corrupt.npz is corrupt"),
    # config files
    case("config-unknown-key",
         ["train", "--config", "{unknown_key}", "--run-dir", "{out}"],
         "unknown option 'colour'"),
    case("config-bad-syntax",
         ["train", "--config", "{bad_syntax}", "--run-dir", "{out}"], "invalid toml"),
    case("config-missing", ["train", "--config", "{missing}", "--run-dir", "{out}"], "not found"),
    # plot / export
    case("plot-corrupt-metrics", ["plot", "{nockpt}", "--out", "{out}"], "not valid json"),
    case("plot-without-matplotlib",
         ["plot", "{ckpt_empty}", "--out", "{out}"], "sprig[plot]", {"PYTHONPATH": "{nompl}"}),
    case("plot-missing-run", ["plot", "{missing}"], "does not exist"),
    case("export-truncated-checkpoint",
         ["export", "{ckpt_truncated}", "--nerva", "{out}.npz"], "checkpoint.npz is corrupt"),
    case("export-without-format", ["export", "{run}"], "--nerva"),
    case("export-over-source", ["export", "{run}", "--nerva", "{ckpt}"], "overwrite"),
]  # fmt: skip


def _run_case(root: Path, paths: dict[str, str], c: Case, before: dict[str, str]):
    work = root.parent / f"{root.name}-case-{c.id}"
    work.mkdir()
    fill = {**paths, "out": str(work / "out")}
    argv = [a.format(**fill) for a in c.argv]
    env = {k: v.format(**fill) for k, v in (c.env or {}).items()}
    proc = _sprig(argv, cwd=work, env=env)
    # the files this case names must be intact right after it ran
    named = {
        k
        for k in before
        if any(str(root / k).startswith(a) or a.startswith(str(root / k)) for a in argv)
    }
    after = _snapshot(root)
    changed = sorted(k for k in named if after.get(k) != before[k])
    return proc, changed


@pytest.fixture(scope="module")
def outcomes(ctx, request):
    """Run every selected case once, a few at a time (each is a fresh interpreter, mostly
    import time), snapshotting the shared files around them."""
    root, paths = ctx
    selected = {
        item.callspec.id
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_bad_input" and hasattr(item, "callspec")
    }
    before = _snapshot(root)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            c.id: pool.submit(_run_case, root, paths, c, before) for c in CASES if c.id in selected
        }
        results = {k: f.result() for k, f in futures.items()}
    return results, before, _snapshot(root)


@pytest.mark.parametrize(
    "c",
    [
        pytest.param(
            c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
        )
        for c in CASES
    ],
)
def test_bad_input(outcomes, c):
    results, before, after = outcomes
    proc, changed = results[c.id]
    expect = c.expect
    out = proc.stdout + proc.stderr
    print(c.id, "->", proc.stderr)  # pytest -rP shows every message
    assert "Traceback" not in out, out
    assert proc.returncode != 0, out
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("sprig: error: "), proc.stderr
    assert expect.lower() in lines[0].lower(), lines[0]
    assert not changed, f"the failing command changed {changed}"
    assert after == before, "some failing command changed an existing file"


def test_table_is_large_enough():
    assert len(CASES) >= 30


def test_first_size_must_match_real_data(tmp_path):
    """The size check on a real dataset (MNIST has 784 features)."""
    data = shared_data("mnist")
    proc = _sprig(
        [
            "train",
            "--dataset",
            str(data),
            "--layer-sizes",
            "100;16;10",
            "--layers",
            "ReLU;Linear",
            "--train-size",
            "500",
            "--test-size",
            "200",
            "--run-dir",
            str(tmp_path / "r"),
            "--no-progress",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("sprig: error: the first layer size is 100")
    assert "784 features" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "r").exists()
