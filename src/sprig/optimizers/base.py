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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

import numpy as np

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
