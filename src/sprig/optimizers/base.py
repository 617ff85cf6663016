r"""Optimizer protocol: update rules over flat value arrays, with per-entry state.

An optimizer is an update rule and nothing else (no schedule, no parameter ownership):

* ``init(value) -> state`` creates the state for one parameter array;
* ``step(value, grad, state, lr=...)`` updates ``value`` **in place** (and the state's arrays
  in place) for one optimizer step with learning rate ``lr`` (the trainer evaluates the
  schedule).

``value`` is ``W.data`` (``(nnz,)``) for a sparse weight or any dense array (bias, dense
weight, batch-norm γ/β), so SGD, momentum, Nesterov, Adam and AdamW are written once for both.

State is a dataclass; fields declared with :func:`per_entry` hold one value per entry of the
parameter (momentum, Adam moments, SMET step counters). :func:`remap_state` carries those
fields through a topology edit with no per-optimizer code: kept entries keep their state,
inserted entries get the field's documented fill (zeros unless the field says otherwise).

Every optimizer here keeps per-entry state in arrays of ``value``'s shape (C-contiguous, same
dtype, except integer step counters) and updates them with one fused Numba loop
(``_kernels.py``), so a step allocates nothing of size ``nnz`` when ``value`` and ``grad`` are
contiguous and of the same dtype. Since every rule is element-wise, a sparse update equals the
dense update restricted to the stored entries.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

import numpy as np

from ..errors import ConfigError
from ..matrices.remap import Remap
from ..typing import FloatArray

S = TypeVar("S")


def per_entry(fill: float = 0.0) -> Any:
    """Declare a dataclass field that is aligned with the parameter's entries.

    ``fill`` is the value given to entries inserted by a topology edit.
    """
    return dataclasses.field(metadata={"per_entry": True, "fill": fill})


class Optimizer(Protocol[S]):
    """An update rule over one flat parameter array."""

    def init(self, value: FloatArray) -> S:
        """State for a parameter with current values ``value``."""
        ...

    def step(self, value: FloatArray, grad: FloatArray, state: S, *, lr: float) -> None:
        """Update ``value`` (and ``state``) in place."""
        ...


def remap_state(state: S, remap: Remap) -> S:
    """Carry every :func:`per_entry` field of ``state`` through a topology edit.

    Returns a new state object; the old one is left untouched.
    """
    if not dataclasses.is_dataclass(state):
        raise TypeError(f"optimizer state must be a dataclass, got {type(state).__name__}")
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(state):
        if f.metadata.get("per_entry"):
            arr = getattr(state, f.name)
            changes[f.name] = remap.apply(arr, fill=f.metadata.get("fill", 0.0))
    return dataclasses.replace(state, **changes)  # type: ignore[type-var]


def state_arrays(state: Any) -> Mapping[str, Any]:
    """The fields of a state dataclass as a flat mapping (for checkpoints)."""
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}


def state_from_arrays(cls: type[S], arrays: Mapping[str, Any]) -> S:
    """Inverse of :func:`state_arrays` (scalars come back as Python numbers)."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in arrays:
            raise KeyError(f"optimizer state is missing field {f.name!r}")
        v = arrays[f.name]
        kwargs[f.name] = v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v
    return cls(**kwargs)


# ----------------------------------------------------------------- helpers for implementations
def check_lr(lr: float) -> float:
    """Return ``lr`` as a float; raise ``ValueError`` unless it is finite and ``>= 0``."""
    lr_f = float(lr)
    if not (math.isfinite(lr_f) and lr_f >= 0.0):
        raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
    return lr_f


def check_range(
    name: str, x: float, lo: float, hi: float = math.inf, *, hi_open: bool = False
) -> None:
    """Raise :class:`~sprig.errors.ConfigError` unless ``lo <= x <= hi`` (``< hi`` if open)."""
    ok = isinstance(x, numbers.Real) and not isinstance(x, bool) and lo <= x
    ok = ok and (x < hi if hi_open else x <= hi)
    if not ok:
        bracket = ")" if hi_open else "]"
        raise ConfigError(f"{name} must be a number in [{lo}, {hi}{bracket}, got {x!r}")


def flat_views(value: FloatArray, grad: FloatArray) -> tuple[FloatArray, FloatArray]:
    """1-D views of ``value`` (must be C-contiguous float32/float64) and of ``grad``.

    ``grad`` is converted to ``value``'s dtype and made contiguous only when it is not already
    (then it is copied once).

    Raises:
        ValueError: on a shape mismatch, a non-float ``value``, or a non-contiguous ``value``
            (whose update could not be done in place through a view).
    """
    if not isinstance(value, np.ndarray) or value.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"value must be a float32 or float64 array, got {getattr(value, 'dtype', value)!r}"
        )
    if not value.flags.c_contiguous or not value.flags.writeable:
        raise ValueError("value must be a writeable C-contiguous array (it is updated in place)")
    grad = np.asarray(grad)
    if grad.shape != value.shape:
        raise ValueError(f"grad has shape {grad.shape}, expected value's shape {value.shape}")
    g = np.ascontiguousarray(grad, dtype=value.dtype)
    return value.reshape(-1), g.reshape(-1)


def flat_state(name: str, arr: Any, value: FloatArray) -> Any:
    """1-D view of a per-entry state array, checked against ``value``.

    Raises:
        ValueError: if ``arr`` does not have ``value``'s shape (typically: the state was not
            carried through a topology edit with :func:`remap_state`).
    """
    if not isinstance(arr, np.ndarray) or arr.shape != value.shape:
        raise ValueError(
            f"optimizer state {name!r} has shape {getattr(arr, 'shape', None)}, expected "
            f"{value.shape}; after a topology edit call remap_state(state, remap)"
        )
    if not arr.flags.c_contiguous:
        raise ValueError(f"optimizer state {name!r} must be C-contiguous")
    return arr.reshape(-1)
