"""Central finite differences in float64 for checking backward equations.

``check(f, inputs, backprop_grads)`` compares the analytic gradient of ``⟨R, f(X)⟩`` (for a
fixed random ``R``) with ``(g(x+ε) − g(x−ε)) / 2ε`` entry by entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

EPS = 1e-6


def numerical_grad(
    loss: Callable[[], float],
    x: np.ndarray,
    eps: float = EPS,
    positions: Sequence[int] | None = None,
) -> np.ndarray:
    """∂loss/∂x by central differences, perturbing ``x`` in place (restored afterwards).

    ``positions`` limits the check to some flat positions (the rest are returned as 0).
    """
    if x.dtype != np.float64:
        raise TypeError(f"finite differences need float64, got {x.dtype}")
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for p in range(flat.size) if positions is None else positions:
        old = flat[p]
        flat[p] = old + eps
        up = loss()
        flat[p] = old - eps
        down = loss()
        flat[p] = old
        gflat[p] = (up - down) / (2 * eps)
    return g


def assert_close(
    analytic: np.ndarray,
    numeric: np.ndarray,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    what: str = "gradient",
) -> None:
    """Relative comparison scaled by the gradient's magnitude (robust to tiny entries)."""
    scale = max(1.0, float(np.abs(numeric).max(initial=0.0)))
    err = float(np.abs(analytic - numeric).max(initial=0.0))
    if err > atol + rtol * scale:
        raise AssertionError(f"{what}: max abs error {err:.3g} (scale {scale:.3g})")
