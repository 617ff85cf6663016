"""Pruning at initialisation: exact counts, kept values, SNIP/GraSP/SynFlow against references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sprig.activations import ReLU, Tanh
from sprig.data.batching import Batches
from sprig.data.loaders import load_digits
from sprig.layers import ActivationLayer, BatchNorm, Dropout, Linear, SparseLinear
from sprig.losses import SoftmaxCrossEntropy
from sprig.matrices import nnz_from_density
from sprig.models import MLP
from sprig.sparsity.init_pruning import (
    INIT_PRUNING_METHODS,
    grasp_scores,
    hessian_gradient_product,
    prune_at_init,
    snip_scores,
    synflow_scores,
)


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    return ds.x_train / np.float32(16.0), ds.y_train


def _batches(digits, n, dtype=np.float32, features=None, seed=0):
    X, y = digits
    if features is not None:
        X = np.ascontiguousarray(X[:, :features])
    b = Batches(X.astype(dtype), y, n, seed=seed, num_classes=10, dtype=dtype)
    return [(bt.Xt, bt.Tt) for bt in itertools.islice(b.epoch(0), 4)]


def _mlp(sizes, *, act=ReLU, dtype=np.float32, seed=0, dropout=None):
    rng = np.random.default_rng(seed)
    layers = []
    for j in range(len(sizes) - 1):
        layers.append(Linear(sizes[j], sizes[j + 1], rng=rng, dtype=dtype))
        if j < len(sizes) - 2:
            layers.append(ActivationLayer(act(), sizes[j + 1], dtype=dtype))
            if dropout is not None:
                layers.append(Dropout(sizes[j + 1], dropout, np.random.default_rng(7), dtype))
    model = MLP(layers)
    for la in model.linear_layers().values():  # non-zero biases: pruning must keep them
        la.bias[...] = rng.uniform(-0.1, 0.1, la.out_features)
    return model


def _dense(layer):
    return layer.weight.toarray() if isinstance(layer, SparseLinear) else layer.weight


def _kept_keys(layer):
    return np.asarray(layer.weight.keys)


def _topk_keys(priority, k):
    order = np.argsort(-priority.reshape(-1), kind="stable")
    return np.sort(order[:k])


def _check_result(model, pruned, densities):
    """Exact nnz, kept values = initial values, biases copied, other layers reused."""
    lin = model.linear_layers()
    new = pruned.linear_layers()
    assert list(lin) == list(new)
    for (i, la), d in zip(lin.items(), densities, strict=True):
        nl = new[i]
        if d == 1.0:
            assert nl is la
            continue
        assert isinstance(nl, SparseLinear)
        assert nl.nnz == nnz_from_density((la.out_features, la.in_features), d)
        W0 = _dense(la)
        np.testing.assert_array_equal(nl.weight.data, W0[nl.weight.row_of, nl.weight.indices])
        np.testing.assert_array_equal(nl.bias, la.bias)
        assert nl.bias is not la.bias
    for i, layer in enumerate(model.net):
        if i not in lin:
            assert pruned.net[i] is layer


# ----------------------------------------------------------------------------- exact counts
@pytest.mark.parametrize("method", INIT_PRUNING_METHODS)
@pytest.mark.parametrize("densities", [(0.1, 0.5), (1.0, 0.3), (0.05, 1.0), (0.37, 0.999)])
def test_exact_nnz_and_values(digits, method, densities):
    model = _mlp([64, 32, 10])
    before = {i: _dense(la).copy() for i, la in model.linear_layers().items()}
    pruned = prune_at_init(
        model, method, densities, data=_batches(digits, 64), rng=np.random.default_rng(1),
        iterations=None if method != "synflow" else 10,
    )  # fmt: skip
    _check_result(model, pruned, densities)
    for i, la in model.linear_layers().items():  # the input model is untouched
        np.testing.assert_array_equal(_dense(la), before[i])
    pruned.predict(digits[0][:5])


@pytest.mark.parametrize("method", ["snip", "grasp", "synflow"])
def test_global_scope_keeps_total(digits, method):
    model = _mlp([64, 32, 16, 10])
    dens = (0.2, 0.4, 1.0)
    pruned = prune_at_init(
        model, method, dens, data=_batches(digits, 64), scope="global",
        iterations=None if method != "synflow" else 5,
    )  # fmt: skip
    lin = model.linear_layers()
    new = pruned.linear_layers()
    total = sum(
        nnz_from_density((la.out_features, la.in_features), d)
        for la, d in zip(lin.values(), dens, strict=True)
        if d < 1
    )
    assert sum(new[i].nnz for i in list(lin)[:2]) == total
    assert new[list(lin)[2]] is lin[list(lin)[2]]


def test_all_dense_returns_same_layers():
    model = _mlp([8, 4, 3])
    pruned = prune_at_init(model, "random", [1.0, 1.0], rng=np.random.default_rng(0))
    assert pruned is not model
    assert all(a is b for a, b in zip(pruned.net, model.net, strict=True))


# ----------------------------------------------------------------------------- random
def test_random_deterministic_given_rng():
    model = _mlp([64, 32, 10])
    a = prune_at_init(model, "random", [0.2, 0.5], rng=np.random.default_rng(3))
    b = prune_at_init(model, "random", [0.2, 0.5], rng=np.random.default_rng(3))
    c = prune_at_init(model, "random", [0.2, 0.5], rng=np.random.default_rng(4))
    for i in model.linear_layers():
        np.testing.assert_array_equal(_kept_keys(a.net[i]), _kept_keys(b.net[i]))
    assert not np.array_equal(_kept_keys(a.net[0]), _kept_keys(c.net[0]))


# ----------------------------------------------------------------------------- SNIP
def _numpy_grads(model, Xt, Tt):
    """Independent float64 backprop for Linear-ReLU-...-Linear with mean softmax CE."""
    lin = [la for la in model.net if isinstance(la, Linear)]
    acts = [Xt.astype(np.float64)]
    zs = []
    for j, la in enumerate(lin):
        Z = la.weight.astype(np.float64) @ acts[-1] + la.bias[:, None]
        zs.append(Z)
        acts.append(np.maximum(Z, 0) if j < len(lin) - 1 else Z)
    Y = acts[-1]
    P = np.exp(Y - Y.max(axis=0))
    P /= P.sum(axis=0)
    dY = (P - Tt) / Xt.shape[1]
    grads = []
    for j in range(len(lin) - 1, -1, -1):
        grads.append(dY @ acts[j].T)
        dY = lin[j].weight.astype(np.float64).T @ dY
        if j > 0:
            dY = dY * (zs[j - 1] > 0)
    return grads[::-1]


def test_snip_equals_bruteforce(digits):
    model = _mlp([64, 12, 10], dtype=np.float64, seed=2)
    batches = _batches(digits, 50, np.float64)[:2]
    g = [
        (a + b) / 2
        for a, b in zip(*(_numpy_grads(model, Xt, Tt) for Xt, Tt in batches), strict=True)
    ]
    lin = list(model.linear_layers().items())
    scores = snip_scores(model, batches, iterations=2)
    for (i, la), gi in zip(lin, g, strict=True):
        np.testing.assert_allclose(scores[i], np.abs(la.weight * gi), rtol=1e-10, atol=1e-14)
    dens = (0.1, 0.3)
    pruned = prune_at_init(model, "snip", dens, data=batches, iterations=2)
    brute = {}
    for (i, la), gi, d in zip(lin, g, dens, strict=True):
        k = nnz_from_density(la.weight.shape, d)
        brute[i] = _topk_keys(np.abs(la.weight * gi), k)
        np.testing.assert_array_equal(_kept_keys(pruned.net[i]), brute[i])
    # global: one top-k over both layers
    glob = prune_at_init(model, "snip", dens, data=batches, iterations=2, scope="global")
    allp = np.concatenate([np.abs(la.weight * gi).reshape(-1) for (_, la), gi in
                           zip(lin, g, strict=True)])  # fmt: skip
    total = sum(nnz_from_density(la.weight.shape, d) for (_, la), d in zip(lin, dens, strict=True))
    sel = _topk_keys(allp, total)
    n0 = lin[0][1].weight.size
    np.testing.assert_array_equal(_kept_keys(glob.net[lin[0][0]]), sel[sel < n0])
    np.testing.assert_array_equal(_kept_keys(glob.net[lin[1][0]]), sel[sel >= n0] - n0)


def test_snip_iterations_uses_first_batches(digits):
    model = _mlp([64, 16, 10])
    batches = _batches(digits, 32)
    one = prune_at_init(model, "snip", [0.2, 0.2], data=batches, iterations=1)
    first = prune_at_init(model, "snip", [0.2, 0.2], data=batches[:1])
    gen = prune_at_init(model, "snip", [0.2, 0.2], data=lambda: iter(batches))
    single = prune_at_init(model, "snip", [0.2, 0.2], data=batches[0])
    for m in (first, gen, single):
        for i in model.linear_layers():
            np.testing.assert_array_equal(_kept_keys(m.net[i]), _kept_keys(one.net[i]))


# ----------------------------------------------------------------------------- GraSP
def _flat_grad(model, batches, w_flat):
    """Mean loss gradient (float64, flat over all weights) at weights ``w_flat``."""
    lin = list(model.linear_layers().values())
    off = 0
    for la in lin:
        la.weight[...] = w_flat[off : off + la.weight.size].reshape(la.weight.shape)
        off += la.weight.size
    loss = SoftmaxCrossEntropy()
    acc = np.zeros_like(w_flat)
    for Xt, Tt in batches:
        Y, bp = model.forward_fm(Xt, train=True)
        bp(loss.grad(Y, Tt))
        acc += np.concatenate([la.weight_grad.reshape(-1) for la in lin])
    return acc / len(batches)


def test_grasp_hg_matches_explicit_hessian(digits):
    model = _mlp([8, 5, 10], act=Tanh, dtype=np.float64, seed=5)
    batches = _batches(digits, 40, np.float64, features=8)[:2]
    g, Hg = hessian_gradient_product(model, batches, iterations=2)
    lin = model.linear_layers()
    w0 = np.concatenate([la.weight.reshape(-1) for la in lin.values()])
    n, h = w0.size, 1e-5
    H = np.empty((n, n))
    for j in range(n):  # explicit Hessian, column j by central differences of gradients
        e = np.zeros(n)
        e[j] = h
        H[:, j] = (_flat_grad(model, batches, w0 + e) - _flat_grad(model, batches, w0 - e)) / (
            2 * h
        )
    _flat_grad(model, batches, w0)  # restore the weights
    H = (H + H.T) / 2
    g_flat = np.concatenate([g[i].reshape(-1) for i in lin])
    np.testing.assert_allclose(g_flat, _flat_grad(model, batches, w0), rtol=1e-12, atol=1e-15)
    ref = H @ g_flat
    got = np.concatenate([Hg[i].reshape(-1) for i in lin])
    scale = np.abs(ref).max()
    assert scale > 0
    assert np.abs(got - ref).max() < 1e-5 * scale
    # GraSP scores and the kept direction: the smallest S = -w ⊙ Hg are kept
    S = grasp_scores(model, batches, iterations=2)
    dens = (0.3, 0.5)
    pruned = prune_at_init(model, "grasp", dens, data=batches, iterations=2)
    for (i, la), d in zip(lin.items(), dens, strict=True):
        np.testing.assert_allclose(S[i], -la.weight * Hg[i], rtol=1e-12)
        k = nnz_from_density(la.weight.shape, d)
        np.testing.assert_array_equal(_kept_keys(pruned.net[i]), _topk_keys(-S[i], k))
    assert not np.array_equal(  # not the same as keeping the largest scores
        _kept_keys(pruned.net[0]), _topk_keys(S[0], nnz_from_density(S[0].shape, 0.3))
    )


def test_grasp_float32_model_scored_in_float64(digits):
    """A float32 ReLU model is scored in float64: no spikes from units crossing 0."""
    m32 = _mlp([64, 128, 64, 10], seed=3)
    m64 = _mlp([64, 128, 64, 10], dtype=np.float64, seed=3)
    for a, b in zip(m32.linear_layers().values(), m64.linear_layers().values(), strict=True):
        b.weight[...] = a.weight
        b.bias[...] = a.bias
    b32 = _batches(digits, 128)[:2]
    b64 = [(X.astype(np.float64), T.astype(np.float64)) for X, T in b32]
    _, h32 = hessian_gradient_product(m32, b32, iterations=2)
    _, h64 = hessian_gradient_product(m64, b64, iterations=2, eps=3e-9)
    for i in h32:
        assert np.abs(h32[i] - h64[i]).max() < 1e-5 * np.abs(h64[i]).max()


def test_grasp_pairs_dropout_masks(digits):
    """Both gradient passes see the same dropout masks: Hg is stable in the step size."""
    model = _mlp([64, 16, 10], dropout=0.3, seed=4)
    batches = _batches(digits, 64)[:2]
    _, h1 = hessian_gradient_product(model, batches, iterations=2)
    _, h2 = hessian_gradient_product(model, batches, iterations=2)
    _, h3 = hessian_gradient_product(model, batches, iterations=2, eps=1e-6)
    for i in h1:
        np.testing.assert_array_equal(h1[i], h2[i])
        assert np.abs(h1[i] - h3[i]).max() < 1e-4 * np.abs(h1[i]).max()


class _Identity:
    """A layer that cannot be promoted to float64 (no ``__dict__``)."""

    __slots__ = ("dtype", "features")

    def __init__(self, features, dtype):
        self.features, self.dtype = features, np.dtype(dtype)

    def forward(self, X, *, train, input_grad=True):
        return X.copy(), lambda dY: dY.copy()

    def params(self):
        return {}


def test_unpromotable_layer_falls_back_to_model_dtype(digits):
    rng = np.random.default_rng(0)
    model = MLP([Linear(64, 16, rng=rng), _Identity(16, np.float32), ActivationLayer(ReLU(), 16),
                 Linear(16, 10, rng=rng)])  # fmt: skip
    for method in INIT_PRUNING_METHODS:
        pruned = prune_at_init(
            model, method, [0.3, 0.5], data=_batches(digits, 64), rng=rng, iterations=2
        )
        _check_result(model, pruned, [0.3, 0.5])


def test_input_model_state_untouched(digits):
    rng = np.random.default_rng(0)
    model = MLP([
        Linear(64, 32, rng=rng), BatchNorm(32), ActivationLayer(ReLU(), 32),
        Dropout(32, 0.2, np.random.default_rng(5)), Linear(32, 10, rng=rng),
    ])  # fmt: skip
    state = {k: v.copy() for k, v in model.state_dict().items()}
    grads = {k: p.grad.copy() for k, p in model.params().items()}
    rng_state = model.net[3].rng.bit_generator.state
    for method in ("snip", "grasp"):
        pruned = prune_at_init(model, method, [0.3, 0.5], data=_batches(digits, 64), iterations=2)
        _check_result(model, pruned, [0.3, 0.5])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    for k, p in model.params().items():
        np.testing.assert_array_equal(p.grad, grads[k])
    assert model.net[3].rng.bit_generator.state == rng_state
    # batch norm at initialisation is positively homogeneous: SynFlow accepts it
    pruned = prune_at_init(model, "synflow", [0.3, 0.5], iterations=3)
    _check_result(model, pruned, [0.3, 0.5])


# ----------------------------------------------------------------------------- SynFlow
def _synflow_reference(model, masks=None):
    """Independent float64: R = 1ᵀ|W_L|…|W_1|1, s_l = |W_l| ⊙ (δ_l a_{l-1}ᵀ)."""
    idx = list(model.linear_layers())
    A = [np.abs(_dense(model.net[i])).astype(np.float64) for i in idx]
    if masks is not None:
        A = [a * masks.get(i, 1) for a, i in zip(A, idx, strict=True)]
    acts = [np.ones(A[0].shape[1])]
    for a in A:
        acts.append(a @ acts[-1])
    out = {}
    delta = np.ones(A[-1].shape[0])
    for j in range(len(A) - 1, -1, -1):
        out[idx[j]] = A[j] * np.outer(delta, acts[j])
        delta = A[j].T @ delta
    R = acts[-1].sum()
    return out, R


def test_synflow_scores_match_reference():
    model = _mlp([8, 6, 5, 3], dtype=np.float64, seed=6)
    ref, R = _synflow_reference(model)
    got = synflow_scores(model)
    for i in ref:
        np.testing.assert_allclose(got[i], ref[i], rtol=1e-12)
    # conservation: every layer's scores sum to R (Tanaka et al., Theorem 1)
    for i in ref:
        np.testing.assert_allclose(got[i].sum(), R, rtol=1e-12)
    masks = {0: np.random.default_rng(0).random((6, 8)) < 0.5}
    ref_m, _ = _synflow_reference(model, masks)
    got_m = synflow_scores(model, masks)
    for i in ref_m:
        np.testing.assert_allclose(got_m[i], ref_m[i], rtol=1e-12)


def test_synflow_float32_model_scores_in_float64():
    m32 = _mlp([8, 6, 3], seed=8)
    ref, _ = _synflow_reference(m32)
    got = synflow_scores(m32)
    for i in ref:
        assert got[i].dtype == np.float64
        np.testing.assert_allclose(got[i], ref[i], rtol=1e-12)


def test_synflow_no_overflow_in_log_domain():
    n, L, c = 32, 8, 1e40
    rng = np.random.default_rng(0)
    layers = []
    for j in range(L):
        la = Linear(n, n, rng=rng, dtype=np.float64)
        la.weight[...] = c * np.where(rng.random((n, n)) < 0.5, -1.0, 1.0)
        layers.append(la)
        if j < L - 1:
            layers.append(ActivationLayer(ReLU(), n, dtype=np.float64))
    model = MLP(layers)
    logs = synflow_scores(model, log=True)
    expected = np.log(c) + (L - 1) * np.log(n * c)  # every score equals c (n c)^(L-1)
    assert expected > np.log(np.finfo(np.float64).max)
    for v in logs.values():
        np.testing.assert_allclose(v, expected, rtol=1e-12)
    pruned = prune_at_init(model, "synflow", [0.5] * L, iterations=3)
    assert [la.nnz for la in pruned.linear_layers().values()] == [512] * L


def test_synflow_iterative_matches_manual_rounds():
    model = _mlp([8, 6, 5, 3], dtype=np.float64, seed=9)
    dens, T = (0.3, 0.5, 1.0), 4
    pruned = prune_at_init(model, "synflow", dens, iterations=T)
    idx = list(model.linear_layers())
    keep = {i: np.arange(model.net[i].weight.size) for i in idx[:2]}
    for t in range(1, T + 1):
        masks = {}
        for i in keep:
            m = np.zeros(model.net[i].weight.size, bool)
            m[keep[i]] = True
            masks[i] = m.reshape(model.net[i].weight.shape)
        sc, _ = _synflow_reference(model, masks)
        for i, d in zip(idx[:2], dens[:2], strict=True):
            size = model.net[i].weight.size
            k = nnz_from_density(model.net[i].weight.shape, d)
            kt = (
                k
                if t == T
                else min(size, max(k, int(np.floor(size * (k / size) ** (t / T) + 0.5))))
            )
            pri = np.full(size, -np.inf)
            pri[keep[i]] = sc[i].reshape(-1)[keep[i]]
            order = np.argsort(-pri, kind="stable")
            keep[i] = np.sort(order[:kt])
    for i in keep:
        np.testing.assert_array_equal(_kept_keys(pruned.net[i]), keep[i])


def test_synflow_is_data_independent(digits):
    model = _mlp([64, 32, 10])
    a = prune_at_init(model, "synflow", [0.1, 0.5], data=_batches(digits, 32, seed=1))
    b = prune_at_init(model, "synflow", [0.1, 0.5], data=_batches(digits, 100, seed=2))
    c = prune_at_init(model, "synflow", [0.1, 0.5])
    for i in model.linear_layers():
        np.testing.assert_array_equal(_kept_keys(a.net[i]), _kept_keys(b.net[i]))
        np.testing.assert_array_equal(_kept_keys(a.net[i]), _kept_keys(c.net[i]))


def test_synflow_rejects_non_homogeneous_layers():
    model = _mlp([8, 6, 3], act=Tanh, seed=1)
    with pytest.raises(ValueError, match="homogeneous"):
        prune_at_init(model, "synflow", [0.5, 0.5], iterations=2)


# ----------------------------------------------------------------------------- sparse input
@pytest.mark.parametrize("method", INIT_PRUNING_METHODS)
def test_sparse_input_layers(digits, method):
    rng = np.random.default_rng(0)
    model = MLP([
        SparseLinear(64, 32, density=0.5, rng=rng), ActivationLayer(ReLU(), 32),
        Linear(32, 10, rng=rng),
    ])  # fmt: skip
    stored = set(_kept_keys(model.net[0]).tolist())
    pruned = prune_at_init(
        model, method, [0.2, 0.5], data=_batches(digits, 64), rng=np.random.default_rng(1),
        iterations=None if method != "synflow" else 5,
    )  # fmt: skip
    _check_result(model, pruned, [0.2, 0.5])
    assert set(_kept_keys(pruned.net[0]).tolist()) <= stored
    with pytest.raises(ValueError, match="stores 1024"):
        prune_at_init(model, method, [0.6, 0.5], data=_batches(digits, 64))


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad", [0.0, 1.5, -0.2, float("nan")])
def test_density_out_of_range(bad):
    model = _mlp([8, 4, 3])
    with pytest.raises(ValueError, match=rf"densities\[1\].*{bad}"):
        prune_at_init(model, "random", [0.5, bad], rng=np.random.default_rng(0))


def test_wrong_number_of_densities():
    model = _mlp([8, 4, 3])
    with pytest.raises(ValueError, match="got 3 densities for 2 linear layers"):
        prune_at_init(model, "random", [0.5, 0.5, 0.5])


def test_other_errors(digits):
    model = _mlp([64, 4, 10])
    with pytest.raises(ValueError, match="unknown pruning method 'magic'"):
        prune_at_init(model, "magic", [0.5, 0.5])
    with pytest.raises(ValueError, match="needs data"):
        prune_at_init(model, "snip", [0.5, 0.5])
    with pytest.raises(ValueError, match="scope"):
        prune_at_init(model, "snip", [0.5, 0.5], data=_batches(digits, 8), scope="net")
    with pytest.raises(ValueError, match="random"):
        prune_at_init(model, "random", [0.5, 0.5], scope="global")
    with pytest.raises(ValueError, match="iterations"):
        prune_at_init(model, "synflow", [0.5, 0.5], iterations=0)
    with pytest.raises(ValueError, match="Xt must be feature-major"):
        Xt, Tt = _batches(digits, 8)[0]
        prune_at_init(model, "snip", [0.5, 0.5], data=(Xt.T.copy(), Tt))
