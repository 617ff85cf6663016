"""Models built from layers."""

from .mlp import MLP as MLP
