"""The backend seam: NumPy/Numba and torch implementations against each other and a dense
reference."""

import contextlib

import numpy as np
import pytest

from sprig.backend import NumpyOps, get_ops
from sprig.matrices import CSRMatrix
from sprig.optimizers import Adam, AdamW, Momentum, Nesterov
from sprig.optimizers.adam import AdamPerEntryState, AdamState
from sprig.optimizers.momentum import MomentumState


def _backends():
    out = [NumpyOps()]
    with contextlib.suppress(ImportError):  # torch not installed: NumPy only
        out.append(get_ops("torch"))
    return out


BACKENDS = _backends()
IDS = [b.name for b in BACKENDS]


def _arr(ops, a):
    if ops.name == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(a).copy())
    return np.ascontiguousarray(a).copy()


def _np(a):
    return a.numpy() if hasattr(a, "numpy") else np.asarray(a)


@pytest.mark.parametrize("ops", BACKENDS, ids=IDS)
@pytest.mark.parametrize(("shape", "nnz", "n"), [((7, 9), 20, 5), ((4, 3), 0, 2), ((5, 6), 30, 1)])
def test_products_match_dense(ops, shape, nnz, n):
    rng = np.random.default_rng(nnz)
    W = CSRMatrix.random(
        shape, nnz=nnz, rng=rng, dtype=np.float64, values=lambda k, r: r.standard_normal(k)
    )
    D = W.toarray()
    Xt, dYt, b = (
        rng.standard_normal((shape[1], n)),
        rng.standard_normal((shape[0], n)),
        rng.standard_normal(shape[0]),
    )
    topo, vals = ops.topology(W), ops.values(W)
    np.testing.assert_allclose(
        _np(ops.spmm(topo, vals, _arr(ops, Xt), _arr(ops, b))), D @ Xt + b[:, None], atol=1e-12
    )
    np.testing.assert_allclose(_np(ops.spmm_t(topo, vals, _arr(ops, dYt))), D.T @ dYt, atol=1e-12)
    np.testing.assert_allclose(
        _np(ops.sddmm(topo, _arr(ops, dYt), _arr(ops, Xt))),
        (dYt @ Xt.T)[W.row_of, W.indices],
        atol=1e-12,
    )
    assert ops.to_csr(topo, vals).nnz == nnz


@pytest.mark.parametrize("ops", BACKENDS, ids=IDS)
def test_edit_and_remap_match_csr_edit(ops):
    rng = np.random.default_rng(3)
    W = CSRMatrix.random(
        (6, 8), nnz=20, rng=rng, dtype=np.float64, values=lambda k, r: r.standard_normal(k)
    )
    drop = np.array([0, 5, 19])
    free = np.setdiff1d(np.arange(48), W.keys)[:4]
    W2, remap = W.edit(drop, free // 8, free % 8)
    topo2, remap_b = ops.edit(ops.topology(W), drop, free // 8, free % 8)
    np.testing.assert_array_equal(remap_b.source, remap.source)
    np.testing.assert_array_equal(_np(ops.to_csr(topo2, _arr(ops, W2.data)).indices), W2.indices)
    np.testing.assert_array_equal(
        _np(ops.remap(_arr(ops, W.data), remap, 0)), remap.apply(W.data, 0)
    )


@pytest.mark.parametrize("ops", BACKENDS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_steps_equal_sprig_optimizers(ops, dtype):
    rng = np.random.default_rng(0)
    n = 50
    tol = {"rtol": 2e-6, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    for case in ("sgd", "momentum", "nesterov", "adam", "adamw", "smet"):
        w0 = rng.standard_normal(n).astype(dtype)
        w_ref, w = w0.copy(), _arr(ops, w0)
        if case in ("momentum", "nesterov"):
            cls = Momentum if case == "momentum" else Nesterov
            opt = cls(momentum=0.8, weight_decay=0.01)
            st, d = opt.init(w_ref), _arr(ops, np.zeros(n, dtype))
        elif case != "sgd":
            opt = {
                "adam": Adam(weight_decay=0.01),
                "adamw": AdamW(),
                "smet": Adam(per_entry_steps=True, warmup_steps=3),
            }[case]
            st = opt.init(w_ref)
            m, v = _arr(ops, np.zeros(n, dtype)), _arr(ops, np.zeros(n, dtype))
            steps = _arr(ops, np.zeros(n, np.int32)) if case == "smet" else 0
        for _ in range(4):
            g = rng.standard_normal(n).astype(dtype)
            if case == "sgd":
                ops.sgd_step(w, _arr(ops, g), lr=0.1, weight_decay=0.01)
                w_ref -= dtype(0.1) * (g + dtype(0.01) * w_ref)
            elif case in ("momentum", "nesterov"):
                ops.momentum_step(
                    w,
                    _arr(ops, g),
                    d,
                    lr=0.1,
                    momentum=0.8,
                    weight_decay=0.01,
                    nesterov=case == "nesterov",
                )
                opt.step(w_ref, g, st, lr=0.1)
            else:
                if case != "smet":
                    steps += 1
                ops.adam_step(
                    w,
                    _arr(ops, g),
                    m,
                    v,
                    steps,
                    lr=0.01,
                    betas=opt.betas,
                    eps=opt.eps,
                    weight_decay=opt.weight_decay,
                    decoupled=case == "adamw",
                    warmup_steps=opt.warmup_steps,
                )
                opt.step(w_ref, g, st, lr=0.01)
            np.testing.assert_allclose(_np(w), w_ref, **tol, err_msg=case)
        if case in ("adam", "adamw", "smet"):
            np.testing.assert_allclose(_np(m), st.m, **tol)
            assert isinstance(st, AdamPerEntryState if case == "smet" else AdamState)
        if case in ("momentum", "nesterov"):
            assert isinstance(st, MomentumState)
            np.testing.assert_allclose(_np(d), st.delta, **tol)


def test_get_ops_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown backend 'jax'; allowed: 'numpy', 'torch'"):
        get_ops("jax")
