"""Optimizers: update rules over flat parameter arrays (dense values or ``CSRMatrix.data``).

``REGISTRY`` maps spec names to classes; every class is a frozen dataclass of its
hyper-parameters (the learning rate is passed to ``step``, never stored).
"""

from ..specs.registry import OPTIMIZERS as _OPTIMIZERS
from .adam import SMET as SMET
from .adam import Adam as Adam
from .adam import AdamPerEntryState as AdamPerEntryState
from .adam import AdamState as AdamState
from .adam import AdamW as AdamW
from .base import Optimizer as Optimizer
from .base import per_entry as per_entry
from .base import remap_state as remap_state
from .base import state_arrays as state_arrays
from .base import state_from_arrays as state_from_arrays
from .frozen import Frozen as Frozen
from .frozen import FrozenState as FrozenState
from .momentum import Momentum as Momentum
from .momentum import MomentumState as MomentumState
from .nesterov import Nesterov as Nesterov
from .sgd import SGD as SGD
from .sgd import SGDState as SGDState

#: Spec name (and alias) -> optimizer class: every ``@OPTIMIZERS.register`` declaration.
REGISTRY: dict[str, type] = _OPTIMIZERS.implementations(aliases=True)

__all__ = [
    "REGISTRY",
    "SGD",
    "Adam",
    "AdamPerEntryState",
    "AdamState",
    "AdamW",
    "Frozen",
    "FrozenState",
    "Momentum",
    "MomentumState",
    "Nesterov",
    "Optimizer",
    "SGDState",
    "per_entry",
    "remap_state",
    "state_arrays",
    "state_from_arrays",
]
