"""Fast reproductions of the experiments in docs/results.md (real MNIST subset, embedded digits).

Each test trains for a few seconds on one thread and checks a number that a broken
implementation (wrong gradients, wrong remapping of optimizer state through topology edits,
topology updates that do nothing or change nnz, Adam ignoring per-entry counters) cannot
reach. Thresholds are the measured values minus a safety margin (measured values in comments).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from conftest import shared_data
from sprig.data.loaders import load_dataset
from sprig.data.normalization import Normalization
from sprig.losses import REGISTRY as LOSSES
from sprig.optimizers.adam import Adam
from sprig.optimizers.momentum import Momentum
from sprig.runtime import set_num_threads
from sprig.sparsity import algorithms as A
from sprig.sparsity import density as D
from sprig.specs.types import parse_init, parse_layers
from sprig.training.build import build_init, build_mlp
from sprig.training.callbacks import Callback
from sprig.training.dst import TopologyUpdate, make_algorithm
from sprig.training.loop import Trainer

LENET = [784, 300, 100, 10]


def _data(name: str, n_train: int, n_test: int) -> Any:
    data = load_dataset(shared_data(name)).subset(n_train, n_test, seed=0)
    norm = Normalization.fit("minmax", data.x_train, pixel_max=data.pixel_max)
    return norm.apply_dataset(data)


@pytest.fixture(scope="module")
def mnist6k() -> Any:
    return _data("mnist", 6000, 2000)


def _set_xavier() -> A.DSTAlgorithm:
    """SET with Xavier-initialised regrowth (what ``--prune 'SET(0.3)'`` builds)."""
    return dataclasses.replace(A.set_(0.3), new_init=build_init(parse_init("xavier")))


def _lenet(
    data: Any,
    density: float,
    alg: A.DSTAlgorithm | str | None,
    *,
    epochs: int = 3,
    lr: float = 0.05,
    seed: int = 1,
    callbacks: list[Callback] | None = None,
) -> tuple[Trainer, list[dict[str, Any]]]:
    set_num_threads(1)
    dens = D.erk(D.shapes_from_sizes(LENET), density) if density < 1 else [1.0] * 3
    model = build_mlp(
        parse_layers("ReLU;ReLU;Linear"),
        LENET,
        dens,
        rng=np.random.default_rng([seed, 0x4D4F44]),
        fan_in="actual",
    )
    steps = -(-len(data.y_train) // 100)
    cbs: list[Callback] = []
    if isinstance(alg, str):
        alg = make_algorithm(alg, epochs=epochs, steps_per_epoch=steps)
    if alg is not None:
        cbs.append(TopologyUpdate(alg, seed=seed))
    trainer = Trainer(
        model,
        loss=LOSSES["softmax_cross_entropy"](reduction="mean"),
        optimizer=Momentum(0.9),
        schedule=lr,
        epochs=epochs,
        batch_size=100,
        seed=seed,
        callbacks=cbs + (callbacks or []),
    )
    return trainer, trainer.fit(data)


# ------------------------------------------------------------------ LeNet-300-100 on MNIST
# measured (lr 0.05, 3 epochs of 6,000 samples, seeds 1/2): SET 88.6/88.8 %, RigL 88.8/89.3 %
@pytest.mark.parametrize(("name", "threshold"), [("set", 0.85), ("rigl", 0.85)])
def test_lenet_density_01_reaches_85_percent(mnist6k: Any, name: str, threshold: float) -> None:
    alg = _set_xavier() if name == "set" else "RigL(fraction=0.3, every=20)"
    _, hist = _lenet(mnist6k, 0.1, alg)
    assert hist[-1]["test_accuracy"] >= threshold, hist[-1]["test_accuracy"]


def test_lenet_static_density_001_far_above_chance(mnist6k: Any) -> None:
    # measured 67.2 / 64.2 % (seeds 1/2; 2,662 weights, still learning after 180 steps)
    _, hist = _lenet(mnist6k, 0.01, "static")
    assert hist[-1]["test_accuracy"] >= 0.50, hist[-1]["test_accuracy"]


def test_set_changes_topology_and_keeps_nnz_exact(mnist6k: Any) -> None:
    trainer, hist = _lenet(mnist6k, 0.1, _set_xavier(), epochs=3)
    model = trainer.state.model
    dens = D.erk(D.shapes_from_sizes(LENET), 0.1)
    expected = D.layer_nnz(D.shapes_from_sizes(LENET), dens)
    sparse = sorted(model.sparse_layers())
    for row in hist:  # nnz per layer exactly constant after every epoch
        assert [row["layers"][str(i)]["nnz"] for i in sparse] == expected[: len(sparse)]
    updates = [u for row in hist for u in row["dst"]]
    assert len(updates) == 2  # epochs 2 and 3
    for upd in updates:
        for lay in upd["layers"]:
            assert lay["pruned"] == lay["grown"] > 0
            assert lay["unseen_grown"] > 0
    last = updates[-1]["layers"]
    for lay, d in zip(last, dens, strict=False):
        assert lay["explored"] > d * 1.2  # ever-active positions grew beyond the initial set


def test_set_default_regrowth_does_not_accumulate_zeros(mnist6k: Any) -> None:
    # measured before the fix: 53 % of the first layer's stored weights were exactly 0 after
    # 12 epochs with zero regrowth and zeros never pruned (docs/results.md §4a); SET now
    # regrows Xavier values by default and set_prune drops exact zeros
    trainer, _ = _lenet(mnist6k, 0.01, "SET(0.3)", epochs=12)
    layer = trainer.state.model.sparse_layers()[0]
    zeros = float(np.mean(layer.weight.data == 0))
    assert zeros < 0.25, zeros


def test_set_xavier_regrowth_keeps_weights_nonzero(mnist6k: Any) -> None:
    trainer, _ = _lenet(mnist6k, 0.01, _set_xavier(), epochs=12)
    layer = trainer.state.model.sparse_layers()[0]
    assert float(np.mean(layer.weight.data == 0)) < 0.05


# ------------------------------------------------------------------ SMET (per-entry Adam)
def test_smet_per_entry_step_restarts_for_regrown_entries() -> None:
    """After many steps, an entry inserted by a topology edit gets a fresh Adam's first step
    (size lr) with per-entry counters, and ≈ (1-β1)/√(1-β2) ≈ 3.16 lr with the shared one."""
    from sprig.matrices import CSRMatrix
    from sprig.optimizers.base import remap_state

    rng = np.random.default_rng(0)
    W = CSRMatrix.from_dense(np.where(rng.random((6, 8)) < 0.5, rng.normal(size=(6, 8)), 0.0))
    lr = 1e-3
    first: dict[str, float] = {}
    for name, opt in [
        ("shared", Adam()),
        ("per_entry", Adam(per_entry_steps=True)),
        ("smet", Adam(per_entry_steps=True, warmup_steps=100)),
    ]:
        value = W.data.copy()
        state = opt.init(value)
        for _ in range(3000):
            opt.step(value, rng.normal(size=value.shape), state, lr=lr)
        W1 = W.with_data(value)
        free = np.flatnonzero(W.toarray().ravel() == 0)[:1]
        W2, remap = W1.edit(np.zeros(0, dtype=np.int64), free // 8, free % 8, np.zeros(1))
        state = remap_state(state, remap)
        value = W2.data.copy()
        new = remap.inserted
        assert new.size == 1
        g = np.full(value.shape, 0.5)
        before = value.copy()
        opt.step(value, g, state, lr=lr)
        first[name] = float(abs(value[new[0]] - before[new[0]]) / lr)
        if name != "shared":
            assert state.step[new[0]] == 1
    assert first["per_entry"] == pytest.approx(1.0, rel=1e-3)
    t = 3001  # the shared counter at the first step after the edit
    assert first["shared"] == pytest.approx(
        0.1 / (1 - 0.9**t) * np.sqrt((1 - 0.999**t) / 0.001), rel=1e-3
    )  # ≈ 3.08 (→ 3.16 for large t)
    assert first["smet"] == pytest.approx(0.01, rel=1e-3)  # m scaled by t/W = 1/100


class _FirstStep(Callback):
    """Records |first update| / lr of the entries a topology update at step ``at`` inserted."""

    def __init__(self, at: int, lr: float) -> None:
        self.at, self.lr = at, lr
        self.keys: dict[int, Any] = {}
        self.ratios: list[float] = []

    def on_batch_end(self, state: Any, logs: dict[str, Any]) -> None:
        layers = state.model.sparse_layers()
        if state.step == self.at:  # just after the update (TopologyUpdate runs first)
            assert state.extra["dst"]["updates"] == 1
            for i, layer in layers.items():
                W = layer.weight
                self.keys[i] = W.keys[W.data == 0]  # inserted entries start at exactly 0
        elif state.step == self.at + 1:
            for i, layer in layers.items():
                W = layer.weight
                pos = np.searchsorted(W.keys, self.keys[i])
                moved = np.abs(W.data[pos].astype(np.float64))
                self.ratios += list(moved[moved > 0] / self.lr)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # shared counter t = 1001: (1-β1)/(1-β1^t) · sqrt((1-β2^t)/(1-β2)) ≈ 2.515
        ({}, 0.1 * np.sqrt((1 - 0.999**1001) / 0.001)),
        ({"per_entry_steps": True}, 1.0),  # a fresh Adam's first step: lr · sign(g)
        ({"per_entry_steps": True, "warmup_steps": 100}, 0.01),  # SMET: m scaled by 1/100
    ],
)
def test_first_update_of_regrown_entries_through_the_trainer(
    options: dict[str, Any], expected: float
) -> None:
    """End to end (Trainer + TopologyUpdate + state remap): the first update of the entries a
    MagRan step inserts after 1000 optimizer steps, in units of lr."""
    from sprig.data.loaders import load_dataset as load

    set_num_threads(1)
    data = load("digits")
    data = Normalization.fit("standardize", data.x_train).apply_dataset(data)
    sizes = [64, 64, 10]
    model = build_mlp(
        parse_layers("ReLU;Linear"),
        sizes,
        [0.2, 0.5],
        rng=np.random.default_rng(5),
        fan_in="actual",
    )
    lr = 1e-3
    probe = _FirstStep(1000, lr)
    alg = A.magran(0.3, every=1000, unit="step")
    trainer = Trainer(
        model,
        loss=LOSSES["softmax_cross_entropy"](reduction="mean"),
        optimizer=Adam(**options),
        schedule=lr,
        epochs=13,
        batch_size=16,
        seed=5,
        callbacks=[TopologyUpdate(alg, seed=5), probe],
    )
    trainer.fit(data)
    assert len(probe.ratios) > 20
    # |g| >> eps for almost every entry, so the step is lr·factor·|g|/(|g| + eps·...) ≈ factor
    assert np.median(probe.ratios) == pytest.approx(expected, rel=0.02)
