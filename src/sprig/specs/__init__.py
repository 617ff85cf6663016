"""Typed specs: one grammar, a registry of names and constraints, and the training config.

Strings from the CLI or a config file are parsed here, once, into frozen dataclasses; the rest
of sprig never sees spec strings (STYLE.md §9.3). See :mod:`.grammar` for the language,
:mod:`.registry` for every accepted name and parameter, :mod:`.types` for the spec classes and
``parse_*`` functions, and :mod:`.config` for :class:`TrainConfig`.

Submodules are imported on first use of a name (PEP 562), so that an implementation module can
import :mod:`sprig.specs.registry` to register itself without importing the configuration
(whose default specs look names up in the registries).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "NERVA_OPTIONS": "config",
    "TrainConfig": "config",
    "Call": "grammar",
    "SpecError": "grammar",
    "parse_call": "grammar",
    "parse_sequence": "grammar",
    "REGISTRIES": "registry",
    "Entry": "registry",
    "Param": "registry",
    "Registry": "registry",
    "DSTSpec": "types",
    "GrowSpec": "types",
    "InitSpec": "types",
    "LayerSpec": "types",
    "LossSpec": "types",
    "OptimizerSpec": "types",
    "PruneSpec": "types",
    "ScheduleSpec": "types",
    "Spec": "types",
    "parse_dst": "types",
    "parse_grow": "types",
    "parse_init": "types",
    "parse_inits": "types",
    "parse_layer": "types",
    "parse_layers": "types",
    "parse_learning_rate": "types",
    "parse_loss": "types",
    "parse_numbers": "types",
    "parse_optimizer": "types",
    "parse_optimizers": "types",
    "parse_prune": "types",
    "parse_schedule": "types",
    "parse_spec": "types",
    "spec_class": "types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sprig.specs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from .config import NERVA_OPTIONS as NERVA_OPTIONS
    from .config import TrainConfig as TrainConfig
    from .grammar import Call as Call
    from .grammar import SpecError as SpecError
    from .grammar import parse_call as parse_call
    from .grammar import parse_sequence as parse_sequence
    from .registry import REGISTRIES as REGISTRIES
    from .registry import Entry as Entry
    from .registry import Param as Param
    from .registry import Registry as Registry
    from .types import DSTSpec as DSTSpec
    from .types import GrowSpec as GrowSpec
    from .types import InitSpec as InitSpec
    from .types import LayerSpec as LayerSpec
    from .types import LossSpec as LossSpec
    from .types import OptimizerSpec as OptimizerSpec
    from .types import PruneSpec as PruneSpec
    from .types import ScheduleSpec as ScheduleSpec
    from .types import Spec as Spec
    from .types import parse_dst as parse_dst
    from .types import parse_grow as parse_grow
    from .types import parse_init as parse_init
    from .types import parse_inits as parse_inits
    from .types import parse_layer as parse_layer
    from .types import parse_layers as parse_layers
    from .types import parse_learning_rate as parse_learning_rate
    from .types import parse_loss as parse_loss
    from .types import parse_numbers as parse_numbers
    from .types import parse_optimizer as parse_optimizer
    from .types import parse_optimizers as parse_optimizers
    from .types import parse_prune as parse_prune
    from .types import parse_schedule as parse_schedule
    from .types import parse_spec as parse_spec
    from .types import spec_class as spec_class
