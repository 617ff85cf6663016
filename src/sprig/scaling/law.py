r"""The sparse data-constrained scaling law of Wu, Xiao et al. (ICML 2026, arXiv 2606.01155).

Inputs (NumPy arrays or numbers, broadcast together, float64):

* ``N``: **dense-equivalent** parameter count (the weights a dense model of the same shape has);
* ``s``: density in ``(0, 1]``; the active (stored, trained) parameters are ``n = N·s``;
* ``D``: total training tokens (or samples), repetitions included;
* ``U``: unique tokens; ``D / U`` is the number of epochs.

The paper writes the law in the active count ``n`` (its code multiplies the raw size by the
density first), so all formulas below use ``n = N·s``.

**Sparse one-epoch law** (the paper's stage 2, tied exponents ``β = α``)::

    L(n, D, s) = E + A·f(s) / n^α + B / D^β,        f(s) = s^ε + c·(1 − s)^μ

**Compute-optimal allocation** at a fixed density, compute ``C = 6·n·D`` (active weights
only: the FLOPs of an ideal sparse kernel)::

    G(s) = (α·A·f(s) / (β·B))^(1/(α+β)),   n*(C, s) = G·(C/6)^(β/(α+β)),
    D*(C, s) = (C/6)^(α/(α+β)) / G,        C(D, s) = 6·(G·D)^((α+β)/α)   (inverse of D*)

**Data-constrained multi-epoch law** (stages 3 and 4, after Muennighoff et al. 2023)::

    U_N = min(n, n*(C(U, s), s))          R_N = max(n / U_N − 1, 0)    R_D = max(D / U − 1, 0)
    n'  = U_N + U_N·R*_N(s)·(1 − exp(−R_N / R*_N(s)))
    D'  = U   + U·R*_D(s)·(1 − exp(−R_D / R*_D(s)))
    L   = E + A·f(s) / n'^α + B / D'^β
    R*_N(s) = γ1·(1 + c11·(1 − s) − c21·(1 − s)²),   R*_D(s) = γ2·(1 + c12·(1 − s) − c22·(1 − s)²)

``U_N`` is the compute-optimal active size for the unique data: parameters beyond it count
as "repeated parameters" with diminishing returns, like repeated tokens.

Choices where the paper (or its code) leaves a detail open — all tested:

* ``U`` larger than ``D`` (a run that did not see all of its unique data): ``U`` is replaced
  by ``min(U, D)`` — only seen tokens count (the paper's ``optimal_sparsity`` notebook does
  the same, ``min(UT, t)``). ``U`` omitted means ``U = D`` (one epoch).
* ``f(1) = 1`` exactly (the ``(1 − s)^μ`` term vanishes for the dense model whatever ``μ``);
  the code clips ``s`` to ``1 − 1e-8`` instead, a relative difference below 1e-6 for the
  published ``μ``. ``f`` and ``R*`` are clamped below at ``1e-12`` and ``1e-8`` as in the code
  (a fitted curve may dip below zero far from the data).
* ``β`` is a separate field (default: tied to ``α``, as published); the formulas are general.
* **Optimal densities for a unique-data budget** ``U`` (the paper shows them as a figure,
  ``figures/optimal_sparsity.ipynb``, computed on a grid): :meth:`best_loss` minimises the
  law over the model size at fixed compute ``C = 6·n·D`` (``D = C/(6n)``, unique tokens
  ``min(U, D)``), by a log-grid and golden-section search over ±4 decades around ``n*``.
  The **loss-optimal** density minimises it over ``s`` (with ``C=None``: the closed-form
  limit :meth:`loss_floor`). The **compute-optimal** density is the one that reaches the
  dense model's best loss at ``C`` with the least compute (:meth:`compute_to_reach`, a
  bisection in ``log C``). The notebook instead takes, on its 18-point FLOP grid, the
  *sparsest* density meeting the dense target at the *first* grid budget where any does; that
  rule gives sparser answers that move with the grid (see
  ``experiments/scaling_paper_figure.py``). With ``β = α`` the law is scale-invariant: both
  optimal densities depend on ``C`` and ``U`` only through ``C / C(U, 1)``.

Published constants (``fitting/fitting.ipynb`` output of the authors' code,
boqian333/sparse-dc-scaling; summarised in ``shared/reference/dst.md`` §5.6) are the defaults:
``PUBLISHED``.

>>> law = ScalingLaw()
>>> round(float(law.density_factor(0.5)), 4)
0.855
>>> round(float(law.loss(1e9, 1.0, 20e9)), 4)  # dense 1B, one epoch of 20B tokens
2.7563
>>> round(float(law.loss(7.68e9, 0.25, 10.4e9, 2.6e9)), 3)  # a held-out run: true 2.780
2.779
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..typing import FloatArray

_EXP_MAX = 700.0  # exp(-x) for x > 700 is treated as 0 (no underflow trap)
F_MIN = 1e-12  # clamp of the density factor (the authors' code)
R_MIN = 1e-8  # clamp of R*_N(s), R*_D(s) (the authors' code)


def _arr(x: Any, name: str, *, low: float = 0.0, high: float | None = None) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{name} must be finite, got {x!r}")
    if np.any(a <= low) or (high is not None and np.any(a > high)):
        rng = f"in ({low:g}, {high:g}]" if high is not None else f"> {low:g}"
        bad = a[(a <= low) | (a > high if high is not None else False)].ravel()[0]
        raise ConfigError(f"{name} must be {rng}, got {bad!r}")
    return a


def _one_minus_exp(x: FloatArray) -> FloatArray:
    """``1 − exp(−x)`` for ``x ≥ 0`` without underflow traps."""
    return -np.expm1(-np.minimum(x, _EXP_MAX))


@dataclass(frozen=True)
class ScalingLaw:
    """Constants of the law (log-scale ``a, b, e`` as the paper fits them: ``A = e^a``...).

    ``beta=None`` ties ``β = α`` (the published fit). ``gamma1``/``gamma2`` (``R*_N, R*_D``
    of the dense model) and ``c11, c12, c21, c22`` may be NaN for a law fitted on one-epoch
    runs only; :meth:`loss` is then the one-epoch law and refuses repeated data (``D > U``).
    """

    a: float = 5.240737178917673
    b: float = 6.103030891809012
    e: float = 0.8535501324918354
    alpha: float = 0.3268217718148829
    beta: float | None = None
    epsilon: float = -0.009680437509279435
    mu: float = 0.8466179337054532
    c: float = -0.2728893199074849
    gamma1: float = 11.087637121468322
    gamma2: float = 4.404748822323469
    c11: float = 1.9039562899771467
    c12: float = 1.8213812238803706
    c21: float = 2.79909312658146
    c22: float = 1.3653091691735397

    # ------------------------------------------------------------------ constants
    @property
    def A(self) -> float:
        return math.exp(self.a)

    @property
    def B(self) -> float:
        return math.exp(self.b)

    @property
    def E(self) -> float:
        return math.exp(self.e)

    @property
    def beta_(self) -> float:
        """``β`` (``α`` when tied)."""
        return self.alpha if self.beta is None else float(self.beta)

    @property
    def multi_epoch(self) -> bool:
        """Whether the repetition constants are known (stages 3 and 4 fitted or published)."""
        return all(
            math.isfinite(v)
            for v in (self.gamma1, self.gamma2, self.c11, self.c12, self.c21, self.c22)
        )

    def constants(self) -> dict[str, float]:
        """All constants by name, ``beta`` resolved; plus ``A, B, E``."""
        d = {k: (float(v) if v is not None else self.alpha) for k, v in asdict(self).items()}
        d.update(A=self.A, B=self.B, E=self.E)
        return d

    def with_constants(self, **kw: float) -> ScalingLaw:
        """A copy with some constants replaced (names as the fields)."""
        names = {f.name for f in fields(self)}
        bad = sorted(set(kw) - names)
        if bad:
            raise ConfigError(f"unknown constant(s) {', '.join(bad)}; allowed: {', '.join(names)}")
        return replace(self, **kw)

    # ------------------------------------------------------------------ pieces
    def density_factor(self, s: Any) -> FloatArray:
        """``f(s) = s^ε + c·(1 − s)^μ`` with ``f(1) = 1``, clamped at 1e-12."""
        s = _arr(s, "density", high=1.0)
        x = 1.0 - s
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            tail = np.where(x > 0, self.c * np.power(np.where(x > 0, x, 1.0), self.mu), 0.0)
        return np.maximum(np.power(s, self.epsilon) + tail, F_MIN)

    def rn_star(self, s: Any) -> FloatArray:
        """``R*_N(s) = γ1·(1 + c11·(1 − s) − c21·(1 − s)²)`` (clamped at 1e-8)."""
        x = 1.0 - _arr(s, "density", high=1.0)
        return np.maximum(self.gamma1 * (1.0 + self.c11 * x - self.c21 * x * x), R_MIN)

    def rd_star(self, s: Any) -> FloatArray:
        """``R*_D(s) = γ2·(1 + c12·(1 − s) − c22·(1 − s)²)`` (clamped at 1e-8)."""
        x = 1.0 - _arr(s, "density", high=1.0)
        return np.maximum(self.gamma2 * (1.0 + self.c12 * x - self.c22 * x * x), R_MIN)

    def G(self, s: Any) -> FloatArray:
        """``G(s) = (α·A·f(s) / (β·B))^(1/(α+β))``."""
        al, be = self.alpha, self.beta_
        return np.power(al * self.A * self.density_factor(s) / (be * self.B), 1.0 / (al + be))

    # ------------------------------------------------------------------ allocation
    def optimal_active_params(self, C: Any, s: Any = 1.0) -> FloatArray:
        """Compute-optimal active parameter count ``n*(C, s) = G·(C/6)^(β/(α+β))``."""
        C = _arr(C, "compute")
        al, be = self.alpha, self.beta_
        return self.G(s) * np.power(C / 6.0, be / (al + be))

    def optimal_params(self, C: Any, s: Any = 1.0) -> FloatArray:
        """Compute-optimal **dense-equivalent** size ``N* = n* / s``."""
        return self.optimal_active_params(C, s) / _arr(s, "density", high=1.0)

    def optimal_tokens(self, C: Any, s: Any = 1.0) -> FloatArray:
        """Compute-optimal tokens ``D*(C, s) = (C/6)^(α/(α+β)) / G``."""
        C = _arr(C, "compute")
        al, be = self.alpha, self.beta_
        return np.power(C / 6.0, al / (al + be)) / self.G(s)

    def compute_for_tokens(self, D: Any, s: Any = 1.0) -> FloatArray:
        """``C(D, s) = 6·(G·D)^((α+β)/α)``: the budget whose optimal token count is ``D``."""
        D = _arr(D, "tokens")
        al, be = self.alpha, self.beta_
        return 6.0 * np.power(self.G(s) * D, (al + be) / al)

    # ------------------------------------------------------------------ the law
    def one_epoch_loss(self, N: Any, s: Any, D: Any) -> FloatArray:
        """The sparse one-epoch law ``E + A·f(s)/(N·s)^α + B/D^β`` (no repetition)."""
        s = _arr(s, "density", high=1.0)
        n = _arr(N, "params") * s
        D = _arr(D, "tokens")
        return self.E + self.A * self.density_factor(s) / n**self.alpha + self.B / D**self.beta_

    def effective_sizes(
        self, N: Any, s: Any, D: Any, U: Any = None
    ) -> tuple[FloatArray, FloatArray]:
        """``(n', D')``: the effective active parameters and tokens of the multi-epoch law."""
        s = _arr(s, "density", high=1.0)
        n = _arr(N, "params") * s
        D = _arr(D, "tokens")
        U = D if U is None else np.minimum(_arr(U, "unique"), D)
        rd = np.maximum(D / U - 1.0, 0.0)
        if not self.multi_epoch:
            if np.any(rd > 0):
                raise ConfigError(
                    "this law has no repetition constants (fitted on one-epoch runs only): "
                    "it cannot predict repeated data (tokens > unique)"
                )
            # The one-epoch (stage-2) law: no repeated tokens, parameters counted in full.
            return np.broadcast_arrays(n * 1.0, U * 1.0)  # type: ignore[return-value]
        un = np.minimum(n, self.optimal_active_params(self.compute_for_tokens(U, s), s))
        rn = np.maximum(n / un - 1.0, 0.0)
        rns, rds = self.rn_star(s), self.rd_star(s)
        n_eff = un + un * rns * _one_minus_exp(rn / rns)
        d_eff = U + U * rds * _one_minus_exp(rd / rds)
        return n_eff, d_eff

    def loss(self, N: Any, s: Any, D: Any, U: Any = None) -> FloatArray:
        """Predicted loss of a model of ``N`` dense-equivalent parameters at density ``s``
        trained on ``D`` tokens drawn from ``U`` unique ones (``U=None``: ``U = D``)."""
        n_eff, d_eff = self.effective_sizes(N, s, D, U)
        f = self.density_factor(s)
        return self.E + self.A * f / n_eff**self.alpha + self.B / d_eff**self.beta_

    __call__ = loss

    # ------------------------------------------------------------------ fixed unique data
    def loss_floor(self, s: Any, U: Any) -> FloatArray:
        """Infimum of the loss over all model sizes and token counts for ``U`` unique tokens:
        ``E + A·f(s)/(U_N·(1 + R*_N))^α + B/(U·(1 + R*_D))^β`` (the limit ``n, D → ∞``)."""
        if not self.multi_epoch:
            raise ConfigError("the loss floor needs the repetition constants (stages 3 and 4)")
        s = _arr(s, "density", high=1.0)
        U = _arr(U, "unique")
        un = self.optimal_active_params(self.compute_for_tokens(U, s), s)
        f = self.density_factor(s)
        return (
            self.E
            + self.A * f / (un * (1.0 + self.rn_star(s))) ** self.alpha
            + self.B / (U * (1.0 + self.rd_star(s))) ** self.beta_
        )

    def best_loss(self, s: Any, U: Any, C: Any = None) -> FloatArray:
        """Lowest predicted loss at density ``s`` with ``U`` unique tokens and compute ``C``
        (``C = 6·n·D``), minimised over the model size (``D = C / (6n)``); ``C=None``: no
        compute limit (:meth:`loss_floor`)."""
        if C is None:
            return self.loss_floor(s, U)
        s, U, C = np.broadcast_arrays(
            _arr(s, "density", high=1.0), _arr(U, "unique"), _arr(C, "compute")
        )
        n0 = self.optimal_active_params(C, s)

        def f(t: FloatArray) -> FloatArray:
            n = n0[..., None] * np.exp(t)
            D = C[..., None] / (6.0 * n)
            ss = s[..., None]
            return self.loss(n / ss, ss, D, U[..., None])

        return _minimize_log(f, n0.shape, span=math.log(1e4))[1]

    def compute_to_reach(self, target: Any, s: Any, U: Any) -> FloatArray:
        """Least compute at which density ``s`` reaches loss ``target`` with ``U`` unique
        tokens (``inf`` when its :meth:`loss_floor` is above ``target``)."""
        s, U, target = np.broadcast_arrays(
            _arr(s, "density", high=1.0), _arr(U, "unique"), np.asarray(target, float)
        )
        reach = self.loss_floor(s, U) < target
        # Bracket in log C: from far below the data's compute scale to far above.
        c_u = self.compute_for_tokens(U, s)
        lo = np.log(c_u) - 40.0
        hi = np.log(c_u) + 40.0
        ok_hi = self.best_loss(s, U, np.exp(hi)) <= target
        for _ in range(7):  # widen when 40 e-folds are not enough
            grow = reach & ~ok_hi
            if not grow.any():
                break
            hi = np.where(grow, hi + 40.0, hi)
            ok_hi = self.best_loss(s, U, np.exp(hi)) <= target
        for _ in range(32):
            mid = 0.5 * (lo + hi)
            ok = self.best_loss(s, U, np.exp(mid)) <= target
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        return np.where(reach & ok_hi, np.exp(hi), np.inf)

    def loss_optimal_density(
        self, U: float, C: float | None = None, *, s_min: float = 0.01, points: int = 200
    ) -> tuple[float, float]:
        """``(s, loss)``: the density with the lowest :meth:`best_loss` for ``U`` unique
        tokens and compute ``C`` (``None``: unlimited), searched on ``[s_min, 1]``."""
        grid = _density_grid(s_min, points)

        def f(s: FloatArray) -> FloatArray:
            return self.best_loss(s, U, C)

        return _refine_min(f, grid)

    def compute_optimal_density(
        self, U: float, C: float, *, s_min: float = 0.01, points: int = 100
    ) -> dict[str, float]:
        """The density that reaches the dense model's best loss at compute ``C`` (with ``U``
        unique tokens) with the least compute. Returns ``density``, ``compute`` (its least
        compute), ``saving`` (``C`` / that compute) and ``target`` (the dense loss)."""
        target = float(self.best_loss(1.0, U, C))
        grid = _density_grid(s_min, points)
        # Nudge the target up by 1e-12 relative so that s = 1 reaches it at about C.
        need = self.compute_to_reach(target * (1 + 1e-12), grid, U)
        i = int(np.argmin(need))
        return {
            "density": float(grid[i]),
            "compute": float(need[i]),
            "saving": float(C / need[i]),
            "target": target,
        }


PUBLISHED = ScalingLaw()
"""The published law (stage-2 constants, stage-3 ``γ1, γ2``, stage-4 ``c11…c22``)."""


def law_from_constants(constants: Mapping[str, Any]) -> ScalingLaw:
    """A :class:`ScalingLaw` from a mapping of constant names (extra keys ``A, B, E`` are
    ignored; missing names keep the published values)."""
    names = {f.name for f in fields(ScalingLaw)}
    kw = {k: float(v) for k, v in constants.items() if k in names and v is not None}
    return ScalingLaw(**kw)


# ------------------------------------------------------------------------------ search


def _density_grid(s_min: float, points: int) -> FloatArray:
    if not 0 < s_min < 1:
        raise ConfigError(f"s_min must be in (0, 1), got {s_min!r}")
    if points < 3:
        raise ConfigError(f"points must be >= 3, got {points!r}")
    return np.linspace(s_min, 1.0, points)


def _minimize_log(
    f: Callable[[FloatArray], FloatArray],
    shape: tuple[int, ...],
    *,
    span: float,
    points: int = 81,
    iters: int = 36,
) -> tuple[FloatArray, FloatArray]:
    """Minimise ``f(t)`` over ``t ∈ [−span, span]`` for every element of ``shape`` at once:
    a grid, then golden-section search in the bracket around the best grid point."""
    t = np.linspace(-span, span, points)
    vals = f(np.broadcast_to(t, (*shape, points)))
    i = np.argmin(vals, axis=-1)
    lo = t[np.maximum(i - 1, 0)] * 1.0
    hi = t[np.minimum(i + 1, points - 1)] * 1.0
    best_t = t[i] * 1.0
    best_v = np.take_along_axis(vals, i[..., None], axis=-1)[..., 0]
    g = (math.sqrt(5) - 1) / 2
    x1 = hi - g * (hi - lo)
    x2 = lo + g * (hi - lo)
    f1, f2 = f(x1[..., None])[..., 0], f(x2[..., None])[..., 0]
    for _ in range(iters):
        left = f1 < f2  # the minimum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        new = np.where(left, hi - g * (hi - lo), lo + g * (hi - lo))
        fnew = f(new[..., None])[..., 0]
        x1, x2 = np.where(left, new, x2), np.where(left, x1, new)
        f1, f2 = np.where(left, fnew, f2), np.where(left, f1, fnew)
    xm = 0.5 * (lo + hi)
    vm = f(xm[..., None])[..., 0]
    better = vm < best_v
    return np.where(better, xm, best_t), np.where(better, vm, best_v)


def _refine_min(f: Callable[[FloatArray], FloatArray], grid: FloatArray) -> tuple[float, float]:
    """Minimum of a scalar function of the density: grid, then bounded Brent refinement."""
    from scipy.optimize import minimize_scalar

    vals = np.asarray(f(grid))
    i = int(np.argmin(vals))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = (float(grid[i]), float(vals[i]))
    if hi > lo:
        res = minimize_scalar(
            lambda x: float(f(np.asarray([x]))[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-6},
        )
        if res.fun < best[1]:
            best = (float(res.x), float(res.fun))
    return best
