"""Typed specs → objects: the one place where specs become layers, losses and optimizers.

Every name is looked up in :mod:`sprig.specs.registry`, where each implementation registered
itself (with its parameters and constraints) beside its code; nothing here branches on a name.

Conventions (shared by the CLI, config files and the estimator):

* ``layers`` is Nerva's list: each *linear-type* entry (``linear``, ``relu``, ``srelu``,
  ``softmax``...) is an affine layer from ``sizes[j]`` to ``sizes[j+1]`` followed by that
  activation; ``batch_norm`` and ``dropout(p)`` are extra layers at the current width.
* A linear layer whose density is 1 is a dense :class:`~sprig.layers.Linear` (Nerva does
  the same); any smaller density gives a truly sparse :class:`~sprig.layers.SparseLinear`.
* ``dropouts`` are per-linear-layer DropConnect rates (Nerva's ``--dropouts`` act on the
  weights); the ``dropout(p)`` layer is activation dropout.
* Learning-rate schedule parameters are in **epochs**: Nerva's schedules
  (``time_based``, ``step_based``, ``multistep``, ``exponential``) change at epoch
  boundaries, ``cosine`` decays smoothly per step over ``total_steps`` epochs (default: the
  whole run), ``warmup(schedule, steps)`` ramps linearly over ``steps`` epochs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import schedules
from ..errors import ConfigError
from ..layers.activation import ActivationLayer
from ..layers.base import Layer
from ..layers.linear import InitFn, Linear, SparseLinear
from ..losses.base import Loss
from ..models.mlp import MLP
from ..specs.registry import INITIALIZERS, LAYERS, LOSSES, OPTIMIZERS, SCHEDULES
from ..specs.types import InitSpec, LayerSpec, LossSpec, OptimizerSpec, ScheduleSpec

Schedule = Any


def build_loss(spec: LossSpec, reduction: str = "mean") -> Loss:
    """The loss named by ``spec`` (mean over the batch by default)."""
    if reduction not in ("sum", "mean"):
        raise ConfigError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    return LOSSES.create(spec, reduction=reduction)  # type: ignore[no-any-return]


def build_optimizer(spec: OptimizerSpec) -> Any:
    """The update rule named by ``spec``."""
    return OPTIMIZERS.create(spec)


def build_schedule(spec: ScheduleSpec | float, *, steps_per_epoch: int, epochs: int) -> Schedule:
    """Learning rate per optimizer step from a spec whose parameters are in epochs."""
    if isinstance(spec, int | float):
        return schedules.Constant(float(spec))
    return SCHEDULES.create(spec, steps_per_epoch=steps_per_epoch, epochs=epochs)


def build_init(spec: InitSpec | None) -> InitFn | None:
    """An initializer function ``(n, fan_in, fan_out, rng) -> values`` (``None``: default)."""
    if spec is None:
        return None
    return INITIALIZERS.create(spec)  # type: ignore[no-any-return]


def _broadcast(values: Sequence[Any], n: int, what: str) -> list[Any]:
    values = list(values)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ConfigError(
            f"{what}: expected 1 or {n} values (one per linear layer), got {len(values)}"
        )
    return values


def build_layers(
    layer_specs: Sequence[LayerSpec],
    sizes: Sequence[int],
    densities: Sequence[float],
    *,
    rng: np.random.Generator,
    dtype: Any = np.float32,
    inits: Sequence[InitSpec | None] = (None,),
    dropouts: Sequence[float] = (0.0,),
    fan_in: str = "actual",
    owners: list[int] | None = None,
) -> list[Layer]:
    """Nerva-style layer list → layers (module docstring for the conventions).

    If ``owners`` is given, it receives for each built layer the index of the spec it came
    from (per-layer optimizers are given per spec, as in Nerva).

    Raises:
        ConfigError: when the number of linear-type layers does not match ``sizes``.
    """
    n_linear = sum(1 for s in layer_specs if s.is_linear)
    if len(sizes) != n_linear + 1:
        raise ConfigError(
            f"{len(sizes)} layer sizes need {len(sizes) - 1} linear-type layers, but "
            f"{n_linear} were given ({'; '.join(str(s) for s in layer_specs)})"
        )
    densities = _broadcast(densities, n_linear, "densities")
    inits_l = _broadcast(inits, n_linear, "layer weights")
    drops = _broadcast(dropouts, n_linear, "dropouts")
    out: list[Layer] = []
    j = 0
    width = sizes[0]
    for index, spec in enumerate(layer_specs):
        # every layer gets its own stream, derived from the model generator
        layer_rng = np.random.default_rng(rng.integers(2**63))
        first = len(out)
        if not spec.is_linear:
            out.append(LAYERS.create(spec, features=width, dtype=dtype, rng=layer_rng))
            if owners is not None:
                owners.append(index)
            continue
        d_in, d_out, density = sizes[j], sizes[j + 1], float(densities[j])
        init = build_init(inits_l[j])
        if density >= 1.0:
            out.append(
                Linear(d_in, d_out, init=init, drop_connect=drops[j], rng=layer_rng, dtype=dtype)
            )
        else:
            out.append(
                SparseLinear(
                    d_in,
                    d_out,
                    density=density,
                    init=init,
                    fan_in=fan_in,
                    drop_connect=drops[j],
                    rng=layer_rng,
                    dtype=dtype,
                )
            )
        if spec.entry.role == "activation":
            out.append(ActivationLayer(LAYERS.create(spec), d_out, dtype=dtype))
        else:  # a layer of its own (srelu, softmax...) or nothing (linear)
            after = LAYERS.create(spec, features=d_out, dtype=dtype, rng=layer_rng)
            if after is not None:
                out.append(after)
        width = d_out
        j += 1
        if owners is not None:
            owners.extend([index] * (len(out) - first))
    return out


def build_mlp(
    layer_specs: Sequence[LayerSpec],
    sizes: Sequence[int],
    densities: Sequence[float],
    **kwargs: Any,
) -> MLP:
    """:func:`build_layers` wrapped in an :class:`~sprig.models.MLP`."""
    return MLP(build_layers(layer_specs, sizes, densities, **kwargs))
