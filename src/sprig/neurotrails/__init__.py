"""NeuroTrails: sparse multi-head ensembles with a dynamically evolving topology.

One implementation for sprig's own models (:mod:`sprig.neurotrails.models`: a trunk + heads
tree from a Nerva-style layer spec, trained by sprig's trainer) and PyTorch models
(:mod:`sprig.neurotrails.torchtree`: a trunk + heads ``nn.Module`` from a backbone with an
``nn.ModuleList`` of blocks, sparsified by :func:`sprig.torch.sparsify`, trained with
:class:`sprig.torch.TopologyUpdater`). Both use the same DST algorithm
(:func:`~sprig.neurotrails.algorithm.neurotrails_dst`) and metrics
(:mod:`sprig.neurotrails.metrics`). Facts and defaults: ``reference/dst.md`` §5.3.

The torch names (``TorchTree``, ``neurotrails``) are imported lazily and need PyTorch.
"""

from __future__ import annotations

from typing import Any

from .algorithm import PRUNE_RULES, neurotrails_dst
from .metrics import ECE_BINS, disagreement, ece, ensemble_logits, evaluate_heads, nll
from .models import METHODS, Recipe, build, count, run

__all__ = [
    "ECE_BINS",
    "METHODS",
    "PRUNE_RULES",
    "Recipe",
    "TorchTree",
    "build",
    "count",
    "disagreement",
    "ece",
    "ensemble_logits",
    "evaluate_heads",
    "neurotrails",
    "neurotrails_dst",
    "nll",
    "run",
]

_TORCH = {"TorchTree", "neurotrails"}


def __getattr__(name: str) -> Any:
    if name in _TORCH:
        from . import torchtree

        return getattr(torchtree, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
