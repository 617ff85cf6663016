"""Non-linear layers: finite differences for X and every param, a conformance table,
batch-norm/dropout/SReLU specifics, torch references."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradcheck import assert_close, numerical_grad
from sprig.activations import ELU, GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh, TReLU
from sprig.activations.functions import softmax
from sprig.layers.activation import ActivationLayer
from sprig.layers.base import Layer
from sprig.layers.batchnorm import BatchNorm
from sprig.layers.dropout import Dropout
from sprig.layers.softmax import LogSoftmax, Softmax
from sprig.layers.srelu import SReLU

D, N = 4, 6


def make_layer(kind: str, dtype=np.float64):
    """Fresh layer by table id, with non-trivial parameters/state."""
    acts = {"relu": ReLU(), "leaky": LeakyReLU(0.1), "tanh": Tanh(), "sigmoid": Sigmoid(),
            "gelu": GELU(), "silu": SiLU(), "elu": ELU(), "softplus": Softplus(),
            "trelu": TReLU(0.3)}  # fmt: skip
    if kind in acts:
        return ActivationLayer(acts[kind], D, dtype=dtype)
    if kind == "srelu":
        return SReLU(D, al=0.2, tl=-0.5, ar=0.3, tr=0.8, dtype=dtype)
    if kind == "srelu_overlap":  # t_l > t_r: the left branch wins on the overlap
        return SReLU(D, al=0.2, tl=0.5, ar=0.3, tr=-0.5, dtype=dtype)
    if kind == "softmax":
        return Softmax(D, dtype=dtype)
    if kind == "log_softmax":
        return LogSoftmax(D, dtype=dtype)
    if kind.startswith("batchnorm"):
        layer = BatchNorm(D, affine=kind != "batchnorm_noaffine", dtype=dtype)
        rng = np.random.default_rng(11)
        layer.gamma[...] = rng.uniform(0.5, 1.5, D)
        layer.beta[...] = rng.standard_normal(D)
        layer.running_mean[...] = rng.standard_normal(D)
        layer.running_var[...] = rng.uniform(0.5, 2.0, D)
        return layer
    if kind == "dropout":
        return Dropout(D, 0.4, np.random.default_rng(0), dtype=dtype)
    raise KeyError(kind)


#: (layer id, kinks of the input to stay away from, train flags to check)
CASES = [
    ("relu", [0.0], [True]),
    ("leaky", [0.0], [True]),
    ("trelu", [0.3], [True]),
    ("tanh", [], [True]),
    ("sigmoid", [], [True]),
    ("gelu", [], [True]),
    ("silu", [], [True]),
    ("elu", [0.0], [True]),
    ("softplus", [], [True]),
    ("srelu", [-0.5, 0.8], [True]),
    ("srelu_overlap", [-0.5, 0.5], [True]),
    ("softmax", [], [True]),
    ("log_softmax", [], [True]),
    ("batchnorm", [], [True, False]),
    ("batchnorm_noaffine", [], [True, False]),
    ("dropout", [], [True, False]),
]
IDS = [c[0] for c in CASES]


def sample(rng: np.random.Generator, shape, kinks, dtype=np.float64) -> np.ndarray:
    X = rng.uniform(-2.0, 2.0, shape)
    for k in kinks:
        near = np.abs(X - k) < 0.05
        X[near] = k + np.where(X[near] >= k, 0.1, -0.1)
    return X.astype(dtype)


def forward_fixed(layer, X, train, **kw):
    """Forward with a reseeded generator so stochastic layers are deterministic functions."""
    if hasattr(layer, "rng"):
        layer.rng = np.random.default_rng(1234)
    return layer.forward(X, train=train, **kw)


GRAD_CASES = [(kind, kinks, train) for kind, kinks, trains in CASES for train in trains]


@pytest.mark.parametrize(
    ("kind", "kinks", "train"), GRAD_CASES, ids=[f"{c[0]}-train={c[2]}" for c in GRAD_CASES]
)
def test_gradients_match_finite_differences(kind, kinks, train):
    rng = np.random.default_rng(0)
    layer = make_layer(kind)
    X = sample(rng, (D, N), kinks)
    Y, backprop = forward_fixed(layer, X, train)
    R = rng.standard_normal(Y.shape)
    dX = backprop(R)
    grads = {k: p.grad.copy() for k, p in layer.params().items()}

    def objective():
        return float(np.sum(R * forward_fixed(layer, X, train)[0]))

    assert_close(dX, numerical_grad(objective, X), what=f"{kind} dX (train={train})")
    for name, p in layer.params().items():
        assert_close(grads[name], numerical_grad(objective, p.value), what=f"{kind} d{name}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("kind", "kinks", "trains"), CASES, ids=IDS)
def test_conformance(kind, kinks, trains, dtype):
    rng = np.random.default_rng(1)
    layer = make_layer(kind, dtype)
    assert isinstance(layer, Layer)
    assert repr(layer).startswith(type(layer).__name__)
    X = sample(rng, (D, 5), kinks, dtype)
    X0 = X.copy()
    for train in (True, False):
        before = set(vars(layer))
        Y, backprop = layer.forward(X, train=train)
        assert set(vars(layer)) == before  # nothing new stored on self
        assert Y.dtype == dtype and Y.shape == (D, 5)
        dY = rng.standard_normal(Y.shape).astype(dtype)
        dX = backprop(dY)
        assert dX.dtype == dtype and dX.shape == X.shape
        for p in layer.params().values():
            assert p.value.dtype == p.grad.dtype == dtype
        # input_grad=False: no dX, but identical parameter gradients
        grads = {k: p.grad.copy() for k, p in layer.params().items()}
        _, bp = forward_fixed(layer, X, train, input_grad=False)
        if hasattr(layer, "rng"):
            _, bp_ref = forward_fixed(layer, X, train)
            bp_ref(dY)
            grads = {k: p.grad.copy() for k, p in layer.params().items()}
        for p in layer.params().values():
            p.grad[...] = np.nan
        assert bp(dY) is None
        for k, p in layer.params().items():
            np.testing.assert_array_equal(p.grad, grads[k])
    np.testing.assert_array_equal(X, X0)  # input untouched
    with pytest.raises(ValueError, match="dtype"):
        layer.forward(X.astype(np.float16), train=False)
    with pytest.raises(ValueError, match=r"\(4, N\)"):
        layer.forward(np.zeros((D + 1, 3), dtype), train=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_matches_float64(dtype):
    rng = np.random.default_rng(2)
    X = sample(rng, (D, N), [-0.5, 0.8, 0.3, 0.0])
    dY = rng.standard_normal((D, N))
    for kind in ("gelu", "srelu", "softmax", "log_softmax", "batchnorm"):
        a, b = make_layer(kind, np.float32), make_layer(kind, np.float64)
        for train in (True, False):
            Ya, bpa = a.forward(X.astype(np.float32), train=train)
            Yb, bpb = b.forward(X, train=train)
            np.testing.assert_allclose(Ya, Yb, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(bpa(dY.astype(np.float32)), bpb(dY), rtol=1e-4, atol=1e-5)


def test_not_a_layer_argument():
    with pytest.raises(TypeError):
        ActivationLayer("relu", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="features"):
        Softmax(0)


# --- softmax ------------------------------------------------------------------------------------


def test_softmax_layers_are_stable_and_consistent():
    X = np.array([[1e4, 0.0], [1e4 - 2.0, -1e4], [-1e4, 0.0]])
    Y, _ = Softmax(3, dtype=np.float64).forward(X, train=False)
    L, _ = LogSoftmax(3, dtype=np.float64).forward(X, train=False)
    np.testing.assert_allclose(Y.sum(axis=0), 1.0)
    assert np.all(np.isfinite(L))
    with np.errstate(under="ignore"):
        np.testing.assert_allclose(np.exp(L), Y, atol=1e-300)


# --- SReLU --------------------------------------------------------------------------------------


def test_srelu_defaults_and_param_names():
    layer = SReLU(3, dtype=np.float64)
    assert list(layer.params()) == ["al", "tl", "ar", "tr"]
    assert [float(p.value[0]) for p in layer.params().values()] == [0.0, 0.0, 0.0, 1.0]
    assert all(p.value.shape == (1,) for p in layer.params().values())
    X = np.array([[-2.0, 0.5, 3.0]] * 3)
    Y, _ = layer.forward(X, train=True)
    np.testing.assert_array_equal(Y, np.clip(X, 0, 1))


def test_srelu_overlap_left_branch_wins():
    layer = SReLU(1, al=0.5, tl=1.0, ar=2.0, tr=-1.0, dtype=np.float64)
    X = np.array([[-3.0, 0.0, 1.0, 2.0]])
    Y, bp = layer.forward(X, train=True)
    # z ≤ t_l = 1: left branch 1 + 0.5 (z − 1); z = 2 ≥ t_r: right branch −1 + 2 (2 + 1) = 5
    np.testing.assert_array_equal(Y, [[-1.0, 0.5, 1.0, 5.0]])
    np.testing.assert_array_equal(bp(np.ones_like(Y)), [[0.5, 0.5, 0.5, 2.0]])
    g = {k: float(p.grad[0]) for k, p in layer.params().items()}
    assert g == {"al": -4 - 1 + 0, "tl": 0.5 * 3, "ar": 3.0, "tr": -1.0}


# --- batch norm ---------------------------------------------------------------------------------


def test_batchnorm_running_stats_only_in_train():
    layer = BatchNorm(3, momentum=0.25, dtype=np.float64)
    rng = np.random.default_rng(3)
    buffers = layer.buffers()
    rm, rv = buffers["running_mean"], buffers["running_var"]
    assert rm is layer.running_mean and rv is layer.running_var
    np.testing.assert_array_equal(rm, 0.0)
    np.testing.assert_array_equal(rv, 1.0)
    X = rng.standard_normal((3, 8)) * 2 + 1
    layer.forward(X, train=False)
    np.testing.assert_array_equal(rm, 0.0)  # eval does not touch them
    layer.forward(X, train=True)
    np.testing.assert_allclose(rm, 0.25 * X.mean(axis=1))
    np.testing.assert_allclose(rv, 0.75 + 0.25 * X.var(axis=1, ddof=1))
    assert layer.buffers()["running_mean"] is rm  # updated in place
    # loading writes in place and changes evaluation
    rm[...] = [1.0, 2.0, 3.0]
    rv[...] = [4.0, 4.0, 4.0]
    Y, _ = layer.forward(X, train=False)
    np.testing.assert_allclose(Y, (X - rm[:, None]) / np.sqrt(4.0 + 1e-5))


def test_batchnorm_train_output_is_normalised():
    X = np.random.default_rng(4).standard_normal((5, 16)) * 3 - 2
    Y, _ = BatchNorm(5, affine=False, dtype=np.float64).forward(X, train=True)
    np.testing.assert_allclose(Y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(Y.var(axis=1), 1, rtol=1e-5)


def test_batchnorm_bad_arguments():
    with pytest.raises(ValueError, match=r"momentum=1\.5"):
        BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps=0"):
        BatchNorm(3, eps=0.0)
    with pytest.raises(ValueError, match="N=1"):
        BatchNorm(3, dtype=np.float64).forward(np.ones((3, 1)), train=True)
    Y, _ = BatchNorm(3, dtype=np.float64).forward(np.ones((3, 1)), train=False)  # eval is fine
    assert Y.shape == (3, 1)


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_vs_torch(affine):
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    ours = BatchNorm(D, momentum=0.2, eps=1e-5, affine=affine, dtype=np.float64)
    ref = torch.nn.BatchNorm1d(D, momentum=0.2, eps=1e-5, affine=affine, dtype=torch.float64)
    if affine:
        ours.gamma[...] = rng.uniform(0.5, 1.5, D)
        ours.beta[...] = rng.standard_normal(D)
        with torch.no_grad():
            ref.weight.copy_(torch.tensor(ours.gamma))
            ref.bias.copy_(torch.tensor(ours.beta))
    for step in range(4):
        train = step < 3
        ref.train(train)
        X = rng.standard_normal((D, N)) * 2 + step
        dY = rng.standard_normal((D, N))
        Xt = torch.tensor(X.T.copy(), requires_grad=True)
        Yt = ref(Xt)
        ref.zero_grad()
        Yt.backward(torch.tensor(dY.T.copy()))
        Y, bp = ours.forward(X, train=train)
        dX = bp(dY)
        np.testing.assert_allclose(Y, Yt.detach().numpy().T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dX, Xt.grad.numpy().T, rtol=1e-9, atol=1e-12)
        if affine:
            np.testing.assert_allclose(ours.gamma_grad, ref.weight.grad.numpy(), rtol=1e-10)
            np.testing.assert_allclose(ours.beta_grad, ref.bias.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.running_mean, ref.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.running_var, ref.running_var.numpy(), rtol=1e-12)


# --- dropout ------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan")])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match=re.escape(f"p={p}")):
        Dropout(3, p, np.random.default_rng(0))


def test_dropout_train_and_eval():
    p = 0.25
    layer = Dropout(50, p, np.random.default_rng(6), dtype=np.float64)
    X = np.random.default_rng(7).uniform(1.0, 2.0, (50, 400))
    Y, bp = layer.forward(X, train=True)
    kept = Y != 0
    np.testing.assert_allclose(Y[kept], X[kept] / (1 - p))
    assert abs(1 - kept.mean() - p) < 0.01
    assert abs(Y.mean() / X.mean() - 1) < 0.02  # inverted scaling keeps the expectation
    dY = np.ones_like(X)
    np.testing.assert_array_equal(bp(dY), np.where(kept, 1 / (1 - p), 0.0))
    state = layer.rng.bit_generator.state
    Ye, bpe = layer.forward(X, train=False)
    assert Ye is X and bpe(dY) is dY
    assert layer.rng.bit_generator.state == state  # evaluation draws nothing
    Y0, _ = Dropout(50, 0.0, np.random.default_rng(0), dtype=np.float64).forward(X, train=True)
    assert Y0 is X


def test_dropout_is_reproducible_from_the_seed():
    X = np.ones((3, 10), np.float32)
    a = Dropout(3, 0.5, np.random.default_rng(42)).forward(X, train=True)[0]
    b = Dropout(3, 0.5, np.random.default_rng(42)).forward(X, train=True)[0]
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32


def test_softmax_layer_vs_functions():
    X = np.random.default_rng(8).standard_normal((D, N))
    np.testing.assert_allclose(Softmax(D, np.float64).forward(X, train=True)[0], softmax(X))
