"""Activations: finite-difference derivatives, a conformance table, edge values, torch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gradcheck import assert_close, numerical_grad
from sprig.activations import (
    ELU,
    GELU,
    REGISTRY,
    Activation,
    AllReLU,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
    TReLU,
    all_relu_alternating,
)
from sprig.activations.functions import log_sigmoid, log_softmax, sigmoid, softmax, softplus

#: One row per activation (thinc's TEST_CASES): every registry entry must appear here.
ACTIVATIONS: list[Activation] = [
    Identity(),
    ReLU(),
    LeakyReLU(),
    LeakyReLU(alpha=0.3),
    AllReLU(alpha=-0.4),
    AllReLU(alpha=0.4),
    TReLU(epsilon=0.05),
    Sigmoid(),
    Tanh(),
    GELU(),
    SiLU(),
    ELU(),
    ELU(alpha=0.5),
    Softplus(),
]
IDS = [repr(a) for a in ACTIVATIONS]

#: Inputs that stress overflow/underflow (0 included: values must be defined at kinks too).
EXTREMES = [-1e4, -800.0, -100.0, -30.0, -1.0, -1e-30, 0.0, 1e-30, 1.0, 30.0, 100.0, 800.0, 1e4]


def away_from_kinks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with 0.1 ≤ |z| ≤ 3: every kink of the table (0 and TReLU's 0.05) is avoided."""
    return rng.uniform(0.1, 3.0, shape) * rng.choice([-1.0, 1.0], shape)


def test_table_covers_the_registry():
    assert {type(a) for a in ACTIVATIONS} == set(REGISTRY.values())
    for name, cls in REGISTRY.items():
        assert cls.name == name
        assert name == name.lower()


@pytest.mark.parametrize("act", ACTIVATIONS, ids=IDS)
def test_derivative_matches_finite_differences(act):
    rng = np.random.default_rng(0)
    Z = away_from_kinks(rng, (4, 5))
    R = rng.standard_normal(Z.shape)
    numeric = numerical_grad(lambda: float(np.sum(R * act.value(Z))), Z)
    assert_close(R * act.derivative(Z, act.value(Z)), numeric, what=repr(act))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ACTIVATIONS, ids=IDS)
def test_conformance_dtype_shape_and_no_warnings(act, dtype):
    Z = np.array(EXTREMES, dtype=dtype).reshape(1, -1).repeat(2, axis=0)
    Y = act.value(Z)
    D = act.derivative(Z, Y)
    for A in (Y, D):
        assert A.dtype == dtype
        assert A.shape == Z.shape
        assert np.all(np.isfinite(A))
    assert np.all(D >= -1) and np.all(D <= 1.2)  # all are (near-)1-Lipschitz; GELU peaks ~1.13


@pytest.mark.parametrize("act", ACTIVATIONS, ids=IDS)
def test_float32_agrees_with_float64(act):
    Z = away_from_kinks(np.random.default_rng(1), (3, 7))
    Z32 = Z.astype(np.float32)
    np.testing.assert_allclose(act.value(Z32), act.value(Z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        act.derivative(Z32, act.value(Z32)), act.derivative(Z, act.value(Z)), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("act", ACTIVATIONS, ids=IDS)
def test_frozen(act):
    with pytest.raises(dataclasses.FrozenInstanceError):
        act.alpha = 2.0  # type: ignore[misc]


def test_kink_conventions():
    z = np.array([0.0])
    assert ReLU().derivative(z, ReLU().value(z))[0] == 0.0
    assert LeakyReLU(0.1).derivative(z, z)[0] == np.float64(0.1)
    assert AllReLU(-0.3).derivative(z, z)[0] == 1.0
    assert ELU(0.5).derivative(z, z)[0] == 0.5
    t = TReLU(0.5)
    np.testing.assert_array_equal(t.value(np.array([0.49, 0.5, 0.7])), [0.0, 0.5, 0.7])
    np.testing.assert_array_equal(t.derivative(np.array([0.49, 0.5]), None), [0.0, 1.0])


def test_piecewise_values():
    z = np.array([-2.0, 3.0])
    np.testing.assert_array_equal(LeakyReLU(0.1).value(z), [-0.2, 3.0])
    np.testing.assert_array_equal(AllReLU(-0.5).value(z), [1.0, 3.0])
    np.testing.assert_array_equal(ReLU().value(z), [0.0, 3.0])
    assert Identity().value(z) is z


def test_all_relu_alternating():
    acts = all_relu_alternating(0.25, 5)
    assert [a.alpha for a in acts] == [0.0, -0.25, 0.25, -0.25, 0.25]
    assert all(isinstance(a, AllReLU) for a in acts)
    assert [a.alpha for a in all_relu_alternating(-0.25, 3)] == [0.0, -0.25, 0.25]
    z = np.array([-1.5, 0.0, 2.0])
    np.testing.assert_array_equal(acts[0].value(z), ReLU().value(z))  # layer 1 is a ReLU
    assert all_relu_alternating(0.1, 0) == []
    with pytest.raises(ValueError, match="-1"):
        all_relu_alternating(0.1, -1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_primitives_at_extremes(dtype):
    x = np.array([-1e4, -800.0, 0.0, 800.0, 1e4], dtype=dtype)
    np.testing.assert_array_equal(sigmoid(x), np.array([0.0, 0.0, 0.5, 1.0, 1.0], dtype))
    np.testing.assert_array_equal(softplus(x), np.array([0.0, 0.0, np.log(2), 800, 1e4], dtype))
    np.testing.assert_array_equal(log_sigmoid(x), -softplus(-x))
    X = np.array([[1e4, -1e4, 0.0], [1e4 - 1, 0.0, 0.0], [0.0, -3e4, 0.0]], dtype)
    S = softmax(X)
    assert S.dtype == dtype
    np.testing.assert_allclose(S.sum(axis=0), 1, rtol=1e-6)
    np.testing.assert_allclose(S[:, 2], 1 / 3, rtol=1e-6)
    with np.errstate(under="ignore"):
        np.testing.assert_allclose(np.exp(log_softmax(X)), S, rtol=1e-5, atol=1e-30)
    assert np.all(np.isfinite(log_softmax(X)))


def test_softmax_is_shift_invariant():
    X = np.random.default_rng(2).standard_normal((5, 4))
    np.testing.assert_allclose(softmax(X + 1000.0), softmax(X), rtol=1e-12)
    np.testing.assert_allclose(log_softmax(X - 500.0), log_softmax(X), atol=1e-11)


@pytest.mark.parametrize(
    ("act", "torch_name"),
    [
        (GELU(), "gelu"),
        (SiLU(), "silu"),
        (ELU(), "elu"),
        (ELU(0.7), "elu"),
        (Softplus(), "softplus"),
        (Sigmoid(), "sigmoid"),
        (Tanh(), "tanh"),
        (LeakyReLU(0.2), "leaky_relu"),
    ],
    ids=repr,
)
def test_against_torch(act, torch_name):
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    F = torch.nn.functional
    kwargs = {}
    if torch_name == "elu":
        kwargs = {"alpha": act.alpha}
    elif torch_name == "leaky_relu":
        kwargs = {"negative_slope": act.alpha}
    fn = getattr(torch, torch_name) if torch_name in ("sigmoid", "tanh") else getattr(F, torch_name)
    Z = away_from_kinks(np.random.default_rng(3), (4, 6)) * 2
    Zt = torch.tensor(Z, requires_grad=True)
    Yt = fn(Zt, **kwargs)
    Yt.sum().backward()
    np.testing.assert_allclose(act.value(Z), Yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        act.derivative(Z, act.value(Z)), Zt.grad.numpy(), rtol=1e-10, atol=1e-14
    )
