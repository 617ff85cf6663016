"""The law against hand-computed values; optimal allocation against numerical minimisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from sprig.errors import ConfigError
from sprig.scaling.law import PUBLISHED, ScalingLaw

# The published constants, typed again from fitting.ipynb's output (not imported).
A, B, E = math.exp(5.240737178917673), math.exp(6.103030891809012), math.exp(0.8535501324918354)
AL = 0.3268217718148829
EPS, MU, C = -0.009680437509279435, 0.8466179337054532, -0.2728893199074849
G1, G2 = 11.087637121468322, 4.404748822323469
C11, C12, C21, C22 = 1.9039562899771467, 1.8213812238803706, 2.79909312658146, 1.3653091691735397


def hand_f(s: float) -> float:
    return 1.0 if s == 1 else s**EPS + C * (1 - s) ** MU


def hand_loss(N: float, s: float, D: float, U: float) -> float:
    """The full law, written out with scalar math only."""
    n = N * s
    U = min(U, D)
    As = A * hand_f(s)
    G = (AL * As / (AL * B)) ** (1 / (2 * AL))
    C_u = 6 * (G * U) ** 2  # (α+β)/α = 2 with β = α
    un = min(n, G * (C_u / 6) ** 0.5)
    rn, rd = max(n / un - 1, 0.0), max(D / U - 1, 0.0)
    x = 1 - s
    rns = G1 * (1 + C11 * x - C21 * x * x)
    rds = G2 * (1 + C12 * x - C22 * x * x)
    n_eff = un + un * rns * (1 - math.exp(-rn / rns))
    d_eff = U + U * rds * (1 - math.exp(-rd / rds))
    return E + As / n_eff**AL + B / d_eff**AL


def test_density_factor_matches_the_reference_table() -> None:
    # dst.md §5.6: f ≈ 1.000, 0.855, 0.800, 0.777, 0.769 at s = 1, 1/2, 1/4, 1/8, 1/16
    s = np.array([1, 0.5, 0.25, 0.125, 0.0625])
    np.testing.assert_allclose(
        PUBLISHED.density_factor(s), [1, 0.855, 0.800, 0.777, 0.769], atol=6e-4
    )
    for si in s:
        assert float(PUBLISHED.density_factor(si)) == pytest.approx(hand_f(float(si)), rel=1e-14)


@pytest.mark.parametrize(
    "N, s, D, U",
    [
        (1e9, 1.0, 20e9, 20e9),  # dense, one epoch
        (2e8, 0.5, 4e9, 1e9),  # sparse, 4 epochs, smaller than U_N
        (7.68e9, 0.25, 10.4e9, 2.6e9),  # larger than U_N: repeated parameters
        (3e10, 0.0625, 1e9, 1e8),  # 10 epochs, far over-parameterised
        (1e9, 0.5, 1e9, 5e9),  # U > D: only the seen tokens count
    ],
)
def test_full_law_matches_hand_computation(N: float, s: float, D: float, U: float) -> None:
    assert float(PUBLISHED.loss(N, s, D, U)) == pytest.approx(hand_loss(N, s, D, U), rel=1e-12)


def test_published_validation_point() -> None:
    # fitting.ipynb: 7.68B params, density 0.25, 10.4B tokens over 2.6B unique: pred 2.7790
    assert float(PUBLISHED.loss(7.68e9, 0.25, 10.4e9, 2.6e9)) == pytest.approx(2.7790, abs=5e-4)


def test_one_epoch_law_and_vectorisation() -> None:
    N = np.array([1e8, 1e9, 1e10])[:, None]
    s = np.array([1.0, 0.5, 0.125])[None, :]
    got = PUBLISHED.one_epoch_loss(N, s, 1e10)
    assert got.shape == (3, 3)
    want = E + A * np.vectorize(hand_f)(s) / (N * s) ** AL + B / 1e10**AL
    np.testing.assert_allclose(got, want, rtol=1e-13)
    # U omitted: one epoch; a model at or below U_N gets the one-epoch value
    assert float(PUBLISHED.loss(1e8, 1.0, 1e11)) == pytest.approx(
        float(PUBLISHED.one_epoch_loss(1e8, 1.0, 1e11)), rel=1e-12
    )


@pytest.mark.parametrize("s", [1.0, 0.5, 0.1])
@pytest.mark.parametrize("C", [1e18, 1e22])
def test_compute_optimal_allocation_minimises_the_law(s: float, C: float) -> None:
    law = PUBLISHED

    def loss_at(log_n: float) -> float:
        n = math.exp(log_n)
        return float(law.one_epoch_loss(n / s, s, C / (6 * n)))

    res = minimize_scalar(loss_at, bracket=(5.0, 30.0), tol=1e-12)
    n_star = float(law.optimal_active_params(C, s))
    assert math.exp(res.x) == pytest.approx(n_star, rel=1e-4)
    assert float(law.optimal_tokens(C, s)) == pytest.approx(C / (6 * n_star), rel=1e-10)
    assert float(law.optimal_params(C, s)) == pytest.approx(n_star / s, rel=1e-12)
    # C(D*) inverts D*
    assert float(law.compute_for_tokens(law.optimal_tokens(C, s), s)) == pytest.approx(C, rel=1e-10)


def test_untied_exponents_allocation() -> None:
    law = PUBLISHED.with_constants(beta=0.28)
    s, C = 0.25, 1e21

    def loss_at(log_n: float) -> float:
        n = math.exp(log_n)
        return float(law.one_epoch_loss(n / s, s, C / (6 * n)))

    res = minimize_scalar(loss_at, bracket=(5.0, 30.0), tol=1e-12)
    assert math.exp(res.x) == pytest.approx(float(law.optimal_active_params(C, s)), rel=1e-4)


def test_best_loss_and_floor_against_brute_force() -> None:
    law, s, U, C = PUBLISHED, 0.3, 1e9, 3e20
    n = np.geomspace(1e6, 1e13, 200001)
    brute = float(np.min(law.loss(n / s, s, C / (6 * n), U)))
    assert float(law.best_loss(s, U, C)) == pytest.approx(brute, rel=1e-7)
    assert float(law.best_loss(s, U, C)) <= brute + 1e-12
    # the floor is the limit of huge models trained on huge token counts
    floor = float(law.loss_floor(s, U))
    assert float(law.loss(1e22, s, 1e24, U)) == pytest.approx(floor, rel=1e-6)
    assert float(law.best_loss(s, U, C)) > floor


def test_loss_optimal_density_minimises_the_floor() -> None:
    law, U = PUBLISHED, 1e10
    s_opt, l_opt = law.loss_optimal_density(U, s_min=0.05)
    res = minimize_scalar(
        lambda v: float(law.loss_floor(v, U)),
        bounds=(0.05, 1.0),
        method="bounded",
        options={"xatol": 1e-8},
    )
    assert s_opt == pytest.approx(float(res.x), abs=1e-4)
    assert l_opt == pytest.approx(float(res.fun), rel=1e-10)
    # the paper's finding: loss-optimal sparsity is moderate (about 50 %)
    assert 0.4 < s_opt < 0.65


def test_compute_optimal_density() -> None:
    law, U = PUBLISHED, 1e9
    C = 1000 * float(law.compute_for_tokens(U, 1.0))
    out = law.compute_optimal_density(U, C, s_min=0.05, points=20)
    # the dense model needs about C to reach its own loss; the optimum needs less
    dense_need = float(law.compute_to_reach(out["target"] * (1 + 1e-9), 1.0, U))
    assert dense_need == pytest.approx(C, rel=1e-3)
    assert out["compute"] < dense_need and out["saving"] > 1
    assert float(law.best_loss(out["density"], U, out["compute"])) <= out["target"] * (1 + 1e-9)
    assert out["density"] < 1
    # a target below a density's floor is never reached
    assert np.isinf(law.compute_to_reach(law.loss_floor(0.05, U) - 1e-3, 0.05, U))


def test_scale_invariance_with_tied_exponents() -> None:
    # With β = α the optimal densities depend on C only through C / C_U.
    law = PUBLISHED
    r = [
        law.loss_optimal_density(U, 100 * float(law.compute_for_tokens(U, 1.0)), points=30)[0]
        for U in (1e8, 1e11)
    ]
    assert r[0] == pytest.approx(r[1], abs=1e-4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: PUBLISHED.loss(1e9, 0.0, 1e9), "density must be in"),
        (lambda: PUBLISHED.loss(1e9, 1.5, 1e9), "density must be in"),
        (lambda: PUBLISHED.loss(-1.0, 0.5, 1e9), "params must be > 0"),
        (lambda: PUBLISHED.loss(1e9, 0.5, float("nan")), "tokens must be finite"),
        (lambda: PUBLISHED.loss(1e9, 0.5, 1e9, 0.0), "unique must be > 0"),
        (lambda: PUBLISHED.with_constants(zeta=1.0), "unknown constant"),
        (lambda: ScalingLaw(gamma1=float("nan")).loss(1e9, 1.0, 4e9, 1e9), "no repetition"),
        (lambda: ScalingLaw(gamma1=float("nan")).loss_floor(0.5, 1e9), "repetition constants"),
        (lambda: PUBLISHED.loss_optimal_density(1e9, s_min=0.0), "s_min"),
    ],
)
def test_bad_input_is_refused(call, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def test_one_epoch_only_law_predicts_one_epoch() -> None:
    law = ScalingLaw(gamma1=float("nan"))
    assert not law.multi_epoch
    assert float(law.loss(1e10, 0.5, 1e9, 1e9)) == pytest.approx(
        float(law.one_epoch_loss(1e10, 0.5, 1e9)), rel=1e-14
    )
