"""Optimizers: hand calculations, torch.optim, sparse = masked dense, topology edits, SMET."""

from __future__ import annotations

import dataclasses
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sprig.matrices import CSRMatrix
from sprig.optimizers import (
    REGISTRY,
    SGD,
    Adam,
    AdamPerEntryState,
    AdamState,
    AdamW,
    Momentum,
    MomentumState,
    Nesterov,
    remap_state,
    state_arrays,
    state_from_arrays,
)

#: One instance of every optimizer configuration under test (optax-style table).
OPTIMIZERS = [
    SGD(),
    SGD(weight_decay=0.1),
    Momentum(0.9),
    Momentum(0.5, weight_decay=0.05),
    Nesterov(0.9),
    Nesterov(0.7, weight_decay=0.05),
    Adam(),
    Adam(weight_decay=0.1),
    Adam(per_entry_steps=True),
    Adam(per_entry_steps=True, warmup_steps=5),
    Adam(warmup_steps=3),
    AdamW(),
    AdamW(weight_decay=0.1, per_entry_steps=True),
]
IDS = [repr(o) for o in OPTIMIZERS]


def _run(opt, w, grads, lrs):
    w = w.copy()
    state = opt.init(w)
    for g, lr in zip(grads, lrs, strict=True):
        opt.step(w, g, state, lr=lr)
    return w, state


# ----------------------------------------------------------------- hand calculations
def test_sgd_one_step_by_hand():
    w = np.array([1.0, -2.0])
    SGD(weight_decay=0.5).step(w, np.array([0.2, 0.4]), SGD().init(w), lr=0.1)
    np.testing.assert_allclose(w, [1.0 - 0.1 * (0.2 + 0.5), -2.0 - 0.1 * (0.4 - 1.0)])


def test_momentum_two_steps_by_hand():
    w = np.array([1.0])
    opt = Momentum(0.9)
    s = opt.init(w)
    opt.step(w, np.array([2.0]), s, lr=0.1)  # Δ = -0.2
    opt.step(w, np.array([1.0]), s, lr=0.1)  # Δ = 0.9·(-0.2) - 0.1 = -0.28
    np.testing.assert_allclose(s.delta, [-0.28])
    np.testing.assert_allclose(w, [1.0 - 0.2 - 0.28])


def test_nesterov_two_steps_by_hand():
    w = np.array([1.0])
    opt = Nesterov(0.9)
    s = opt.init(w)
    opt.step(w, np.array([2.0]), s, lr=0.1)  # Δ = -0.2; w += 0.9·(-0.2) - 0.2
    np.testing.assert_allclose(w, [1.0 - 0.18 - 0.2])
    opt.step(w, np.array([1.0]), s, lr=0.1)  # Δ = -0.28; w += 0.9·(-0.28) - 0.1
    np.testing.assert_allclose(w, [1.0 - 0.38 - 0.252 - 0.1])


def test_adam_one_step_by_hand():
    # First step: m̂ = g, v̂ = g², so w moves by lr·g/(|g| + ε).
    w = np.array([1.0, 1.0, 1.0])
    g = np.array([0.5, -3.0, 0.0])
    opt = Adam(eps=1e-8)
    s = opt.init(w)
    opt.step(w, g, s, lr=0.01)
    np.testing.assert_allclose(w, 1.0 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    assert s.step == 1
    np.testing.assert_allclose(s.m, 0.1 * g)
    np.testing.assert_allclose(s.v, 0.001 * g**2)


def test_adam_two_steps_by_hand():
    b1, b2, eps, lr = 0.8, 0.9, 1e-3, 0.1
    g1, g2 = 2.0, -1.0
    m = (1 - b1) * g1
    v = (1 - b2) * g1**2
    w = 1.0 - lr / (1 - b1) * m / (math.sqrt(v) / math.sqrt(1 - b2) + eps)
    m = b1 * m + (1 - b1) * g2
    v = b2 * v + (1 - b2) * g2**2
    w -= lr / (1 - b1**2) * m / (math.sqrt(v) / math.sqrt(1 - b2**2) + eps)
    got, _ = _run(Adam((b1, b2), eps), np.array([1.0]), [np.array([g1]), np.array([g2])], [lr] * 2)
    np.testing.assert_allclose(got, [w], rtol=1e-13)


def test_adamw_decay_is_decoupled():
    # With g = 0 the moments stay 0 and only the decoupled decay moves w.
    w = np.array([2.0])
    opt = AdamW(weight_decay=0.1)
    opt.step(w, np.zeros(1), opt.init(w), lr=0.5)
    np.testing.assert_allclose(w, [2.0 * (1 - 0.5 * 0.1)])
    # Coupled Adam decay goes through the moments instead: a full normalised step.
    w = np.array([2.0])
    Adam(weight_decay=0.1).step(w, np.zeros(1), Adam().init(w), lr=0.5)
    np.testing.assert_allclose(w, [2.0 - 0.5 * 0.2 / (0.2 + 1e-8)])


def test_warmup_scales_stored_m_and_compounds():
    W, b1, b2, eps, lr = 4, 0.9, 0.999, 1e-8, 0.1
    grads = [1.0, 2.0, -1.0, 0.5, 3.0, 1.0]
    m = v = 0.0
    w = 0.0
    for t, g in enumerate(grads, start=1):
        m = (b1 * m + (1 - b1) * g) * min(t / W, 1.0)  # stored m is scaled: compounds
        v = b2 * v + (1 - b2) * g * g
        w -= lr / (1 - b1**t) * m / (math.sqrt(v) / math.sqrt(1 - b2**t) + eps)
    for per_entry in (False, True):
        opt = Adam(warmup_steps=W, per_entry_steps=per_entry)
        got, s = _run(opt, np.zeros(1), [np.array([g]) for g in grads], [lr] * len(grads))
        np.testing.assert_allclose(got, [w], rtol=1e-12)
        np.testing.assert_allclose(s.m, [m], rtol=1e-12)


def test_warmup_one_is_a_no_op():
    rng = np.random.default_rng(0)
    grads = list(rng.normal(size=(5, 7)))
    a, _ = _run(Adam(), np.ones(7), grads, [0.1] * 5)
    b, _ = _run(Adam(warmup_steps=1), np.ones(7), grads, [0.1] * 5)
    np.testing.assert_array_equal(a, b)


def test_per_entry_steps_equal_shared_steps_without_edits():
    rng = np.random.default_rng(1)
    grads = list(rng.normal(size=(6, 9)))
    lrs = [0.1, 0.05, 0.2, 0.1, 0.1, 0.01]
    for W in (0, 3):
        a, sa = _run(Adam(warmup_steps=W), np.ones(9), grads, lrs)
        b, sb = _run(Adam(warmup_steps=W, per_entry_steps=True), np.ones(9), grads, lrs)
        np.testing.assert_allclose(a, b, rtol=1e-14)
        assert sb.step.dtype == np.int32 and sa.step == 6 and np.all(sb.step == 6)


# ----------------------------------------------------------------- against torch.optim
def _torch_pairs():
    return [
        (SGD(), dict(cls="SGD")),
        (SGD(weight_decay=0.1), dict(cls="SGD", weight_decay=0.1)),
        (Momentum(0.9), dict(cls="SGD", momentum=0.9)),
        (Momentum(0.8, weight_decay=0.1), dict(cls="SGD", momentum=0.8, weight_decay=0.1)),
        (Nesterov(0.9), dict(cls="SGD", momentum=0.9, nesterov=True)),
        (
            Nesterov(0.8, weight_decay=0.1),
            dict(cls="SGD", momentum=0.8, nesterov=True, weight_decay=0.1),
        ),
        (Adam(), dict(cls="Adam")),
        (
            Adam((0.8, 0.99), 1e-6, 0.1),
            dict(cls="Adam", betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        ),
        (AdamW(), dict(cls="AdamW")),
        (
            AdamW((0.85, 0.95), weight_decay=0.2),
            dict(cls="AdamW", betas=(0.85, 0.95), weight_decay=0.2),
        ),
        (Adam(per_entry_steps=True), dict(cls="Adam")),
    ]


@pytest.mark.parametrize(("opt", "spec"), _torch_pairs(), ids=lambda x: repr(x))
def test_matches_torch_optim_float64(opt, spec):
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    w0 = rng.normal(size=(4, 6))
    grads = list(rng.normal(size=(12, 4, 6)))
    lr = 0.05
    spec = dict(spec)
    p = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    topt = getattr(torch.optim, spec.pop("cls"))([p], lr=lr, **spec)
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    ours, _ = _run(opt, w0, grads, [lr] * len(grads))
    np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-11, atol=1e-13)


def test_adam_matches_torch_with_changing_lr():
    # Adam reads lr afresh every step, so a schedule gives the same result as torch's.
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=10)
    grads = list(rng.normal(size=(8, 10)))
    lrs = [0.1 / (1 + i) for i in range(8)]
    p = torch.nn.Parameter(torch.tensor(w0))
    topt = torch.optim.AdamW([p], lr=lrs[0], weight_decay=0.1)
    for g, lr in zip(grads, lrs, strict=True):
        topt.param_groups[0]["lr"] = lr
        p.grad = torch.tensor(g)
        topt.step()
    ours, _ = _run(AdamW(weight_decay=0.1), w0, grads, lrs)
    np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-11)


def test_momentum_form_differs_from_torch_when_lr_changes():
    # Documented: the velocity form keeps the old lr inside Δ; torch rescales its buffer.
    grads = [np.array([1.0]), np.array([1.0])]
    ours, _ = _run(Momentum(0.9), np.zeros(1), grads, [0.1, 0.2])
    torch_form = -(0.1 * 1.0 + 0.2 * (0.9 * 1.0 + 1.0))
    np.testing.assert_allclose(ours, [-(0.1 + (0.9 * 0.1 + 0.2))])
    assert not np.isclose(ours[0], torch_form)


# ----------------------------------------------------------------- dtype, layout, allocation
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_shape_and_float64_agreement(opt, dtype):
    rng = np.random.default_rng(4)
    w0 = rng.normal(size=(3, 5))
    grads = list(rng.normal(size=(4, 3, 5)))
    w = w0.astype(dtype)
    state = opt.init(w)
    for g in grads:
        opt.step(w, g.astype(dtype), state, lr=0.03)
    assert w.dtype == dtype and w.shape == (3, 5)
    for f in dataclasses.fields(state):
        arr = getattr(state, f.name)
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
            assert arr.dtype == dtype and arr.shape == (3, 5)
    ref, _ = _run(opt, w0, grads, [0.03] * 4)
    tol = 1e-5 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(w, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("opt", [Momentum(), Adam(), Adam(per_entry_steps=True)], ids=repr)
def test_step_allocates_nothing_of_size_n(opt):
    n = 200_000
    w = np.ones(n, np.float32)
    g = np.full(n, 0.5, np.float32)
    state = opt.init(w)
    opt.step(w, g, state, lr=0.1)  # compile outside the measurement
    tracemalloc.start()
    opt.step(w, g, state, lr=0.1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < n  # well below one float32 temporary (4n bytes)


# ----------------------------------------------------------------- sparse = masked dense
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=IDS)
def test_sparse_update_equals_dense_update_on_the_mask(opt):
    rng = np.random.default_rng(5)
    W = CSRMatrix.random(
        (7, 9), density=0.4, rng=rng, dtype=np.float64, values=lambda n, r: r.normal(size=n)
    )
    D = W.toarray()
    mask = np.zeros(D.shape, dtype=bool)
    mask[W.row_of, W.indices] = True
    s_sparse, s_dense = opt.init(W.data), opt.init(D)
    for _ in range(5):
        G = rng.normal(size=D.shape)
        lr = float(rng.uniform(0.01, 0.1))
        opt.step(W.data, G[W.row_of, W.indices], s_sparse, lr=lr)
        opt.step(D, G, s_dense, lr=lr)
    np.testing.assert_allclose(W.data, D[mask], rtol=1e-14)
    np.testing.assert_allclose(W.toarray()[mask], D[mask], rtol=1e-14)


# ----------------------------------------------------------------- topology edits
@st.composite
def _edits(draw):
    rows = draw(st.integers(1, 8))
    cols = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    nnz = draw(st.integers(0, rows * cols))
    W = CSRMatrix.random((rows, cols), nnz=nnz, rng=rng, dtype=np.float64)
    n_drop = draw(st.integers(0, nnz))
    drop = rng.choice(nnz, size=n_drop, replace=False)
    stored = np.zeros(rows * cols, dtype=bool)
    stored[W.keys] = True
    stored[W.keys[drop]] = False
    free = np.flatnonzero(~stored)
    n_add = draw(st.integers(0, len(free)))
    add = rng.choice(free, size=n_add, replace=False)
    return W, drop, add // cols, add % cols, seed


@pytest.mark.parametrize(
    "opt", [Momentum(), Nesterov(), Adam(), Adam(per_entry_steps=True), AdamW()], ids=repr
)
@given(case=_edits())
def test_remap_state_keeps_kept_and_fills_inserted(opt, case):
    W, drop, add_r, add_c, seed = case
    rng = np.random.default_rng(seed)
    state = opt.init(W.data)
    for _ in range(2):
        opt.step(W.data, rng.normal(size=W.nnz), state, lr=0.1)
    W2, remap = W.edit(drop, add_r, add_c)
    new = remap_state(state, remap)
    kept, ins, src = remap.kept, remap.inserted, remap.source
    for f in dataclasses.fields(new):
        old_v, new_v = getattr(state, f.name), getattr(new, f.name)
        if f.metadata.get("per_entry"):
            assert len(new_v) == W2.nnz and new_v.dtype == old_v.dtype
            np.testing.assert_array_equal(new_v[kept], old_v[src[kept]])
            np.testing.assert_array_equal(new_v[ins], f.metadata["fill"])
        else:
            assert new_v == old_v  # shared step counter is unchanged by an edit
    opt.step(W2.data, rng.normal(size=W2.nnz), new, lr=0.1)  # state fits the new topology


def test_step_on_stale_state_names_the_field():
    W = CSRMatrix.random((4, 4), nnz=6, rng=np.random.default_rng(0), dtype=np.float64)
    opt = Adam()
    state = opt.init(W.data)
    W2, _ = W.edit(drop=[0])
    with pytest.raises(ValueError, match=r"'m'.*remap_state"):
        opt.step(W2.data, np.zeros(W2.nnz), state, lr=0.1)


@pytest.mark.parametrize("warmup", [0, 4])
def test_smet_inserted_entry_restarts_bias_correction(warmup):
    rng = np.random.default_rng(6)
    W = CSRMatrix.random(
        (5, 6), nnz=12, rng=rng, dtype=np.float64, values=lambda n, r: r.normal(size=n)
    )
    opt = Adam(per_entry_steps=True, warmup_steps=warmup)
    state = opt.init(W.data)
    for _ in range(20):
        opt.step(W.data, rng.normal(size=W.nnz), state, lr=0.01)
    free = np.flatnonzero(~np.isin(np.arange(30), W.keys))[:3]
    W2, remap = W.edit(
        drop=[0, 5], add_rows=free // 6, add_cols=free % 6, add_values=[0.3, -0.2, 0.1]
    )
    state = remap_state(state, remap)
    assert isinstance(state, AdamPerEntryState)
    np.testing.assert_array_equal(state.step[remap.inserted], 0)
    assert np.all(state.step[remap.kept] == 20)
    # Next steps of the inserted entries = a fresh Adam's steps on those entries alone.
    ins = remap.inserted
    fresh_w = W2.data[ins].copy()
    fresh_s = opt.init(fresh_w)
    for _ in range(3):
        g = rng.normal(size=W2.nnz)
        opt.step(W2.data, g, state, lr=0.01)
        opt.step(fresh_w, g[ins], fresh_s, lr=0.01)
        np.testing.assert_allclose(W2.data[ins], fresh_w, rtol=1e-14)
    # With one shared counter the first step of a new entry is inflated (≈3.16x at large t).
    shared = Adam()
    w = np.zeros(2)
    s = AdamState(np.zeros(2), np.zeros(2), step=1000)
    shared.step(w, np.array([1.0, -1.0]), s, lr=0.01)
    t = 1001
    factor = 0.1 / (1 - 0.9**t) * math.sqrt((1 - 0.999**t) / 0.001)
    np.testing.assert_allclose(np.abs(w), 0.01 * factor, rtol=1e-6)
    assert 2.5 < factor < 3.17


# ----------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=IDS)
def test_state_arrays_round_trip(opt, tmp_path):
    rng = np.random.default_rng(7)
    w = rng.normal(size=11)
    state = opt.init(w)
    opt.step(w, rng.normal(size=11), state, lr=0.1)
    path = tmp_path / "s.npz"
    np.savez(path, **{k: np.asarray(v) for k, v in state_arrays(state).items()})
    with np.load(path) as z:
        back = state_from_arrays(type(state), dict(z))
    for f in dataclasses.fields(state):
        a, b = getattr(state, f.name), getattr(back, f.name)
        np.testing.assert_array_equal(a, b)
        assert type(a) is type(b)
    g = rng.normal(size=11)
    w1, w2 = w.copy(), w.copy()
    opt.step(w1, g, state, lr=0.1)
    opt.step(w2, g, back, lr=0.1)
    np.testing.assert_array_equal(w1, w2)


# ----------------------------------------------------------------- validation and registry
@pytest.mark.parametrize(
    ("make", "bad"),
    [
        (lambda: SGD(weight_decay=-1.0), "weight_decay"),
        (lambda: Momentum(momentum=1.0), "momentum"),
        (lambda: Nesterov(momentum=-0.1), "momentum"),
        (lambda: Adam(betas=(0.9, 1.0)), r"betas\[1\]"),
        (lambda: Adam(betas=(0.9,)), "betas"),
        (lambda: Adam(eps=-1e-8), "eps"),
        (lambda: Adam(warmup_steps=-1), "warmup_steps"),
        (lambda: Adam(warmup_steps=2.5), "warmup_steps"),
        (lambda: AdamW(weight_decay=float("nan")), "weight_decay"),
    ],
)
def test_bad_config_raises_naming_the_value(make, bad):
    with pytest.raises(ValueError, match=bad):
        make()


@pytest.mark.parametrize("opt", [SGD(), Momentum(), Adam()], ids=repr)
def test_bad_step_arguments(opt):
    w = np.zeros(4)
    state = opt.init(w)
    with pytest.raises(ValueError, match="lr"):
        opt.step(w, np.zeros(4), state, lr=-0.1)
    with pytest.raises(ValueError, match="lr"):
        opt.step(w, np.zeros(4), state, lr=float("inf"))
    with pytest.raises(ValueError, match="shape"):
        opt.step(w, np.zeros(5), state, lr=0.1)
    with pytest.raises(ValueError, match="contiguous"):
        opt.step(np.zeros((4, 2))[:, 0], np.zeros(4), state, lr=0.1)
    with pytest.raises(ValueError, match="float32 or float64"):
        opt.step(np.zeros(4, dtype=np.int64), np.zeros(4), state, lr=0.1)


def test_state_kind_must_match_per_entry_steps():
    w = np.zeros(3)
    with pytest.raises(ValueError, match="AdamPerEntryState"):
        Adam(per_entry_steps=True).step(w, w, Adam().init(w), lr=0.1)
    with pytest.raises(ValueError, match="AdamState"):
        Adam().step(w, w, Adam(per_entry_steps=True).init(w), lr=0.1)


def test_registry_and_configs():
    assert set(REGISTRY) == {
        "sgd",
        "gradient_descent",
        "momentum",
        "nesterov",
        "adam",
        "adamw",
        "smet",
    }
    for name, cls in REGISTRY.items():
        assert cls.name == name or (name == "gradient_descent" and cls is SGD)
        opt = cls()
        assert not hasattr(opt, "lr")
        with pytest.raises(dataclasses.FrozenInstanceError):
            opt.weight_decay = 1.0  # type: ignore[misc]
    assert AdamW().weight_decay == 0.01 and Adam().weight_decay == 0.0
    assert Adam(betas=[0.5, 0.6]).betas == (0.5, 0.6)
    assert isinstance(Momentum().init(np.zeros(2)), MomentumState)
    assert isinstance(Nesterov().init(np.zeros(2)), MomentumState)
