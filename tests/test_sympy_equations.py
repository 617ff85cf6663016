"""SymPy verification of the backward equations (Nerva's "the implementation is the spec").

Each test writes the forward computation symbolically on tiny shapes, lets SymPy
differentiate it, and compares the result with sprig's implementation: exactly (``expand``)
where the equation is polynomial (linear layer), otherwise by evaluating both at a random
point away from kinks. The objective of a layer is ``⟨R, Y⟩`` for a random ``R``, so the
SymPy gradient is the vector-Jacobian product that ``backprop(R)`` must return.
"""

from __future__ import annotations

import numpy as np
import pytest

from sprig.activations import ELU, GELU, AllReLU, LeakyReLU, Sigmoid, SiLU, Softplus, Tanh
from sprig.layers.batchnorm import BatchNorm
from sprig.layers.linear import Linear
from sprig.layers.softmax import LogSoftmax, Softmax
from sprig.layers.srelu import SReLU
from sprig.losses import (
    CrossEntropy,
    LogisticCrossEntropy,
    MeanSquaredError,
    NegativeLogLikelihood,
    SoftmaxCrossEntropy,
    SquaredError,
)

sp = pytest.importorskip("sympy")

SHAPES = [(3, 2), (2, 3)]  # (K, N) / (D, N)


def sym_matrix(name: str, rows: int, cols: int):
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))


def assign(M, values: np.ndarray) -> dict:
    """Substitution {symbol: value} putting ``values`` into the symbols of ``M``."""
    return {M[i, j]: sp.Float(values[i, j], 30) for i in range(M.rows) for j in range(M.cols)}


def gradient(expr, M):
    return M.applyfunc(lambda s: sp.diff(expr, s))


def evaluate(M, subs: dict) -> np.ndarray:
    return np.array(M.xreplace(subs).evalf(), dtype=np.float64)


def inner(R, Y):
    return sum(R[i, j] * Y[i, j] for i in range(Y.rows) for j in range(Y.cols))


def ones(n: int):
    return sp.ones(n, 1)


# --- linear layer: exact ------------------------------------------------------------------------


@pytest.mark.parametrize(("D", "K", "N"), [(3, 2, 2), (2, 3, 2), (2, 2, 3)])
def test_linear_layer_equations_exact(D, K, N):
    W, X, dY = sym_matrix("w", K, D), sym_matrix("x", D, N), sym_matrix("r", K, N)
    b = sym_matrix("b", K, 1)
    Y = W * X + b * ones(N).T
    loss = inner(dY, Y)  # ∂loss/∂Y = dY
    assert (gradient(loss, W) - dY * X.T).expand() == sp.zeros(K, D)
    assert (gradient(loss, b) - dY * ones(N)).expand() == sp.zeros(K, 1)
    assert (gradient(loss, X) - W.T * dY).expand() == sp.zeros(D, N)
    # and sprig's Linear implements exactly these
    rng = np.random.default_rng(0)
    layer = Linear(D, K, rng=rng, dtype=np.float64)
    layer.bias[...] = rng.standard_normal(K)
    Xv, Rv = rng.standard_normal((D, N)), rng.standard_normal((K, N))
    subs = {**assign(W, layer.weight), **assign(b, layer.bias[:, None]), **assign(X, Xv)}
    subs |= assign(dY, Rv)
    Yv, bp = layer.forward(Xv, train=False)
    np.testing.assert_allclose(Yv, evaluate(Y, subs), rtol=1e-12)
    np.testing.assert_allclose(bp(Rv), evaluate(gradient(loss, X), subs), rtol=1e-12)
    np.testing.assert_allclose(layer.weight_grad, evaluate(gradient(loss, W), subs), rtol=1e-12)
    np.testing.assert_allclose(layer.bias_grad, evaluate(gradient(loss, b), subs)[:, 0], rtol=1e-12)


# --- softmax and log-softmax layers --------------------------------------------------------------


def sym_softmax(X):
    E = X.applyfunc(sp.exp)
    return sp.Matrix(X.rows, X.cols, lambda i, j: E[i, j] / sum(E[:, j]))


def sym_log_softmax(X):
    return sp.Matrix(X.rows, X.cols, lambda i, j: X[i, j] - sp.log(sum(sp.exp(x) for x in X[:, j])))


@pytest.mark.parametrize(("K", "N"), SHAPES)
@pytest.mark.parametrize(
    ("layer_cls", "fn"), [(Softmax, sym_softmax), (LogSoftmax, sym_log_softmax)]
)
def test_softmax_layers_backprop(K, N, layer_cls, fn):
    rng = np.random.default_rng(1)
    X = sym_matrix("x", K, N)
    Xv, Rv = rng.standard_normal((K, N)), rng.standard_normal((K, N))
    Y = fn(X)
    subs = assign(X, Xv)
    Yv, bp = layer_cls(K, dtype=np.float64).forward(Xv, train=True)
    np.testing.assert_allclose(Yv, evaluate(Y, subs), rtol=1e-12)
    R = sp.Matrix(Rv)
    np.testing.assert_allclose(bp(Rv), evaluate(gradient(inner(R, Y), X), subs), rtol=1e-10)


# --- batch normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(("D", "N"), SHAPES)
def test_batchnorm_train_backprop(D, N):
    eps = sp.Rational(1, 100000)
    X, gamma, beta = sym_matrix("x", D, N), sym_matrix("g", D, 1), sym_matrix("b", D, 1)
    mu = X * ones(N) / N
    Rc = X - mu * ones(N).T
    var = Rc.multiply_elementwise(Rc) * ones(N) / N
    Z = sp.Matrix(D, N, lambda i, j: Rc[i, j] / sp.sqrt(var[i] + eps))
    Y = sp.Matrix(D, N, lambda i, j: gamma[i] * Z[i, j] + beta[i])

    rng = np.random.default_rng(2)
    layer = BatchNorm(D, eps=1e-5, dtype=np.float64)
    layer.gamma[...] = rng.uniform(0.5, 1.5, D)
    layer.beta[...] = rng.standard_normal(D)
    Xv, Rv = rng.standard_normal((D, N)), rng.standard_normal((D, N))
    subs = {
        **assign(X, Xv),
        **assign(gamma, layer.gamma[:, None]),
        **assign(beta, layer.beta[:, None]),
    }
    loss = inner(sp.Matrix(Rv), Y)
    Yv, bp = layer.forward(Xv, train=True)
    np.testing.assert_allclose(Yv, evaluate(Y, subs), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bp(Rv), evaluate(gradient(loss, X), subs), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(
        layer.gamma_grad, evaluate(gradient(loss, gamma), subs)[:, 0], rtol=1e-10
    )
    np.testing.assert_allclose(
        layer.beta_grad, evaluate(gradient(loss, beta), subs)[:, 0], rtol=1e-10
    )


def test_batchnorm_eval_backprop():
    D, N = 2, 3
    X, gamma, beta = sym_matrix("x", D, N), sym_matrix("g", D, 1), sym_matrix("b", D, 1)
    m, v = sym_matrix("m", D, 1), sym_matrix("v", D, 1)
    eps = sp.Rational(1, 100000)
    Y = sp.Matrix(D, N, lambda i, j: gamma[i] * (X[i, j] - m[i]) / sp.sqrt(v[i] + eps) + beta[i])
    rng = np.random.default_rng(3)
    layer = BatchNorm(D, dtype=np.float64)
    layer.gamma[...] = rng.uniform(0.5, 1.5, D)
    layer.running_mean[...] = rng.standard_normal(D)
    layer.running_var[...] = rng.uniform(0.5, 2.0, D)
    Xv, Rv = rng.standard_normal((D, N)), rng.standard_normal((D, N))
    subs = assign(X, Xv) | assign(gamma, layer.gamma[:, None]) | assign(beta, layer.beta[:, None])
    subs |= assign(m, layer.running_mean[:, None]) | assign(v, layer.running_var[:, None])
    loss = inner(sp.Matrix(Rv), Y)
    Yv, bp = layer.forward(Xv, train=False)
    np.testing.assert_allclose(Yv, evaluate(Y, subs), rtol=1e-12)
    np.testing.assert_allclose(bp(Rv), evaluate(gradient(loss, X), subs), rtol=1e-12)
    np.testing.assert_allclose(
        layer.gamma_grad, evaluate(gradient(loss, gamma), subs)[:, 0], rtol=1e-12
    )


# --- SReLU --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [(0.2, -0.5, 0.3, 0.8), (0.2, 0.5, 0.3, -0.5)],  # ordinary; overlapping (t_l > t_r)
    ids=["ordinary", "overlap"],
)
def test_srelu_param_grads(params):
    al, tl, ar, tr = sp.symbols("a_l t_l a_r t_r", real=True)
    D, N = 2, 3
    X = sym_matrix("x", D, N)

    # SymPy's Piecewise takes the first true condition: exactly the "left branch wins" rule
    def f(z):
        return sp.Piecewise((tl + al * (z - tl), z <= tl), (tr + ar * (z - tr), z >= tr), (z, True))

    Y = X.applyfunc(f)
    rng = np.random.default_rng(4)
    Xv = rng.uniform(-2, 2, (D, N))
    Xv[np.abs(Xv - params[1]) < 0.05] += 0.1
    Xv[np.abs(Xv - params[3]) < 0.05] += 0.1
    Xv[0, :2] = [-1.5, 1.5]  # at least one point in each outer region
    Rv = rng.standard_normal((D, N))
    loss = inner(sp.Matrix(Rv), Y)
    subs = assign(X, Xv) | {
        s: sp.Float(p, 30) for s, p in zip((al, tl, ar, tr), params, strict=True)
    }
    layer = SReLU(D, *params, dtype=np.float64)
    Yv, bp = layer.forward(Xv, train=True)
    np.testing.assert_allclose(Yv, evaluate(Y, subs), rtol=1e-12)
    np.testing.assert_allclose(bp(Rv), evaluate(gradient(loss, X), subs), rtol=1e-12)
    for name, s in zip(("al", "tl", "ar", "tr"), (al, tl, ar, tr), strict=True):
        expected = float(sp.diff(loss, s).xreplace(subs).evalf())
        assert layer.params()[name].grad[0] == pytest.approx(expected, rel=1e-12, abs=1e-14)


# --- losses -------------------------------------------------------------------------------------


def sym_loss(name: str, Y, T):
    """Nerva's loss formulas (sum over the batch), written independently of sprig."""
    K, N = Y.shape
    entries = [(i, j) for i in range(K) for j in range(N)]
    if name in ("squared_error", "mse"):
        se = sum((Y[i, j] - T[i, j]) ** 2 for i, j in entries)
        return se / K if name == "mse" else se
    if name == "cross_entropy":
        return -sum(T[i, j] * sp.log(Y[i, j]) for i, j in entries)
    if name == "softmax_cross_entropy":
        return -sum(T[i, j] * sym_log_softmax(Y)[i, j] for i, j in entries)
    if name == "logistic_cross_entropy":
        return -sum(T[i, j] * sp.log(1 / (1 + sp.exp(-Y[i, j]))) for i, j in entries)
    if name == "nll":
        return -sum(sp.log(sum(Y[i, j] * T[i, j] for i in range(K))) for j in range(N))
    raise KeyError(name)


LOSSES = [SquaredError, MeanSquaredError, CrossEntropy, SoftmaxCrossEntropy,
          LogisticCrossEntropy, NegativeLogLikelihood]  # fmt: skip


@pytest.mark.parametrize(("K", "N"), SHAPES)
@pytest.mark.parametrize("cls", LOSSES, ids=[c.name for c in LOSSES])
def test_loss_gradients(cls, K, N):
    rng = np.random.default_rng(5)
    Ys, Ts = sym_matrix("y", K, N), sym_matrix("t", K, N)
    Yv = (
        rng.uniform(0.1, 1.0, (K, N))
        if cls in (CrossEntropy, NegativeLogLikelihood)
        else rng.standard_normal((K, N))
    )
    Tv = rng.uniform(0.0, 1.0, (K, N))  # general (soft) targets exercise the full equations
    loss = sym_loss(cls.name, Ys, Ts)
    subs = assign(Ys, Yv) | assign(Ts, Tv)
    value = float(loss.xreplace(subs).evalf())
    grad = evaluate(gradient(loss, Ys), subs)
    for reduction, scale in (("sum", 1.0), ("mean", 1.0 / N)):
        ours = cls(reduction)
        assert ours.value(Yv, Tv) == pytest.approx(scale * value, rel=1e-12)
        np.testing.assert_allclose(ours.grad(Yv, Tv), scale * grad, rtol=1e-11, atol=1e-15)


# --- activation derivatives ---------------------------------------------------------------------

x = sp.Symbol("x", real=True)
SYM_ACTIVATIONS = [
    (Sigmoid(), 1 / (1 + sp.exp(-x))),
    (Tanh(), sp.tanh(x)),
    (LeakyReLU(0.1), sp.Piecewise((x, x > 0), (sp.Float(0.1) * x, True))),
    (AllReLU(-0.3), sp.Piecewise((sp.Float(-0.3) * x, x < 0), (x, True))),
    (AllReLU(0.3), sp.Piecewise((sp.Float(0.3) * x, x < 0), (x, True))),
    (ELU(0.7), sp.Piecewise((x, x > 0), (sp.Float(0.7) * (sp.exp(x) - 1), True))),
    (Softplus(), sp.log(1 + sp.exp(x))),
    (SiLU(), x / (1 + sp.exp(-x))),
    (GELU(), x / 2 * (1 + sp.erf(x / sp.sqrt(2)))),
]


@pytest.mark.parametrize(("act", "f"), SYM_ACTIVATIONS, ids=[repr(a) for a, _ in SYM_ACTIVATIONS])
def test_activation_derivatives(act, f):
    points = np.array([-3.1, -1.2, -0.4, 0.3, 0.9, 2.7])
    df = sp.diff(f, x)
    expected_f = np.array([float(f.subs(x, p).evalf()) for p in points])
    expected_df = np.array([float(df.subs(x, p).evalf()) for p in points])
    np.testing.assert_allclose(act.value(points), expected_f, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(act.derivative(points, act.value(points)), expected_df, rtol=1e-12)
