"""The sparse data-constrained scaling law (Wu, Xiao et al., ICML 2026, arXiv 2606.01155).

* :class:`ScalingLaw` / :data:`PUBLISHED`: the law, compute-optimal allocation, optimal
  densities for a unique-data budget (:mod:`sprig.scaling.law`);
* :func:`fit`: the paper's four-stage Huber/L-BFGS fit to a runs file
  (:mod:`sprig.scaling.fit`, :mod:`sprig.scaling.runs` for the CSV columns);
* :func:`sweep`: train a grid of sprig MLPs and write their validation losses
  (:mod:`sprig.scaling.sweep`).

The command line is ``sprig scaling predict | optimal | fit | sweep``.
"""

from __future__ import annotations

from .fit import FitResult as FitResult
from .fit import fit as fit
from .law import PUBLISHED as PUBLISHED
from .law import ScalingLaw as ScalingLaw
from .runs import Runs as Runs
from .runs import read_runs as read_runs
from .runs import runs_from_rows as runs_from_rows
from .runs import write_rows as write_rows
from .sweep import SweepConfig as SweepConfig
from .sweep import sweep as sweep

__all__ = [
    "PUBLISHED",
    "FitResult",
    "Runs",
    "ScalingLaw",
    "SweepConfig",
    "fit",
    "read_runs",
    "runs_from_rows",
    "sweep",
    "write_rows",
]
