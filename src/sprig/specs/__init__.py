"""Typed specs: one grammar, a registry of names and constraints, and the training config.

Strings from the CLI or a config file are parsed here, once, into frozen dataclasses; the rest
of sprig never sees spec strings (STYLE.md §9.3). See :mod:`.grammar` for the language,
:mod:`.registry` for every accepted name and parameter, :mod:`.types` for the spec classes and
``parse_*`` functions, and :mod:`.config` for :class:`TrainConfig`.
"""

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
