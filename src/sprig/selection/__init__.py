"""Feature selection with truly sparse networks: QuickSelection and neuron attribution.

* :func:`train_sparse_dae` / :func:`quickselection` — QuickSelection's sparse denoising
  autoencoder with SET, features ranked by input-neuron strength or the other rankings of
  :mod:`sprig.selection.rankings`;
* :func:`train_attribution` — a supervised sparse MLP (SET or RigL) with neuron-attribution
  importances from explicit sparse input Jacobians (:mod:`sprig.selection.jacobian`);
* :class:`SparseFeatureSelector` — a scikit-learn transformer over both (needs the optional
  ``sklearn`` extra; imported lazily).
"""

from __future__ import annotations

from typing import Any

from .attribution import VARIANTS, AttributionResult, train_attribution
from .jacobian import attribution, input_jacobian
from .quickselection import DAEResult, quickselection, train_sparse_dae
from .rankings import RANKINGS, rank, top_k

__all__ = [
    "RANKINGS",
    "VARIANTS",
    "AttributionResult",
    "DAEResult",
    "SparseFeatureSelector",
    "attribution",
    "input_jacobian",
    "quickselection",
    "rank",
    "top_k",
    "train_attribution",
    "train_sparse_dae",
]


def __getattr__(name: str) -> Any:
    if name == "SparseFeatureSelector":
        from .selector import SparseFeatureSelector

        return SparseFeatureSelector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
