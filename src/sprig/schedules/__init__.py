"""Learning-rate schedules: plain callables ``step -> lr`` (frozen dataclasses).

``REGISTRY`` maps spec names to classes.
"""

from ..specs.registry import SCHEDULES as _SCHEDULES
from .base import Schedule as Schedule
from .constant import Constant as Constant
from .cosine import Cosine as Cosine
from .decay import Exponential as Exponential
from .decay import MultiStep as MultiStep
from .decay import StepBased as StepBased
from .decay import TimeBased as TimeBased
from .wrappers import LinearWarmup as LinearWarmup
from .wrappers import PerEpoch as PerEpoch
from .wrappers import per_epoch as per_epoch

#: Class name -> schedule class: every ``@SCHEDULES.register`` declaration, plus the adapter.
REGISTRY: dict[str, type] = {
    cls.name: cls for cls in (*_SCHEDULES.implementations().values(), PerEpoch)
}

__all__ = [
    "REGISTRY",
    "Constant",
    "Cosine",
    "Exponential",
    "LinearWarmup",
    "MultiStep",
    "PerEpoch",
    "Schedule",
    "StepBased",
    "TimeBased",
    "per_epoch",
]
