"""Whole topology updates: exact nnz, kept weights unchanged, new entries, state remapping."""

from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sprig.matrices import CSRMatrix
from sprig.optimizers.base import per_entry, remap_state
from sprig.sparsity import REGISTRY, schedules
from sprig.sparsity import algorithms as A
from sprig.sparsity.info import GradientSample, LayerInfo
from sprig.sparsity.schedules import SoftMemoryBound, UpdateSchedule, constant


def test_doctests() -> None:
    assert doctest.testmod(schedules).failed == 0


@dataclasses.dataclass
class _State:
    m: np.ndarray = per_entry(0.0)  # noqa: RUF009
    t: int = 0


def _layers(rng, shapes, density):
    out = {}
    for i, s in enumerate(shapes):
        W = CSRMatrix.random(
            s,
            density=density,
            rng=rng,
            dtype=np.float64,
            values=lambda n, r: r.standard_normal(n),
        )
        info = LayerInfo(
            grad=rng.standard_normal(W.nnz),
            momentum=rng.standard_normal(W.nnz) * (i + 1),
            sample=GradientSample(rng.standard_normal((s[1], 4)), rng.standard_normal((s[0], 4))),
        )
        out[f"l{i}"] = (W, info)
    return out


ALGS = {
    "set": lambda: A.set_(0.3),
    "magran": lambda: A.magran(0.4),
    "rigl": lambda: A.rigl(1000, delta_t=1),
    "rigl_sampled": lambda: A.rigl(1000, delta_t=1, sampled=4),
    "snfs": lambda: A.snfs(10),
    "mest": lambda: A.mest(bound=SoftMemoryBound(constant(0.2), constant(0.9))),
    "granet": lambda: A.granet(
        0.1, start=0, end=10, total_steps=20, delta_t=1, initial_density=0.5
    ),
    "gmp": lambda: A.gmp(0.1, start=0, end=10, delta_t=1, initial_density=0.5),
    "gmp_layer": lambda: A.gmp(0.1, start=0, end=10, delta_t=1, initial_density=0.5, scope="layer"),
    "static": A.static,
    "seft": lambda: A.seft(1000, delta_t=1),
}


def _expected_nnz(name, alg, layers, t):
    if name in ("set", "magran", "rigl", "rigl_sampled", "static", "seft"):
        return {n: W.nnz for n, (W, _) in layers.items()}
    if name == "mest":
        return {n: int(np.floor(0.9 * alg.record.initial_nnz[n] + 0.5)) for n in layers}
    return None


@pytest.mark.parametrize("name", sorted(ALGS))
@given(seed=st.integers(0, 2**31), density=st.floats(0.05, 0.6), t=st.integers(1, 5))
def test_update_properties(name, seed, density, t) -> None:
    rng = np.random.default_rng(seed)
    shapes = [(13, 17), (9, 5), (1, 4)]
    layers = _layers(rng, shapes, density)
    alg = ALGS[name]()
    edits = alg.propose_all(layers, t, rng)
    expected = _expected_nnz(name, alg, layers, t)
    total_before = sum(W.nnz for W, _ in layers.values())
    total_after = 0
    for n, (W, _) in layers.items():
        e = edits[n]
        assert np.all(np.diff(e.drop) > 0)
        W2, remap = A.apply_edit(W, e)  # validates sorted/unique/not-stored
        A.check_nnz(W2, e.stats.nnz, n)
        total_after += W2.nnz
        if expected is not None:
            assert W2.nnz == expected[n], (n, W.nnz, W2.nnz)
        # kept weights unchanged, new weights as documented (SET: Xavier with the dense
        # fan-in, as Nerva; the others: zero), state carried
        kept = remap.kept
        assert np.array_equal(W2.data[kept], W.data[remap.source[kept]])
        new = W2.data[remap.inserted]
        if name == "set":
            limit = 1 / np.sqrt(W2.shape[1])
            assert np.all(np.abs(new) <= limit + 1e-12) and (new.size == 0 or np.any(new))
        else:
            assert np.all(new == 0)
        assert remap.inserted.size == e.stats.grown and remap.dropped.size == e.stats.pruned
        st_ = remap_state(_State(m=np.arange(W.nnz, dtype=float) + 1, t=7), remap)
        assert np.array_equal(st_.m[kept], remap.source[kept] + 1.0)
        assert np.all(st_.m[remap.inserted] == 0) and st_.t == 7
        assert 0.0 <= e.stats.unseen_grown <= 1.0
        if name in ("set", "mest", "seft"):  # just-pruned positions excluded from regrowth
            new_keys = W2.keys[remap.inserted]
            assert not np.isin(new_keys, W.keys).any()
    if name == "snfs":
        assert total_after == total_before
    if name in ("gmp", "granet"):
        goal = 1.0 - schedules.gmp_sparsity(0.5, 0.9, 0, 10, 1)(t)
        size = sum(r * c for r, c in shapes)
        if total_before > int(np.floor(goal * size + 0.5)):
            assert total_after == int(np.floor(goal * size + 0.5))


def test_rigl_schedule_and_counts() -> None:
    alg = A.rigl(1000)
    assert alg.update == UpdateSchedule(every=100, stop=750)
    assert alg.due(100) and alg.due(700) and not alg.due(750) and not alg.due(150)
    rng = np.random.default_rng(0)
    layers = _layers(rng, [(50, 40)], 0.1)
    e = alg.propose_all(layers, 0, rng)["l0"]
    assert e.stats.pruned == e.stats.grown == int(np.floor(0.3 * 200 + 0.5))


def test_set_prunes_signs_separately_and_itop() -> None:
    rng = np.random.default_rng(0)
    W = CSRMatrix.from_dense(np.array([[1.0, -1.0, 0.1, -0.1, 0, 0, 0, 0, 0, 0]]), dtype=np.float64)
    alg = A.set_(0.5)
    e = alg.propose("w", W, 1, rng)
    assert e.drop.tolist() == [2, 3] and e.stats.grown == 2
    assert e.stats.unseen_grown == 1.0 and e.stats.explored == 0.6
    assert not alg.due(0) and alg.due(1) and alg.update.unit == "epoch"


def test_itop_counts_regrown_positions_as_seen() -> None:
    rng = np.random.default_rng(0)
    W = CSRMatrix.random(
        (4, 4), nnz=8, rng=rng, dtype=np.float64, values=lambda n, r: r.standard_normal(n)
    )
    alg = A.magran(0.5)
    for t in range(1, 30):
        e = alg.propose("w", W, t, rng)
        W, _ = A.apply_edit(W, e)
    # after many updates every position has been seen; new growth is no longer "new"
    assert alg.record.last["w"].explored == 1.0 and alg.record.last["w"].unseen_grown == 0.0
    state = alg.record.state_dict()
    rec = A.TopologyRecord()
    rec.load_state_dict(state)
    assert np.array_equal(rec.ever_active["w"], np.arange(16))


def test_static_and_errors() -> None:
    rng = np.random.default_rng(0)
    layers = _layers(rng, [(5, 5)], 0.5)
    e = A.static().propose_all(layers, 3, rng)["l0"]
    assert e.empty and not A.static().due(100)
    with pytest.raises(ValueError, match="propose_all"):
        A.snfs(10).propose("l0", *layers["l0"][:1], 1, rng)
    with pytest.raises(A.NnzMismatchError, match=r"has 13 stored entries.*intended 12"):
        A.check_nnz(layers["l0"][0], 12, "l0")
    with pytest.raises(ValueError, match=r"info\.momentum"):
        A.snfs(10).propose_all({"a": (layers["l0"][0], LayerInfo())}, 1, rng)


def test_new_values_initializer() -> None:
    rng = np.random.default_rng(0)
    layers = _layers(rng, [(8, 8)], 0.3)
    alg = A.set_(0.3, new_values=lambda n, r: np.full(n, 0.5))
    e = alg.propose_all(layers, 1, rng)["l0"]
    W2, remap = A.apply_edit(layers["l0"][0], e)
    assert np.all(W2.data[remap.inserted] == 0.5)


def test_registry() -> None:
    assert set(REGISTRY["algorithm"]) == {
        "static",
        "set",
        "magran",
        "rigl",
        "snfs",
        "mest",
        "granet",
        "gmp",
        "seft",
    }
    assert {
        "magnitude",
        "set",
        "threshold",
        "random",
        "sensitivity",
        "mest",
        "soft_magnitude",
    } <= set(REGISTRY["prune"])
    assert {"random", "gradient", "sampled_gradient", "momentum"} <= set(REGISTRY["grow"])
