r"""Fit the sparse data-constrained law to runs, in the paper's four stages.

The procedure of the authors' ``fitting/fitting.ipynb`` (Wu, Xiao et al., arXiv 2606.01155):
float64; the objective is the **sum of Huber losses** (``δ = 1e-3``) between the predicted
and the observed **log** loss; each stage is minimised by L-BFGS from every point of a grid of
initial values, and the best end point wins.

====== ========================================== =========================================
stage  runs                                        constants (the rest fixed)
====== ========================================== =========================================
1      one-epoch, dense                            ``a, b, e, α`` (``β = α``)
2      all one-epoch (dense and sparse)            ``a, b, e, α, ε, μ, c`` (from stage 1)
3      dense, repeated data (``D > U``)            ``γ1 = R*_N, γ2 = R*_D``
4      sparse, repeated data (``D > U``)           ``c11, c12, c21, c22``
====== ========================================== =========================================

Start grids (``grid="paper"``, as published): stage 1 ``a, b ∈ linspace(0, 10, 5)``,
``e ∈ linspace(−1, 1, 4)``, ``α ∈ linspace(0, 1, 4)``; stage 2 ``ε, μ, c ∈ linspace(−2, 2,
5)``; stage 3 ``γ1, γ2 ∈ linspace(1, 20, 10)``; stage 4 ``c·· ∈ linspace(−2, 2, 5)``.
``grid="coarse"`` uses 1–2 points per axis (32 starts in all; for tests and quick looks).

Choices where the paper leaves a detail open:

* **Optimiser**: SciPy's L-BFGS-B without bounds (history 10, up to 1000 iterations, exact
  gradients of the Huber objective, tested against finite differences) instead of PyTorch's
  L-BFGS with strong-Wolfe line search (50 outer steps × 20 iterations, autograd); both are
  quasi-Newton runs to convergence from each start.
* **One-epoch runs** are those with ``tokens ≤ unique`` (``D/U ≤ 1``); as in the paper (separate
  one-epoch and multi-epoch result files) they follow the one-epoch law of stages 1–2, and the
  repeated-data runs the full law of stages 3–4. The two forms differ for one-epoch runs of
  models larger than their data's compute-optimal size (``R_N > 0``), which the full law
  shrinks; R² and held-out predictions therefore use, for each run, the form its stage fits.
* **Identifiability**: a stage refuses (:class:`~sprig.errors.ConfigError`, one line) when its
  runs cannot determine a free constant: stage 1 needs ≥ 2 model sizes and ≥ 2 token counts
  among dense one-epoch runs; stage 2 needs as many distinct densities below 1 as it has free
  density constants (``ε, μ, c``: 3); ``γ2`` needs dense runs at ≥ 2 repetition levels
  ``D/U > 1``; ``γ1`` needs ≥ 2 dense runs larger than the compute-optimal size of their unique
  data (``R_N > 0``, judged with the stage-2 constants); ``c12, c22`` need repeated-data runs
  at ≥ 2 densities below 1, ``c11, c21`` runs with ``R_N > 0`` at ≥ 2 densities below 1. Every
  stage also needs at least as many runs as free constants. A constant the runs cannot
  determine can be **fixed** (``fix={"gamma1": 11.09}``): fixed constants are not fitted, and
  a stage whose constants are all fixed is skipped.
* **R²** is computed on the loss (not log-loss) scale, as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..typing import FloatArray
from .law import PUBLISHED, ScalingLaw
from .runs import Runs

STAGE_CONSTANTS: dict[int, tuple[str, ...]] = {
    1: ("a", "b", "e", "alpha"),
    2: ("a", "b", "e", "alpha", "epsilon", "mu", "c"),
    3: ("gamma1", "gamma2"),
    4: ("c11", "c12", "c21", "c22"),
}
FITTABLE = (
    "a",
    "b",
    "e",
    "alpha",
    "epsilon",
    "mu",
    "c",
    "gamma1",
    "gamma2",
    "c11",
    "c12",
    "c21",
    "c22",
)
GRIDS = ("paper", "coarse")
NAN = float("nan")


def _grids(kind: str) -> dict[str, FloatArray]:
    if kind == "paper":
        return {
            "a": np.linspace(0, 10, 5),
            "b": np.linspace(0, 10, 5),
            "e": np.linspace(-1, 1, 4),
            "alpha": np.linspace(0, 1, 4),
            "epsilon": np.linspace(-2, 2, 5),
            "mu": np.linspace(-2, 2, 5),
            "c": np.linspace(-2, 2, 5),
            "gamma1": np.linspace(1, 20, 10),
            "gamma2": np.linspace(1, 20, 10),
            "c11": np.linspace(-2, 2, 5),
            "c12": np.linspace(-2, 2, 5),
            "c21": np.linspace(-2, 2, 5),
            "c22": np.linspace(-2, 2, 5),
        }
    return {
        "a": np.array([2.0, 8.0]),
        "b": np.array([2.0, 8.0]),
        "e": np.array([0.5]),
        "alpha": np.array([0.3, 0.6]),
        "epsilon": np.array([0.0]),
        "mu": np.array([0.5, 1.5]),
        "c": np.array([-0.5, 0.5]),
        "gamma1": np.array([5.0, 15.0]),
        "gamma2": np.array([5.0, 15.0]),
        "c11": np.array([0.0, 1.0]),
        "c12": np.array([0.0, 1.0]),
        "c21": np.array([0.0, 1.0]),
        "c22": np.array([0.0, 1.0]),
    }


def huber(r: FloatArray, delta: float) -> FloatArray:
    """``½ r²`` for ``|r| ≤ δ``, else ``δ(|r| − ½δ)`` (PyTorch's ``huber_loss``)."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def log_loss(law: ScalingLaw, runs: Runs, *, one_epoch: bool = False) -> FloatArray:
    """Predicted log-loss of every run, as a log-sum-exp (the fit's parametrisation);
    ``one_epoch``: the one-epoch law ``L(N·s, D, s)`` (stages 1 and 2), no repetition terms."""
    n_eff: FloatArray
    d_eff: FloatArray
    if one_epoch:
        n_eff, d_eff = runs.params * runs.density, runs.tokens
    else:
        n_eff, d_eff = law.effective_sizes(runs.params, runs.density, runs.tokens, runs.unique)
    f = law.density_factor(runs.density)
    terms = np.stack(
        [
            law.a + np.log(f) - law.alpha * np.log(n_eff),
            law.b - law.beta_ * np.log(d_eff),
            np.full_like(n_eff, law.e),
        ]
    )
    m = terms.max(axis=0)
    return m + np.log(np.exp(terms - m).sum(axis=0))


def r2(y: FloatArray, p: FloatArray) -> float:
    """Coefficient of determination ``1 − SS_res / SS_tot`` (NaN for fewer than 2 runs)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    if len(y) < 2:
        return NAN
    ss = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - p) ** 2)) / ss if ss > 0 else NAN


@dataclass
class StageResult:
    """One stage: the constants it fitted, its objective, runs and R²."""

    stage: int
    runs: int
    fitted: dict[str, float]
    objective: float
    r2: float
    starts: int


@dataclass
class FitResult:
    """The fitted law, per-stage reports, R² on the fit runs, held-out predictions."""

    law: ScalingLaw
    stages: list[StageResult]
    fixed: dict[str, float]
    r2: float
    heldout: list[dict[str, float]] = field(default_factory=list)
    heldout_r2: float = NAN

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "constants": self.law.constants(),
            "fixed": self.fixed,
            "multi_epoch": self.law.multi_epoch,
            "r2": self.r2,
            "stages": [vars(s) for s in self.stages],
            "heldout": self.heldout,
            "heldout_r2": self.heldout_r2,
        }


# ------------------------------------------------------------------------------ helpers


def _distinct(x: FloatArray) -> int:
    return len(np.unique(np.round(np.asarray(x, float), 9)))


def _repetition(law: ScalingLaw, runs: Runs) -> tuple[FloatArray, FloatArray]:
    """``(R_N, R_D)`` of every run under ``law``'s stage-2 constants."""
    s = runs.density
    n = runs.params * s
    u = np.minimum(runs.unique, runs.tokens)
    un = np.minimum(n, law.optimal_active_params(law.compute_for_tokens(u, s), s))
    return np.maximum(n / un - 1.0, 0.0), np.maximum(runs.tokens / u - 1.0, 0.0)


def _refuse(name: str, why: str) -> ConfigError:
    pub = getattr(PUBLISHED, name)
    return ConfigError(
        f"cannot identify {name}: {why}; add such runs or fix it (e.g. --fix {name}={pub:.6g}, "
        "the published value)"
    )


def _minimize(
    objective: Callable[[FloatArray], tuple[float, FloatArray]], starts: Sequence[FloatArray]
) -> tuple[FloatArray, float]:
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    best_x: FloatArray | None = None
    best_v = math.inf
    for x0 in starts:
        # One BLAS thread: L-BFGS-B's tiny BLAS calls only lose to thread hand-offs.
        with np.errstate(all="ignore"), threadpool_limits(1):
            res = minimize(
                objective,
                np.asarray(x0, float),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": 1000, "maxcor": 10, "ftol": 1e-14, "gtol": 1e-10},
            )
        v = float(res.fun)
        if math.isfinite(v) and v < best_v:
            best_x, best_v = np.asarray(res.x, float), v
    if best_x is None:
        raise ConfigError("the fit failed: the objective is not finite at any start")
    return best_x, best_v


class _Objective:
    """Huber objective and its exact gradient for one stage, on precomputed run arrays.

    One-epoch mode (stages 1-2): terms ``a + log f(s) − α log n``, ``b − α log D``, ``e``.
    Multi-epoch mode (stages 3-4, stage-2 constants fixed): the same with ``n', D'``, whose
    repetition counts ``R_N, R_D`` and ``U_N`` depend only on the fixed constants.
    """

    def __init__(
        self, law: ScalingLaw, runs: Runs, free: Sequence[str], *, one_epoch: bool, delta: float
    ) -> None:
        self.base = {k: float(v) for k, v in law.constants().items()}
        self.tied = law.beta is None
        self.free = list(free)
        self.one_epoch = one_epoch
        self.delta = delta
        self.y = np.log(runs.loss)
        s = runs.density
        self.s = s
        self.x = 1.0 - s
        self.sparse = self.x > 0
        self.log_s = np.log(s)
        self.log_x = np.log(np.where(self.sparse, self.x, 1.0))
        n = runs.params * s
        u = np.minimum(runs.unique, runs.tokens)
        self.log_n = np.log(n)
        self.log_d = np.log(runs.tokens)
        if not one_epoch:
            un = np.minimum(n, law.optimal_active_params(law.compute_for_tokens(u, s), s))
            self.un = un
            self.u = u
            self.rn = np.maximum(n / un - 1.0, 0.0)
            self.rd = np.maximum(runs.tokens / u - 1.0, 0.0)

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        with np.errstate(all="ignore"):
            v, g = self._eval(theta)
        if not (math.isfinite(v) and np.all(np.isfinite(g))):
            return 1e10, np.zeros_like(theta)
        return v, g

    def _eval(self, theta: FloatArray) -> tuple[float, FloatArray]:
        k = dict(self.base)
        k.update(zip(self.free, (float(t) for t in theta), strict=True))
        x, sp = self.x, self.sparse
        xm = np.where(sp, np.exp(k["mu"] * self.log_x), 0.0)  # (1-s)^mu, 0 at s = 1
        se = np.exp(k["epsilon"] * self.log_s)
        f_raw = np.where(sp, se + k["c"] * xm, 1.0)
        f_ok = f_raw > 1e-12
        f = np.where(f_ok, f_raw, 1e-12)
        al = k["alpha"]
        be = al if self.tied else k["beta"]
        grads: dict[str, FloatArray] = {}
        if self.one_epoch:
            log_ne, log_de = self.log_n, self.log_d
        else:

            def eff(
                base: FloatArray, r: FloatArray, g0: float, c1: float, c2: float
            ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
                poly = 1.0 + c1 * x - c2 * x * x
                rs_raw = g0 * poly
                ok = rs_raw > 1e-8
                rs = np.where(ok, rs_raw, 1e-8)
                q = np.minimum(r / rs, 700.0)
                em = np.exp(-q)
                val = base * (1.0 + rs * (1.0 - em))
                dval_drs = np.where(ok, base * ((1.0 - em) - q * em), 0.0)
                return val, dval_drs, poly, rs

            ne, dne, poly_n, _ = eff(self.un, self.rn, k["gamma1"], k["c11"], k["c21"])
            de, dde, poly_d, _ = eff(self.u, self.rd, k["gamma2"], k["c12"], k["c22"])
            log_ne, log_de = np.log(ne), np.log(de)
            # d t1 / d R*_N = -alpha dne/ne ; d t2 / d R*_D = -beta dde/de
            t1_rn = -al * dne / ne
            t2_rd = -be * dde / de
            grads["gamma1"] = ("t1", t1_rn * poly_n)  # type: ignore[assignment]
            grads["c11"] = ("t1", t1_rn * k["gamma1"] * x)  # type: ignore[assignment]
            grads["c21"] = ("t1", -t1_rn * k["gamma1"] * x * x)  # type: ignore[assignment]
            grads["gamma2"] = ("t2", t2_rd * poly_d)  # type: ignore[assignment]
            grads["c12"] = ("t2", t2_rd * k["gamma2"] * x)  # type: ignore[assignment]
            grads["c22"] = ("t2", -t2_rd * k["gamma2"] * x * x)  # type: ignore[assignment]
        t1 = k["a"] + np.log(f) - al * log_ne
        t2 = k["b"] - be * log_de
        t3 = np.full_like(t1, k["e"])
        m = np.maximum(np.maximum(t1, t2), t3)
        e1, e2, e3 = np.exp(t1 - m), np.exp(t2 - m), np.exp(t3 - m)
        z = e1 + e2 + e3
        pred = m + np.log(z)
        p1, p2, p3 = e1 / z, e2 / z, e3 / z
        r = pred - self.y
        d = self.delta
        value = float(np.sum(np.where(np.abs(r) <= d, 0.5 * r * r, d * (np.abs(r) - 0.5 * d))))
        psi = np.clip(r, -d, d)
        w1, w2, w3 = psi * p1, psi * p2, psi * p3
        dlogf = np.where(f_ok & sp, 1.0 / f, 0.0)
        full = {
            "a": np.sum(w1),
            "b": np.sum(w2),
            "e": np.sum(w3),
            # beta tied to alpha (the published form) moves with it
            "alpha": np.sum(-w1 * log_ne - (w2 * log_de if self.tied else 0.0)),
            "epsilon": np.sum(w1 * dlogf * se * self.log_s),
            "mu": np.sum(w1 * dlogf * k["c"] * xm * self.log_x),
            "c": np.sum(w1 * dlogf * xm),
        }
        for name, (term, dt) in grads.items():  # type: ignore[misc]
            full[name] = np.sum((w1 if term == "t1" else w2) * dt)
        g = np.array([float(full[n]) for n in self.free])
        return value, g


# ------------------------------------------------------------------------------ fit


def fit(
    runs: Runs,
    *,
    fix: Mapping[str, float] | None = None,
    grid: str | Mapping[str, Sequence[float]] = "paper",
    delta: float = 1e-3,
    stages: Sequence[int] = (1, 2, 3, 4),
) -> FitResult:
    """Fit the law to the ``split=fit`` runs in the paper's stages; predict the held-out ones.

    Args:
        runs: validated runs (:func:`sprig.scaling.runs.read_runs`).
        fix: constants not to fit, by name (see :data:`FITTABLE`).
        grid: ``"paper"`` (the published start grids), ``"coarse"``, or a mapping of
            constant name → start values (names not given use the coarse grid).
        delta: Huber threshold on the log-loss residual.
        stages: the stages to run, a prefix of ``(1, 2, 3, 4)``; without 3 and 4 the law has
            no repetition constants (one-epoch law only).

    Raises:
        ConfigError: a bad option, or runs that cannot identify a free constant (the message
            names it and how to fix it).
    """
    fixed = {k: float(v) for k, v in (fix or {}).items()}
    bad = sorted(set(fixed) - set(FITTABLE))
    if bad:
        raise ConfigError(f"cannot fix {', '.join(bad)}; allowed: {', '.join(FITTABLE)}")
    if any(not math.isfinite(v) for v in fixed.values()):
        raise ConfigError(f"fixed constants must be finite, got {fixed}")
    if isinstance(grid, str):
        if grid not in GRIDS:
            raise ConfigError(f"grid={grid!r}; allowed: {', '.join(GRIDS)}")
        grids = _grids(grid)
    else:
        bad = sorted(set(grid) - set(FITTABLE))
        if bad:
            raise ConfigError(f"grid names {', '.join(bad)}; allowed: {', '.join(FITTABLE)}")
        grids = {**_grids("coarse"), **{k: np.asarray(v, float) for k, v in grid.items()}}
    if not (delta > 0 and math.isfinite(delta)):
        raise ConfigError(f"delta must be > 0, got {delta!r}")
    stages = tuple(int(s) for s in stages)
    if stages not in {(1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)}:
        raise ConfigError(f"stages must be 1, 1-2, 1-3 or 1-4, got {stages}")
    train = runs.select(~runs.heldout)
    if len(train) == 0:
        raise ConfigError("no runs to fit: every run is marked split=heldout")
    nan_rep = {k: NAN for k in STAGE_CONSTANTS[3] + STAGE_CONSTANTS[4]}
    law = PUBLISHED.with_constants(**nan_rep, **fixed)
    one = train.epochs <= 1 + 1e-9
    multi = ~one
    dense = train.density >= 1.0
    results: list[StageResult] = []

    def run_stage(
        stage: int, sel: np.ndarray, names: Sequence[str], init: Mapping[str, float] | None
    ) -> None:
        nonlocal law
        free = [k for k in names if k not in fixed]
        if not free:
            return
        sub = train.select(sel)
        if len(sub) < len(free):
            raise ConfigError(
                f"stage {stage} has {len(sub)} run(s) for {len(free)} free constants "
                f"({', '.join(free)}); it needs at least as many runs"
            )
        base = law
        objective = _Objective(base, sub, free, one_epoch=stage <= 2, delta=delta)

        axes = [[init[k]] if init is not None and k in init else grids[k] for k in free]
        starts = [np.asarray(p, float) for p in product(*axes)]
        x, v = _minimize(objective, starts)
        law = base.with_constants(**dict(zip(free, (float(t) for t in x), strict=True)))
        with np.errstate(all="ignore"):
            pred = np.exp(log_loss(law, sub, one_epoch=stage <= 2))
        results.append(
            StageResult(
                stage,
                len(sub),
                {k: float(getattr(law, k)) for k in free},
                v,
                r2(sub.loss, pred),
                len(starts),
            )
        )

    # ---- stage 1: dense one-epoch (only an initial point for stage 2)
    s1 = one & dense
    if any(k not in fixed for k in STAGE_CONSTANTS[1]) and (
        _distinct(train.params[s1]) < 2 or _distinct(train.tokens[s1]) < 2
    ):
        raise ConfigError(
            "cannot identify a, b, e, alpha: stage 1 needs dense (density 1) one-epoch runs "
            f"at >= 2 model sizes and >= 2 token counts, got {_distinct(train.params[s1])} "
            f"size(s) and {_distinct(train.tokens[s1])} token count(s)"
        )
    run_stage(1, s1, STAGE_CONSTANTS[1], None)
    if 2 in stages:
        free_f = [k for k in ("epsilon", "mu", "c") if k not in fixed]
        dens = np.unique(train.density[one & ~dense])
        if free_f and len(dens) < len(free_f):
            raise _refuse(
                free_f[0],
                f"the one-epoch runs have {len(dens)} distinct density(ies) below 1 "
                f"({', '.join(f'{d:g}' for d in dens) or 'none'}); the density factor's "
                f"{len(free_f)} free constant(s) {', '.join(free_f)} need as many",
            )
        init = {k: float(getattr(law, k)) for k in STAGE_CONSTANTS[1]}
        run_stage(2, one, STAGE_CONSTANTS[2], init)
    if 3 in stages:
        rn, _ = _repetition(law, train)
        if "gamma2" not in fixed:
            levels = _distinct(train.epochs[dense & multi])
            if levels < 2:
                raise _refuse(
                    "gamma2",
                    f"dense runs repeat their data at {levels} level(s) (tokens/unique > 1); "
                    "R*_D needs >= 2",
                )
        if "gamma1" not in fixed and int(np.sum(dense & multi & (rn > 0))) < 2:
            raise _refuse(
                "gamma1",
                f"{int(np.sum(dense & multi & (rn > 0)))} dense repeated-data run(s) are "
                "larger than the compute-optimal size of their unique data (R_N > 0); "
                "R*_N needs >= 2",
            )
        # Stage 3 sees dense runs only, where c11..c22 do not enter: 0 until stage 4.
        law = law.with_constants(**{k: fixed.get(k, 0.0) for k in STAGE_CONSTANTS[4]})
        law = law.with_constants(**{k: fixed.get(k, 1.0) for k in STAGE_CONSTANTS[3]})
        run_stage(3, dense & multi, STAGE_CONSTANTS[3], None)
        if 4 not in stages:
            law = law.with_constants(**{k: NAN for k in STAGE_CONSTANTS[4] if k not in fixed})
    if 4 in stages:
        sparse = ~dense & multi
        dn = np.unique(train.density[sparse & (rn > 0)])
        dd = np.unique(train.density[sparse])
        for name, got, what in (
            ("c12", dd, "repeated-data runs (tokens/unique > 1)"),
            ("c22", dd, "repeated-data runs (tokens/unique > 1)"),
            ("c11", dn, "runs larger than their data's optimal size"),
            ("c21", dn, "runs larger than their data's optimal size"),
        ):
            if name not in fixed and len(got) < 2:
                raise _refuse(name, f"{what} exist at {len(got)} density(ies) below 1; needs >= 2")
        run_stage(4, sparse, STAGE_CONSTANTS[4], None)
    pred = _predict_each(law, train)
    ok = np.isfinite(pred)
    result = FitResult(law, results, fixed, r2(train.loss[ok], pred[ok]))
    held = runs.select(runs.heldout)
    if len(held):
        hp = _predict_each(law, held)
        result.heldout = [
            {
                "params": float(held.params[i]),
                "density": float(held.density[i]),
                "tokens": float(held.tokens[i]),
                "unique": float(held.unique[i]),
                "loss": float(held.loss[i]),
                "predicted": float(hp[i]),
                "error": float(hp[i] - held.loss[i]),
            }
            for i in range(len(held))
        ]
        okh = np.isfinite(hp)
        result.heldout_r2 = r2(held.loss[okh], hp[okh])
    return result


def _predict_each(law: ScalingLaw, runs: Runs) -> FloatArray:
    """Predicted loss per run by the form its stage fits (one-epoch law for ``D ≤ U``, full
    law otherwise); NaN where the law cannot predict it (no repetition constants)."""
    out = np.full(len(runs), NAN)
    one = runs.epochs <= 1 + 1e-9
    with np.errstate(all="ignore"):
        out[one] = law.one_epoch_loss(runs.params[one], runs.density[one], runs.tokens[one])
        if law.multi_epoch and (~one).any():
            m = ~one
            out[m] = law.loss(runs.params[m], runs.density[m], runs.tokens[m], runs.unique[m])
    return out
