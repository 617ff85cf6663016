"""Linear and SparseLinear: finite differences, dense reference, DropConnect."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck import assert_close, numerical_grad
from sprig.layers import Linear, SparseLinear
from sprig.matrices import CSRMatrix
from strategies import csr_matrices


def _inner(layer, X, R, train=True):
    Y, _ = layer.forward(X, train=train)
    return float(np.sum(R * Y))


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: Linear(5, 4, rng=rng, dtype=np.float64),
        lambda rng: SparseLinear(5, 4, density=0.5, rng=rng, dtype=np.float64),
    ],
)
def test_finite_differences(make):
    rng = np.random.default_rng(0)
    layer = make(rng)
    X = rng.standard_normal((5, 3))
    R = rng.standard_normal((4, 3))
    layer.bias[:] = rng.standard_normal(4)
    _, bp = layer.forward(X, train=True)
    dX = bp(R)
    assert_close(dX, numerical_grad(lambda: _inner(layer, X, R), X), what="dX")
    for name, p in layer.params().items():
        assert_close(p.grad, numerical_grad(lambda: _inner(layer, X, R), p.value), what=name)


@given(W=csr_matrices(max_dim=32), n=st.integers(1, 16), seed=st.integers(0, 2**31))
def test_sparse_equals_dense_reference(W, n, seed):
    rng = np.random.default_rng(seed)
    K, D = W.shape
    sparse = SparseLinear(D, K, weight=W, dtype=np.float64, rng=rng)
    dense = Linear(D, K, dtype=np.float64, rng=rng)
    dense.weight[:] = W.toarray()
    b = rng.standard_normal(K)
    sparse.bias[:] = b
    dense.bias[:] = b
    X = rng.standard_normal((D, n))
    dY = rng.standard_normal((K, n))
    Ys, bps = sparse.forward(X, train=True)
    Yd, bpd = dense.forward(X, train=True)
    np.testing.assert_allclose(Ys, Yd, atol=1e-10)
    np.testing.assert_allclose(bps(dY), bpd(dY), atol=1e-10)
    np.testing.assert_allclose(
        sparse.weight_grad, dense.weight_grad[W.row_of, W.indices], atol=1e-10
    )
    np.testing.assert_allclose(sparse.bias_grad, dense.bias_grad, atol=1e-10)


def test_input_grad_false_skips_backward_data():
    rng = np.random.default_rng(0)
    layer = SparseLinear(6, 3, density=0.5, rng=rng)
    X = rng.standard_normal((6, 2)).astype(np.float32)
    _, bp = layer.forward(X, train=True, input_grad=False)
    assert bp(np.ones((3, 2), np.float32)) is None
    assert np.any(layer.weight_grad != 0)


@pytest.mark.parametrize("cls", [Linear, SparseLinear])
def test_drop_connect_is_inverted_and_off_in_eval(cls):
    rng = np.random.default_rng(0)
    kw = {"density": 1.0} if cls is SparseLinear else {}
    layer = cls(200, 50, drop_connect=0.5, rng=rng, dtype=np.float64, bias=False, **kw)
    X = rng.standard_normal((200, 1))
    Y_eval, _ = layer.forward(X, train=False)
    Ys = np.mean([layer.forward(X, train=True)[0] for _ in range(400)], axis=0)
    # E[W ⊙ R] = W: the mean of the training outputs approaches the evaluation output
    assert np.corrcoef(Ys.ravel(), Y_eval.ravel())[0, 1] > 0.97
    # about half the weights are dropped in one training forward: dW is zero there
    Y, bp = layer.forward(X, train=True)
    bp(np.ones_like(Y))
    zero_frac = np.mean(layer.weight_grad == 0)
    assert 0.4 < zero_frac < 0.6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"density": 0.0}, "density"),
        ({"density": 1.2}, "density"),
        ({}, "exactly one"),
        ({"density": 0.5, "drop_connect": 1.0}, "drop_connect"),
        ({"density": 0.5, "fan_in": "rows"}, "fan_in"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SparseLinear(4, 3, **kwargs)
    with pytest.raises(ValueError, match="in_features"):
        Linear(0, 3)


def test_wrong_input_shape_names_expected_shape():
    layer = SparseLinear(4, 3, density=0.5)
    with pytest.raises(ValueError, match=r"\(4, N\)"):
        layer.forward(np.ones((5, 2), np.float32), train=False)


def test_actual_fan_in_scales_each_row():
    rng = np.random.default_rng(0)
    W = CSRMatrix.random((2000, 400), density=0.05, rng=rng)
    del W
    layer = SparseLinear(400, 2000, density=0.05, fan_in="actual", rng=rng)
    row_nnz = np.diff(layer.weight.indptr)[layer.weight.row_of]
    limit = 1 / np.sqrt(row_nnz)
    assert np.all(np.abs(layer.weight.data) <= limit + 1e-6)
    assert np.abs(layer.weight.data).max() > 1 / np.sqrt(400)


@given(W=csr_matrices(max_dim=24), n=st.integers(1, 9), seed=st.integers(0, 2**31))
def test_fused_relu_equals_linear_then_relu(W, n, seed):
    from sprig.activations import ReLU
    from sprig.layers import ActivationLayer

    rng = np.random.default_rng(seed)
    K, D = W.shape
    W = W.astype(np.float64)
    a = SparseLinear(D, K, weight=W.copy(), dtype=np.float64, rng=rng)
    b = SparseLinear(D, K, weight=W.copy(), dtype=np.float64, rng=rng)
    a.bias[:] = b.bias[:] = rng.standard_normal(K)
    act = ActivationLayer(ReLU(), K, dtype=np.float64)
    X = rng.standard_normal((D, n))
    dY = rng.standard_normal((K, n))
    Z, bp_lin = a.forward(X, train=True)
    Ya, bp_act = act.forward(Z, train=True)
    Yb, bp_fused = b.forward(X, train=True, activation="relu")
    np.testing.assert_array_equal(Yb, Ya)
    dXa = bp_lin(bp_act(dY))
    dXb = bp_fused(dY.copy())
    np.testing.assert_allclose(dXb, dXa, atol=1e-12)
    np.testing.assert_allclose(b.weight_grad, a.weight_grad, atol=1e-12)
    np.testing.assert_allclose(b.bias_grad, a.bias_grad, atol=1e-12)


def test_fused_relu_finite_differences_and_bad_activation():
    rng = np.random.default_rng(2)
    layer = SparseLinear(6, 5, density=0.6, rng=rng, dtype=np.float64)
    layer.bias[:] = rng.standard_normal(5)
    X = rng.standard_normal((6, 4))
    R = rng.standard_normal((5, 4))

    def f():
        Y, _ = layer.forward(X, train=True, activation="relu")
        return float(np.sum(R * Y))

    _, bp = layer.forward(X, train=True, activation="relu")
    dX = bp(R.copy())
    assert_close(dX, numerical_grad(f, X), what="dX")
    for name, p in layer.params().items():
        assert_close(p.grad, numerical_grad(f, p.value), what=name)
    with pytest.raises(ValueError, match="activation must be None or 'relu'"):
        layer.forward(X, train=False, activation="tanh")
