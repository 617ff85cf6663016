"""Layers: one protocol for dense and sparse variants (feature-major)."""

from .base import Backprop as Backprop
from .base import Layer as Layer
from .base import Param as Param
from .linear import Linear as Linear
from .linear import SparseLinear as SparseLinear
from .sequential import Sequential as Sequential
