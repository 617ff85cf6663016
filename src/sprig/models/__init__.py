"""Models built from layers: any model tree (:class:`Model`), the sequential :class:`MLP`,
and a shared trunk with several heads (:func:`multi_head`)."""

from .mlp import MLP as MLP
from .model import Model as Model
from .multihead import TrunkHeads as TrunkHeads
from .multihead import multi_head as multi_head
