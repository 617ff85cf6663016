"""sprig: truly sparse neural networks (CSR weights, O(nnz) kernels, dynamic sparse training).

Start with :func:`sparse_mlp` and :func:`fit`, the ``sprig`` command, or
:class:`~sprig.estimator.SparseMLPClassifier`. Names are imported on first use, so that
``import sprig`` (and every ``sprig`` command) starts without loading the JIT compiler.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .runtime import apply_thread_defaults as _apply_thread_defaults

_apply_thread_defaults()  # before any OpenMP runtime loads (see benchmarks/contention.py)

_LAZY = {
    "fit": "api",
    "sparse_mlp": "api",
    "train": "api",
    "CheckpointError": "errors",
    "ConfigError": "errors",
    "DataError": "errors",
    "DivergenceError": "errors",
    "SprigError": "errors",
    "CSRMatrix": "matrices",
    "Remap": "matrices",
    "MLP": "models",
    "set_num_threads": "runtime",
    "Trainer": "training.loop",
}
__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from .api import fit as fit
    from .api import sparse_mlp as sparse_mlp
    from .api import train as train
    from .errors import CheckpointError as CheckpointError
    from .errors import ConfigError as ConfigError
    from .errors import DataError as DataError
    from .errors import DivergenceError as DivergenceError
    from .errors import SprigError as SprigError
    from .matrices import CSRMatrix as CSRMatrix
    from .matrices import Remap as Remap
    from .models import MLP as MLP
    from .runtime import set_num_threads as set_num_threads
    from .training.loop import Trainer as Trainer


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sprig' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
