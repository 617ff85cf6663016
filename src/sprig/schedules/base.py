"""Schedule protocol and the validation shared by the schedules.

A schedule is a plain callable ``step -> lr`` over optimizer steps (``step = 0`` is the first
step). All schedules here are frozen dataclasses with a registry ``name``; the trainer
evaluates ``lr = schedule(step)`` and passes it to ``Optimizer.step``. Epoch-indexed schedules
(Nerva's, called once per epoch with the epoch index) are adapted with
:class:`~sprig.schedules.PerEpoch`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Protocol

from ..errors import ConfigError
from ..specs.registry import POSITIVE, Param

#: The initial learning rate every schedule spec takes first.
LR = Param("lr", POSITIVE, aliases=("learning_rate", "eta"), doc="initial learning rate")


def epoch_indexed(
    factory: Any, steps_per_epoch: int, epochs: int | None = None, **params: Any
) -> Any:
    """Builder of a schedule whose spec parameters are in epochs and which changes at epoch
    boundaries (Nerva's): ``PerEpoch(factory(**params), steps_per_epoch)`` (the run length
    ``epochs`` is not one of its parameters)."""
    del epochs
    from .wrappers import PerEpoch

    return PerEpoch(factory(**params), steps_per_epoch)


class Schedule(Protocol):
    """A learning rate for every optimizer step."""

    def __call__(self, step: int) -> float:
        """The learning rate at ``step`` (``>= 0``)."""
        ...


def check_step(step: int) -> int:
    """Return ``step`` as an int; raise ``ValueError`` unless it is an integer ``>= 0``."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"step must be an integer >= 0, got {step!r}")
    return int(step)


def check_number(
    name: str, x: object, lo: float, hi: float = math.inf, *, lo_open: bool = False
) -> float:
    """Return ``x`` as a float; :class:`ConfigError` unless ``lo <= x <= hi`` (``lo < x``)."""
    ok = isinstance(x, numbers.Real) and not isinstance(x, bool)
    xf = float(x) if ok else math.nan  # type: ignore[arg-type]
    ok = ok and (xf > lo if lo_open else xf >= lo) and xf <= hi and not math.isnan(xf)
    if not ok:
        left = "(" if lo_open else "["
        raise ConfigError(f"{name} must be a number in {left}{lo}, {hi}], got {x!r}")
    return xf


def check_int(name: str, x: object, lo: int) -> int:
    """Return ``x`` as an int; :class:`ConfigError` unless it is an integer ``>= lo``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < lo:
        raise ConfigError(f"{name} must be an integer >= {lo}, got {x!r}")
    return int(x)


def check_lr(name: str, x: object) -> float:
    """A learning rate: a finite number ``>= 0``."""
    ok = isinstance(x, numbers.Real) and not isinstance(x, bool)
    if not (ok and math.isfinite(float(x)) and float(x) >= 0.0):  # type: ignore[arg-type]
        raise ConfigError(f"{name} must be a finite number >= 0, got {x!r}")
    return float(x)  # type: ignore[arg-type]
