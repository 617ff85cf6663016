"""Truly sparse training inside PyTorch models (optional extra ``sprig[torch]``).

Public names (stable): :class:`SparseLinear`, :func:`sparsify`, :func:`densify`,
:class:`TopologyUpdater`, :class:`SMET`. Submodules load on first use, so importing this
package costs only the ``torch`` import.
"""

from __future__ import annotations

import importlib
from typing import Any

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError("sprig.torch needs PyTorch: pip install 'sprig[torch]'") from e

_LAZY = {
    "SparseLinear": "linear",
    "sparsify": "convert",
    "densify": "convert",
    "TopologyUpdater": "dst",
    "SMET": "optim",
    "save_safetensors": "io",
    "load_safetensors": "io",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sprig.torch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
