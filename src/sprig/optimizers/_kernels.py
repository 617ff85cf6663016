# mypy: disable-error-code="no-untyped-def,call-overload"
r"""Fused element-wise update loops for the optimizers (one pass, no temporaries).

Each optimizer step reads and writes every entry once: a NumPy expression of the same rule
would allocate several ``(nnz,)`` temporaries and make several passes over memory, and these
updates are memory-bound. The loops take 1-D views (the caller flattens) and Python floats.
Scalars are cast to the array's dtype once, so float32 parameters are updated in float32
arithmetic (as PyTorch does) and the loops vectorise; step-dependent factors (bias corrections)
are computed in float64 first. ``fastmath`` is limited to flags that keep ``nan``/``inf``
propagating (no ``nnan``/``ninf``), so a diverging update still shows up in the weights.
Serial on purpose: a ``prange`` loop doubles the compile time of a memory-bound loop that gains
little from a second thread.
"""

from __future__ import annotations

import math

import numba as nb

_JIT = {"nogil": True, "cache": True, "fastmath": {"nsz", "arcp", "contract", "afn", "reassoc"}}


@nb.njit(**_JIT)
def sgd(w, g, lr, wd):  # pragma: no cover - jitted
    f = w.dtype.type
    lr_, wd_ = f(lr), f(wd)
    for i in range(w.shape[0]):
        w[i] -= lr_ * (g[i] + wd_ * w[i])


@nb.njit(**_JIT)
def momentum(w, g, d, lr, mu, wd, nesterov):  # pragma: no cover - jitted
    f = w.dtype.type
    lr_, mu_, wd_ = f(lr), f(mu), f(wd)
    for i in range(w.shape[0]):
        gi = g[i] + wd_ * w[i]
        di = mu_ * d[i] - lr_ * gi
        d[i] = di
        if nesterov:
            w[i] += mu_ * di - lr_ * gi
        else:
            w[i] += di


@nb.njit(**_JIT)
def adam(w, g, m, v, step_size, sqrt_bc2, b1, b2, eps, wd, decay, scale):  # pragma: no cover
    # One shared step t: step_size = lr / (1 - b1^t), sqrt_bc2 = sqrt(1 - b2^t),
    # decay = 1 - lr*wd_decoupled, wd = coupled L2, scale = warm-up factor of m (1 = off).
    f = w.dtype.type
    ss, sb, e = f(step_size), f(sqrt_bc2), f(eps)
    b1_, b2_, c1, c2 = f(b1), f(b2), f(1.0 - b1), f(1.0 - b2)
    wd_, dec, sc = f(wd), f(decay), f(scale)
    for i in range(w.shape[0]):
        gi = g[i] + wd_ * w[i]
        mi = (b1_ * m[i] + c1 * gi) * sc
        vi = b2_ * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] = w[i] * dec - ss * mi / (math.sqrt(vi) / sb + e)


@nb.njit(**_JIT)
def adam_per_entry(w, g, m, v, t, lr, b1, b2, eps, wd, decay, warmup):  # pragma: no cover
    # Per-entry step counters t (SMET). Bias corrections are recomputed only when t changes
    # from one entry to the next: almost all entries share one t, and pow is the costly part.
    f = w.dtype.type
    e = f(eps)
    b1_, b2_, c1, c2 = f(b1), f(b2), f(1.0 - b1), f(1.0 - b2)
    wd_, dec = f(wd), f(decay)
    prev = -1
    ss = f(0.0)
    sb = f(1.0)
    sc = f(1.0)
    for i in range(w.shape[0]):
        ti = t[i] + 1
        t[i] = ti
        if ti != prev:
            prev = ti
            ss = f(lr / (1.0 - b1 ** float(ti)))
            sb = f(math.sqrt(1.0 - b2 ** float(ti)))
            sc = f(min(float(ti) / warmup, 1.0)) if warmup > 0 else f(1.0)
        gi = g[i] + wd_ * w[i]
        mi = (b1_ * m[i] + c1 * gi) * sc
        vi = b2_ * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] = w[i] * dec - ss * mi / (math.sqrt(vi) / sb + e)
