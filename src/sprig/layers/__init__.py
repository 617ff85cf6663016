"""Layers: one protocol for dense and sparse variants (feature-major)."""

from .activation import ActivationLayer as ActivationLayer
from .base import Backprop as Backprop
from .base import Layer as Layer
from .base import Param as Param
from .batchnorm import BatchNorm as BatchNorm
from .dropout import Dropout as Dropout
from .linear import Linear as Linear
from .linear import SparseLinear as SparseLinear
from .sequential import Sequential as Sequential
from .softmax import LogSoftmax as LogSoftmax
from .softmax import Softmax as Softmax
from .srelu import SReLU as SReLU
from .tree import Module as Module
from .tree import Parallel as Parallel
