r"""Gradient clipping over the gradient arrays of a model, in place.

Gradients of sparse weights are their ``(nnz,)`` value arrays, so the global norm counts stored
entries only (a masked dense gradient has zeros elsewhere, so the norm is the same).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .errors import ConfigError, DivergenceError
from .typing import FloatArray

__all__ = ["clip_grad_norm", "clip_grad_value", "global_norm"]


def _check_positive(name: str, x: float) -> float:
    xf = float(x)
    if not (math.isfinite(xf) and xf > 0.0):
        raise ConfigError(f"{name} must be a finite number > 0, got {x!r}")
    return xf


def global_norm(grads: Sequence[FloatArray]) -> float:
    r"""The L2 norm of all entries of all arrays, ``√(Σ_a Σ_i a_i²)``, as a Python float.

    Each array's sum of squares is accumulated in its own dtype (BLAS dot) and the per-array
    sums in float64.

    Examples:
        >>> global_norm([np.array([3.0]), np.array([[4.0]])])
        5.0
    """
    total = 0.0
    for g in grads:
        flat = np.asarray(g).reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):
            total += float(np.dot(flat, flat))
    return math.sqrt(total) if math.isfinite(total) else total


def clip_grad_norm(
    grads: Sequence[FloatArray], max_norm: float, *, error_if_nonfinite: bool = False
) -> float:
    r"""Scale all gradients in place so that their global L2 norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_`` (``norm_type=2``)::

        n = √(Σ ‖g‖²);   c = max_norm / (n + 1e-6);   if c < 1:  g ← c·g  for every g

    Returns the norm *before* clipping. If the norm is not finite the gradients are left
    untouched (PyTorch would multiply them by ``nan`` or ``0``) and the ``inf``/``nan`` norm is
    returned, or :class:`~sprig.errors.DivergenceError` is raised if ``error_if_nonfinite``.

    Args:
        grads: the gradient arrays (writeable; ``(nnz,)`` value arrays for sparse weights).
        max_norm: largest allowed global norm, ``> 0``.
        error_if_nonfinite: raise instead of skipping when the norm is ``inf`` or ``nan``.

    Raises:
        ValueError: (``ConfigError``) if ``max_norm`` is not a finite number ``> 0``.

    Examples:
        >>> g = [np.array([3.0, 0.0]), np.array([4.0])]
        >>> clip_grad_norm(g, 1.0)
        5.0
        >>> [np.round(a, 6).tolist() for a in g]
        [[0.6, 0.0], [0.8]]
    """
    max_norm = _check_positive("max_norm", max_norm)
    norm = global_norm(grads)
    if not math.isfinite(norm):
        if error_if_nonfinite:
            raise DivergenceError(f"gradient norm is {norm}; cannot clip non-finite gradients")
        return norm
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        for g in grads:
            np.multiply(g, g.dtype.type(coef), out=g)
    return norm


def clip_grad_value(grads: Sequence[FloatArray], clip_value: float) -> None:
    r"""Clip every gradient entry to ``[−clip_value, clip_value]`` in place.

    As ``torch.nn.utils.clip_grad_value_``. ``nan`` entries stay ``nan``.

    Raises:
        ValueError: (``ConfigError``) if ``clip_value`` is not a finite number ``> 0``.

    Examples:
        >>> g = np.array([-3.0, 0.5, 2.0])
        >>> clip_grad_value([g], 1.0)
        >>> g.tolist()
        [-1.0, 0.5, 1.0]
    """
    c = _check_positive("clip_value", clip_value)
    for g in grads:
        np.clip(g, -c, c, out=g)
