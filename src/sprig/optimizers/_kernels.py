# mypy: disable-error-code="no-untyped-def,call-overload"
r"""Fused element-wise update loops for the optimizers (one pass, no temporaries).

Each optimizer step reads and writes every entry once: a NumPy expression of the same rule
would allocate several ``(nnz,)`` temporaries and make several passes over memory, and these
updates are memory-bound. The loops take 1-D views (the caller flattens) and Python floats;
arithmetic is in float64 and the result is stored in the array's dtype. Serial on purpose: a
``prange`` loop doubles the JIT compile time for a memory-bound loop that gains little.
"""

from __future__ import annotations

import math

import numba as nb

_JIT = {"nogil": True, "cache": True}


@nb.njit(**_JIT)
def sgd(w, g, lr, wd):  # pragma: no cover - jitted
    for i in range(w.shape[0]):
        w[i] -= lr * (g[i] + wd * w[i])


@nb.njit(**_JIT)
def momentum(w, g, d, lr, mu, wd, nesterov):  # pragma: no cover - jitted
    for i in range(w.shape[0]):
        gi = g[i] + wd * w[i]
        di = mu * d[i] - lr * gi
        d[i] = di
        if nesterov:
            w[i] += mu * di - lr * gi
        else:
            w[i] += di


@nb.njit(**_JIT)
def adam(w, g, m, v, step_size, sqrt_bc2, b1, b2, eps, wd, decay, scale):  # pragma: no cover
    # One shared step t: step_size = lr / (1 - b1^t), sqrt_bc2 = sqrt(1 - b2^t),
    # decay = 1 - lr*wd_decoupled, wd = coupled L2, scale = warm-up factor of m (1 = off).
    for i in range(w.shape[0]):
        gi = g[i] + wd * w[i]
        mi = (b1 * m[i] + (1.0 - b1) * gi) * scale
        vi = b2 * v[i] + (1.0 - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] = w[i] * decay - step_size * mi / (math.sqrt(vi) / sqrt_bc2 + eps)


@nb.njit(**_JIT)
def adam_per_entry(w, g, m, v, t, lr, b1, b2, eps, wd, decay, warmup):  # pragma: no cover
    # Per-entry step counters t (SMET). Bias corrections are recomputed only when t changes
    # from one entry to the next: almost all entries share one t, and pow is the costly part.
    prev = -1
    step_size = 0.0
    sqrt_bc2 = 1.0
    scale = 1.0
    for i in range(w.shape[0]):
        ti = t[i] + 1
        t[i] = ti
        if ti != prev:
            prev = ti
            step_size = lr / (1.0 - b1 ** float(ti))
            sqrt_bc2 = math.sqrt(1.0 - b2 ** float(ti))
            scale = min(float(ti) / warmup, 1.0) if warmup > 0 else 1.0
        gi = g[i] + wd * w[i]
        mi = (b1 * m[i] + (1.0 - b1) * gi) * scale
        vi = b2 * v[i] + (1.0 - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] = w[i] * decay - step_size * mi / (math.sqrt(vi) / sqrt_bc2 + eps)
