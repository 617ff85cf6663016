"""Everything a training run is, in one object that can be checkpointed and resumed."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..matrices.csr import CSRMatrix
from ..models.model import Model
from ..optimizers.base import Optimizer, remap_state


@dataclass
class TrainState:
    """The mutable state of a run: model, optimizer state, counters, history.

    Attributes:
        model: the network being trained.
        optimizers: parameter path name → update rule.
        opt_states: parameter name → optimizer state (per-entry fields aligned with the
            parameter's values).
        epoch: epochs completed (0-based index of the current epoch while it runs).
        batch_in_epoch: batches of the current epoch already done.
        step: optimizer steps done in total.
        epochs: epochs requested.
        history: one metrics dict per completed epoch.
        extra: JSON-able state of callbacks (DST statistics, ...), saved in checkpoints.
        arrays: array state of callbacks (e.g. DST's ever-active positions), checkpointed.
        rngs: named random generators of callbacks (e.g. ``"dst"``), checkpointed.
    """

    model: Model
    optimizers: dict[str, Optimizer[Any]]
    opt_states: dict[str, Any]
    epochs: int
    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, Any] = field(default_factory=dict)
    rngs: dict[str, np.random.Generator] = field(default_factory=dict)
    stop_training: bool = False
    #: set by the trainer: runs forward/backward (no step) on the current epoch's first batch
    #: and returns the ``(X, dY)`` taps by layer path; used by epoch-unit DST updates.
    probe: Any = None
    # running sums over the current epoch (restored on resume so metrics match exactly)
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    timers: dict[str, float] = field(default_factory=dict)

    def running_loss(self) -> float:
        """Mean training loss over the batches of the current epoch so far."""
        return self.loss_sum / max(self.seen, 1)

    def running_accuracy(self) -> float:
        """Training accuracy over the batches of the current epoch so far."""
        return self.correct / max(self.seen, 1)

    def apply_edit(self, name: str | int, weight: CSRMatrix, remap: Any) -> None:
        """Install an edited sparse weight as parameter ``name`` (``"trunk.0.weight"``; a
        layer index ``i`` means ``"i.weight"``) and carry its gradient and its optimizer state
        through ``remap`` — the only way the topology changes."""
        if isinstance(name, int):
            name = f"{name}.weight"
        self.model.replace_weight(name, weight, remap)
        self.opt_states[name] = remap_state(self.opt_states[name], remap)
        if self.model.sparse_weights()[name].nnz != remap.new_nnz:
            raise AssertionError("topology update left the layer inconsistent")


#: ``optimizer`` argument of the trainer: one rule; parameter-name pattern → rule (first
#: matching pattern wins, ``fnmatch`` syntax, ``Frozen()`` to freeze); or, as in Nerva,
#: layer index → rule.
OptimizerMap = Optimizer[Any] | Mapping[str, Optimizer[Any]] | Mapping[int, Optimizer[Any]]


def rule_for(name: str, optimizer: OptimizerMap) -> Optimizer[Any]:
    """The rule of parameter ``name`` under :data:`OptimizerMap` ``optimizer``.

    Raises:
        ValueError: no pattern (or layer index) matches ``name``.
    """
    if not isinstance(optimizer, Mapping):
        return optimizer
    for key, rule in optimizer.items():
        if isinstance(key, int) and not isinstance(key, bool):
            if name.split(".", 1)[0] == str(key):
                return rule
        elif isinstance(key, str) and fnmatch.fnmatchcase(name, key):
            return rule
    keys = ", ".join(repr(k) for k in optimizer)
    raise ValueError(f"no optimizer given for parameter {name!r} (patterns: {keys})")


def init_optimizers(
    model: Model, optimizer: OptimizerMap
) -> tuple[dict[str, Optimizer[Any]], dict[str, Any]]:
    """One optimizer (and its fresh state) per parameter, by path name.

    ``optimizer`` is one rule for all parameters, a mapping from name patterns to rules
    (``{"heads.*": Adam(), "*": Momentum(0.9)}``; the first matching pattern wins, like optax's
    ``multi_transform`` labels; :class:`~sprig.optimizers.Frozen` freezes), or a mapping from
    layer index to rule (Nerva allows one optimizer per layer). A parameter that no key
    matches is an error.
    """
    rules: dict[str, Optimizer[Any]] = {}
    states: dict[str, Any] = {}
    for name, p in model.params().items():
        rule = rule_for(name, optimizer)
        rules[name] = rule
        states[name] = rule.init(p.value)
    return rules, states


def np_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """JSON-able state of a NumPy generator."""
    return dict(rng.bit_generator.state)


def set_np_rng_state(rng: np.random.Generator, state: Mapping[str, Any]) -> None:
    """Restore :func:`np_rng_state` output."""
    rng.bit_generator.state = dict(state)
