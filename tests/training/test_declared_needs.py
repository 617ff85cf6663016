"""Declared needs: criteria and DST algorithms say what they read; the trainer gathers exactly
that. Every prune × grow (and DST × grow, DST × prune) combination the CLI accepts either
trains — with the criteria asked for, never a silent substitute — or is refused with one clear
line before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sprig.cli.main import main
from sprig.sparsity import algorithms as A
from sprig.sparsity import grow as G
from sprig.sparsity import prune as P
from sprig.sparsity.info import GRADIENT, GRADIENT_SAMPLE, MOMENTUM, declare, needs_of
from sprig.specs.config import TrainConfig
from sprig.training.dst import TopologyUpdate, algorithm_from_config

PRUNES = {
    "magnitude": "Magnitude(0.2)",
    "set": "SET(0.2)",
    "threshold": "Threshold(0.05)",
    "random": "Random(0.2)",
    "sensitivity": "Sensitivity(0.2)",
    "mest": "MEST(0.2)",
    "soft_magnitude": "SoftMagnitude(0.2)",
}
GROWS = {
    None: frozenset(),
    "random": frozenset(),
    "gradient": frozenset({GRADIENT_SAMPLE}),
    "sampled_gradient": frozenset({GRADIENT_SAMPLE}),
    "momentum": frozenset({GRADIENT_SAMPLE}),
}
PRUNE_NEEDS = {"sensitivity": {GRADIENT}, "mest": {GRADIENT}}
DSTS = ["static", "SET", "MagRan", "RigL", "SNFS", "MEST", "GraNet", "GMP"]
#: a tiny run: mini dataset (3 features, 2 classes), 2 epochs of 4 batches
RUN = [
    "train", "--generate-dataset", "mini", "--dataset-size", "200", "--layers", "ReLU;Linear",
    "--layer-sizes", "3;16;2", "--overall-density", "0.5", "--epochs", "2",
    "--batch-size", "50", "--seed", "0", "--no-progress",
]  # fmt: skip


def _config(**kw):
    return TrainConfig(layers="ReLU;Linear", layer_sizes="3;16;2", epochs=2, **kw)


def _train(tmp_path, capsys, *extra):
    run_dir = tmp_path / "run"
    rc = main([*RUN, "--run-dir", str(run_dir), *extra])
    err = capsys.readouterr().err
    rows = []
    if (run_dir / "metrics.jsonl").exists():
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return rc, err, rows, run_dir


def test_declarations():
    assert needs_of(P.magnitude) == frozenset()
    assert needs_of(P.sensitivity) == {GRADIENT}
    assert needs_of(P.mest(0.5)) == {GRADIENT}
    assert needs_of(G.random_grow) == frozenset()
    assert needs_of(G.gradient_grow) == {GRADIENT_SAMPLE}
    assert A.snfs(10).needs == {GRADIENT_SAMPLE, MOMENTUM}
    assert A.mest().needs == {GRADIENT}
    assert A.rigl(100, sampled=5.0).needs == {GRADIENT_SAMPLE}
    assert A.gmp(0.1, start=0, end=10, delta_t=1).needs == frozenset()
    with pytest.raises(ValueError, match="unknown needs"):
        needs_of(declare(lambda: None, needs={"hessian"}))


def test_topology_update_reads_needs_not_names():
    """An algorithm with any name gets what its criteria declare."""
    alg = A.DSTAlgorithm("my_own_name", P.sensitivity, G.gradient_grow)
    topo = TopologyUpdate(alg)
    assert (topo.needs_sample, topo.needs_grad, topo.needs_momentum) == (True, True, False)
    topo = TopologyUpdate(A.DSTAlgorithm("rigl", P.magnitude, G.random_grow))
    assert (topo.needs_sample, topo.needs_grad) == (False, False)


@pytest.mark.parametrize("grow", list(GROWS))
@pytest.mark.parametrize("prune", list(PRUNES))
def test_every_prune_grow_combination(prune, grow, tmp_path, capsys):
    extra = ["--prune", PRUNES[prune]] + ([] if grow is None else ["--grow", grow])
    cfg = _config(prune=PRUNES[prune], grow=grow)
    alg = algorithm_from_config(cfg, epochs=2, steps_per_epoch=4)
    assert alg is not None
    assert alg.needs == GROWS[grow] | PRUNE_NEEDS.get(prune, set())
    if grow in (None, "random", "gradient", "momentum"):
        assert alg.grow is G.GROW_CRITERIA[grow or "random"]
    rc, err, rows, _ = _train(tmp_path, capsys, *extra)
    assert rc == 0, err
    assert len(rows) == 2
    assert len(rows[1]["dst"]) == 1, rows[1]  # one topology update, at the start of epoch 2


@pytest.mark.parametrize("grow", [g for g in GROWS if g is not None])
@pytest.mark.parametrize("dst", DSTS)
def test_every_dst_grow_combination(dst, grow, tmp_path, capsys):
    rc, err, _, run_dir = _train(tmp_path, capsys, "--dst", dst, "--grow", grow)
    if dst == "static":
        assert rc == 2 and "needs prune" in err, err
    elif dst == "GMP":
        assert rc == 2 and "never grows" in err, err
    else:
        assert rc == 0, err
        alg = algorithm_from_config(
            _config(dst=dst, grow=grow, overall_density=0.5),
            epochs=2,
            steps_per_epoch=4,
            final_density=0.5,
        )
        assert alg is not None and alg.name == dst.lower()
        assert needs_of(alg.grow) == GROWS[grow]
        if grow != "sampled_gradient":
            assert alg.grow is G.GROW_CRITERIA[grow]
        return
    assert len(err.strip().splitlines()) == 1 and not run_dir.exists()


@pytest.mark.parametrize("prune", list(PRUNES))
@pytest.mark.parametrize("dst", DSTS)
def test_every_dst_prune_combination(dst, prune, tmp_path, capsys):
    rc, err, _, run_dir = _train(tmp_path, capsys, "--dst", dst, "--prune", PRUNES[prune])
    if prune == "set" and dst in ("MEST", "GraNet", "GMP"):
        assert rc == 2 and "fraction-based prune criterion" in err, err
        assert not run_dir.exists()
    else:
        assert rc == 0, err


def test_momentum_need_refused_for_sgd(tmp_path, capsys):
    rc, err, _, run_dir = _train(tmp_path, capsys, "--dst", "SNFS", "--optimizers", "SGD")
    assert rc == 2 and "needs the optimizer's momentum" in err and "'sgd'" in err
    assert not run_dir.exists()


def test_snfs_with_momentum_trains(tmp_path, capsys):
    rc, err, rows, _ = _train(tmp_path, capsys, "--dst", "SNFS", "--optimizers", "Adam")
    assert rc == 0, err
    assert len(rows[1]["dst"]) == 1
    assert np.isfinite(rows[1]["train_loss"])
