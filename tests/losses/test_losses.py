"""Losses: finite-difference gradients, a conformance table, reductions, bad input, torch."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck import assert_close, numerical_grad
from sprig.activations.functions import softmax
from sprig.losses import (
    REGISTRY,
    CrossEntropy,
    LogisticCrossEntropy,
    Loss,
    MeanSquaredError,
    NegativeLogLikelihood,
    SoftmaxCrossEntropy,
    SquaredError,
    check_targets,
)


def one_hot(labels: np.ndarray, K: int) -> np.ndarray:
    return np.eye(K)[:, labels]


def make_case(cls: type[Loss], rng: np.random.Generator, K: int = 4, N: int = 5):
    """Outputs in each loss's domain (probabilities for CE/NLL) and one-hot targets."""
    T = one_hot(rng.integers(0, K, N), K)
    if cls in (CrossEntropy, NegativeLogLikelihood):
        Y = softmax(rng.standard_normal((K, N)))
    else:
        Y = 2 * rng.standard_normal((K, N))
    if cls in (SquaredError, MeanSquaredError):
        T = rng.standard_normal((K, N))
    return Y, T


#: One row per loss (thinc's TEST_CASES): every registry entry must appear here.
LOSSES = [SquaredError, MeanSquaredError, CrossEntropy, SoftmaxCrossEntropy,
          LogisticCrossEntropy, NegativeLogLikelihood]  # fmt: skip
IDS = [c.name for c in LOSSES]


def test_table_covers_the_registry():
    assert set(LOSSES) == set(REGISTRY.values())
    for name, cls in REGISTRY.items():
        assert cls.name == name == name.lower()


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("cls", LOSSES, ids=IDS)
def test_grad_matches_finite_differences(cls, reduction):
    rng = np.random.default_rng(0)
    Y, T = make_case(cls, rng)
    loss = cls(reduction)
    numeric = numerical_grad(lambda: loss.value(Y, T), Y)
    assert_close(loss.grad(Y, T), numeric, what=f"{cls.name}/{reduction}")


@pytest.mark.parametrize(
    "cls", [SoftmaxCrossEntropy, LogisticCrossEntropy, CrossEntropy, NegativeLogLikelihood]
)
def test_grad_with_soft_targets(cls):
    """The general equations (targets not summing to 1 per column) are also checked."""
    rng = np.random.default_rng(1)
    Y, _ = make_case(cls, rng)
    T = rng.uniform(0.0, 1.0, Y.shape)
    loss = cls("sum")
    assert_close(loss.grad(Y, T), numerical_grad(lambda: loss.value(Y, T), Y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", LOSSES, ids=IDS)
def test_conformance(cls, dtype):
    rng = np.random.default_rng(2)
    Y64, T64 = make_case(cls, rng, K=3, N=7)
    Y, T = Y64.astype(dtype), T64.astype(dtype)
    for reduction in ("sum", "mean"):
        loss = cls(reduction=reduction)
        value, grad = loss.value(Y, T), loss.grad(Y, T)
        assert type(value) is float and np.isfinite(value)
        assert grad.dtype == dtype and grad.shape == Y.shape
        v2, g2 = loss.value_and_grad(Y, T)
        assert v2 == pytest.approx(value, rel=1e-6)
        np.testing.assert_allclose(g2, grad, rtol=1e-6)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert value == pytest.approx(cls(reduction).value(Y64, T64), rel=tol)
    # "mean" is "sum" over N (for MSE both also carry 1/K)
    N = Y.shape[1]
    assert cls("mean").value(Y, T) == pytest.approx(cls("sum").value(Y, T) / N, rel=1e-6)
    np.testing.assert_allclose(cls("mean").grad(Y, T), cls("sum").grad(Y, T) / N, rtol=1e-6)
    # inputs are not modified, integer one-hot targets are accepted
    assert np.array_equal(Y, Y64.astype(dtype))
    if cls not in (SquaredError, MeanSquaredError):
        Ti = T.astype(np.int64)
        assert cls().value(Y, Ti) == pytest.approx(cls().value(Y, T))
        assert cls().grad(Y, Ti).dtype == dtype


@pytest.mark.parametrize("cls", LOSSES, ids=IDS)
def test_default_reduction_is_mean(cls):
    assert cls().reduction == "mean"


@pytest.mark.parametrize("cls", LOSSES, ids=IDS)
def test_bad_reduction(cls):
    with pytest.raises(ValueError, match="'avg'"):
        cls(reduction="avg")


@pytest.mark.parametrize("cls", LOSSES, ids=IDS)
def test_shape_mismatch(cls):
    Y = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        cls().value(Y, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        cls().grad(Y, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same"):
        check_targets(np.zeros(3), np.zeros(3))


def test_mse_scaling():
    Y = np.array([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]])
    T = np.zeros_like(Y)
    se = float(np.sum(Y**2))  # 15
    K, N = Y.shape
    assert SquaredError("sum").value(Y, T) == se
    assert MeanSquaredError("mean").value(Y, T) == pytest.approx(se / (K * N))
    assert MeanSquaredError("sum").value(Y, T) == pytest.approx(se / K)
    np.testing.assert_allclose(MeanSquaredError("mean").grad(Y, T), 2 * Y / (K * N))


def test_cross_entropy_ignores_zero_targets():
    Y = np.array([[0.0, 0.5], [1.0, 0.5]])
    T = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert CrossEntropy("sum").value(Y, T) == pytest.approx(np.log(2))
    np.testing.assert_array_equal(CrossEntropy("sum").grad(Y, T), [[0.0, -2.0], [-1.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logit_losses_are_stable(dtype):
    Y = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype)
    T = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype)
    v, g = SoftmaxCrossEntropy("sum").value_and_grad(Y, T)
    assert v == pytest.approx(2e4 + np.log(2), rel=1e-6)
    np.testing.assert_allclose(g, [[0.0, -1.0, 0.5], [0.0, 1.0, -0.5]], atol=1e-6)
    v, g = LogisticCrossEntropy("sum").value_and_grad(Y, T)
    assert v == pytest.approx(1e4 + np.log(2), rel=1e-6)
    np.testing.assert_allclose(g, [[0.0, -1.0, 0.0], [0.0, 0.0, -0.5]], atol=1e-6)


def test_nll_equals_cross_entropy_for_one_hot():
    Y, T = make_case(NegativeLogLikelihood, np.random.default_rng(4))
    assert NegativeLogLikelihood().value(Y, T) == pytest.approx(CrossEntropy().value(Y, T))
    np.testing.assert_allclose(NegativeLogLikelihood().grad(Y, T), CrossEntropy().grad(Y, T))


# --- torch (batch-first (N, K) there, feature-major (K, N) here) -------------------------------


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_cross_entropy_vs_torch(reduction):
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    K, N = 5, 8
    Y = 3 * rng.standard_normal((K, N))
    labels = rng.integers(0, K, N)
    Yt = torch.tensor(Y.T.copy(), requires_grad=True)
    out = torch.nn.functional.cross_entropy(Yt, torch.tensor(labels), reduction=reduction)
    out.backward()
    v, g = SoftmaxCrossEntropy(reduction).value_and_grad(Y, one_hot(labels, K))
    assert v == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(g, Yt.grad.numpy().T, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize(("loss", "reduction"), [(MeanSquaredError("mean"), "mean"),
                                                 (SquaredError("sum"), "sum")])  # fmt: skip
def test_squared_errors_vs_torch(loss, reduction):
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    Y, T = rng.standard_normal((2, 4, 6))
    Yt = torch.tensor(Y.T.copy(), requires_grad=True)
    out = torch.nn.functional.mse_loss(Yt, torch.tensor(T.T.copy()), reduction=reduction)
    out.backward()
    assert loss.value(Y, T) == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(loss.grad(Y, T), Yt.grad.numpy().T, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_nll_vs_torch(reduction):
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    K, N = 4, 9
    Y = softmax(rng.standard_normal((K, N)))
    labels = rng.integers(0, K, N)
    Yt = torch.tensor(Y.T.copy(), requires_grad=True)
    # sprig's NLL takes probabilities (Nerva); torch's takes log-probabilities
    out = torch.nn.functional.nll_loss(torch.log(Yt), torch.tensor(labels), reduction=reduction)
    out.backward()
    v, g = NegativeLogLikelihood(reduction).value_and_grad(Y, one_hot(labels, K))
    assert v == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(g, Yt.grad.numpy().T, rtol=1e-10)


def test_logistic_cross_entropy_vs_torch():
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    Y = 4 * rng.standard_normal((3, 5))
    T = rng.uniform(0, 1, (3, 5))
    Yt = torch.tensor(Y, requires_grad=True)
    out = -(torch.tensor(T) * torch.nn.functional.logsigmoid(Yt)).sum() / 5
    out.backward()
    v, g = LogisticCrossEntropy().value_and_grad(Y, T)
    assert v == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(g, Yt.grad.numpy(), rtol=1e-10)
