"""Element-wise activations: pure ``(value, derivative)`` pairs, and their registry.

``REGISTRY`` maps each spec name (``Activation.name``) to its class (the activations
registered with ``@LAYERS.register(..., role="activation")`` in the modules below). The
stable primitives (``sigmoid``, ``softplus``, ``log_sigmoid``, ``softmax``, ``log_softmax``)
live in :mod:`sprig.activations.functions` (not re-exported: ``sigmoid``/``softplus`` are
also module names here).
"""

from ..specs.registry import LAYERS as _LAYERS
from .base import Activation as Activation
from .elu import ELU as ELU
from .gelu import GELU as GELU
from .identity import Identity as Identity
from .relu import AllReLU as AllReLU
from .relu import LeakyReLU as LeakyReLU
from .relu import ReLU as ReLU
from .relu import TReLU as TReLU
from .relu import all_relu_alternating as all_relu_alternating
from .sigmoid import Sigmoid as Sigmoid
from .sigmoid import SiLU as SiLU
from .softplus import Softplus as Softplus
from .tanh import Tanh as Tanh

REGISTRY: dict[str, type[Activation]] = {
    Identity.name: Identity,  # the "linear" layer needs no activation object
    **_LAYERS.implementations(role="activation"),
}
