r"""What the trainer hands the DST criteria for one sparse layer.

* :class:`GradientSample` — the layer's last batch as ``(Xt, dYt)`` (feature-major), from
  which any entry of the batch weight gradient ``dW = dYt Xtᵀ`` can be computed on demand
  without ever storing the dense ``(out × in)`` gradient (RigL growth streams it in row blocks,
  sampled growth uses an SDDMM).
* :class:`LayerInfo` — optional per-entry arrays aligned with ``W.data`` (the gradient of the
  stored entries, a momentum-like optimizer quantity) plus the :class:`GradientSample`.

Every field is optional; a criterion that needs a missing one raises ``ValueError`` naming it
(:meth:`LayerInfo.need`).

**Declared needs.** Every prune and grow criterion declares which fields it reads as data, in
its attribute ``needs`` (a ``frozenset`` of :data:`GRADIENT`, :data:`GRADIENT_SAMPLE`,
:data:`MOMENTUM`; read with :func:`needs_of`, empty when absent); a
:class:`~sprig.sparsity.algorithms.DSTAlgorithm`'s ``needs`` is the union of its parts'. The
trainer gathers exactly those inputs and never branches on a criterion's or algorithm's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..typing import FloatArray

__all__ = [
    "GRADIENT",
    "GRADIENT_SAMPLE",
    "MOMENTUM",
    "NEEDS",
    "GradientSample",
    "LayerInfo",
    "declare",
    "momentum_of",
    "needs_of",
]

#: The gradient of the stored entries (:attr:`LayerInfo.grad`).
GRADIENT = "gradient"
#: The last batch in factored form (:attr:`LayerInfo.sample`).
GRADIENT_SAMPLE = "gradient_sample"
#: A momentum-like optimizer quantity of the stored entries (:attr:`LayerInfo.momentum`).
MOMENTUM = "momentum"
#: Every input a criterion may declare, and the :class:`LayerInfo` field that carries it.
NEEDS: dict[str, str] = {GRADIENT: "grad", GRADIENT_SAMPLE: "sample", MOMENTUM: "momentum"}


def needs_of(component: Any) -> frozenset[str]:
    """The inputs ``component`` declares in its ``needs`` attribute (empty if it has none).

    >>> sorted(needs_of(declare(lambda W, k, rng, info=None: None, needs={GRADIENT})))
    ['gradient']
    >>> needs_of(None)
    frozenset()
    """
    needs = frozenset(getattr(component, "needs", frozenset()))
    unknown = needs - NEEDS.keys()
    if unknown:
        raise ValueError(
            f"{component!r} declares unknown needs {sorted(unknown)}; known: {sorted(NEEDS)}"
        )
    return needs


def declare(fn: Any, *, needs: Any = (), takes_fraction: bool = False) -> Any:
    """Attach the declarations of a criterion function (its ``needs`` and, for prune criteria
    that take a fraction instead of a count, ``takes_fraction``) and return it."""
    fn.needs = frozenset(needs)
    if takes_fraction:
        fn.takes_fraction = True
    return fn


@dataclass(frozen=True, eq=False)
class GradientSample:
    """The batch gradient of one layer in factored form: ``dW = dYt @ Xt.T``.

    Attributes:
        Xt: layer input, feature-major ``(in_features, N)``.
        dYt: gradient w.r.t. the layer's pre-activation output, feature-major
            ``(out_features, N)`` (already including the loss reduction, e.g. ``1/N``).

    Both must have the same dtype and batch size. Memory ``O(N (in + out))``.
    """

    Xt: FloatArray
    dYt: FloatArray

    def __post_init__(self) -> None:
        if self.Xt.ndim != 2 or self.dYt.ndim != 2:
            raise ValueError(
                f"Xt and dYt must be 2-D feature-major arrays, got {self.Xt.shape}, "
                f"{self.dYt.shape}"
            )
        if self.Xt.shape[1] != self.dYt.shape[1]:
            raise ValueError(f"batch sizes differ: Xt {self.Xt.shape} vs dYt {self.dYt.shape}")
        if self.Xt.dtype != self.dYt.dtype:
            raise ValueError(f"Xt has dtype {self.Xt.dtype}, dYt has {self.dYt.dtype}")

    def check(self, shape: tuple[int, int]) -> None:
        """Raise ``ValueError`` unless this sample fits a weight of ``shape = (out, in)``."""
        if (self.dYt.shape[0], self.Xt.shape[0]) != tuple(shape):
            raise ValueError(
                f"gradient sample gives dW of shape {(self.dYt.shape[0], self.Xt.shape[0])}, "
                f"the weight has shape {tuple(shape)}"
            )


@dataclass(frozen=True, eq=False)
class LayerInfo:
    """Optional information about one sparse layer at a topology update.

    Attributes:
        grad: gradient of the stored entries, aligned with ``W.data`` (``(nnz,)``): the
            layer's gradient buffer after the last backward pass (SNIP-style and MEST scores).
        momentum: a momentum-like per-entry quantity aligned with ``W.data`` (SNFS's
            redistribution): e.g. ``momentum_of(optimizer_state)``.
        sample: the last batch in factored form, for gradient-based growth (RigL, GraNet,
            SNFS growth, sampled RigL).
    """

    grad: FloatArray | None = None
    momentum: FloatArray | None = None
    sample: GradientSample | None = None

    def need(self, field: str, nnz: int | None = None, who: str = "this criterion") -> Any:
        """The field's value; ``ValueError`` if missing or (per-entry) of the wrong length."""
        value = getattr(self, field)
        if value is None:
            raise ValueError(f"{who} needs info.{field}, which the trainer did not provide")
        if nnz is not None and field in ("grad", "momentum") and np.shape(value) != (nnz,):
            raise ValueError(
                f"info.{field} has shape {np.shape(value)}, expected ({nnz},) aligned with W.data"
            )
        return value


def momentum_of(state: Any, eps: float = 1e-8) -> FloatArray | None:
    """A momentum-like per-entry array from an optimizer state, as SNFS uses it.

    * Adam-like state (fields ``m`` and ``v``): ``m / (√v + eps)`` (Dettmers & Zettlemoyer
      2019, ``sparse_learning`` for Adam);
    * momentum state with field ``delta`` (velocity) or ``momentum`` / ``m``: that array;
    * anything else (plain SGD): ``None``.

    Only the magnitude is used, so the sign convention of the velocity does not matter.
    """
    m = getattr(state, "m", None)
    v = getattr(state, "v", None)
    if isinstance(m, np.ndarray) and isinstance(v, np.ndarray):
        return m / (np.sqrt(v) + eps)
    for name in ("delta", "momentum", "m"):
        a = getattr(state, name, None)
        if isinstance(a, np.ndarray):
            return a
    return None
