"""NeuroTrails' dynamic sparse training: sprig's RigL machinery with NeuroTrails' defaults.

NeuroTrails (Grooten et al. 2025, arXiv 2505.17909; reference/dst.md §5.3) runs one DST over
every sparse layer of the trunk and of all heads: every ``every`` optimizer steps, per layer,
drop ``round(p_t · nnz)`` weights chosen by

* ``"magnitude"``: the smallest ``|w|`` (its CV default, ``--death magnitude``), or
* ``"soft_magnitude"``: keep ``nnz − k`` entries sampled without replacement ∝ ``|w|^T``
  (its LLM default, ``--prune magnitude_soft --temperature 3.0``;
  :func:`sprig.sparsity.prune.soft_magnitude`),

and regrow as many free positions of largest ``|∇w|`` (gradient growth, the dense gradient of
the batch in factored form, :func:`sprig.sparsity.grow.gradient_grow`; new weights 0, their
optimizer state reset). The drop rate starts at ``0.5`` and decays along a cosine
(``p_t = 0.25 (1 + cos(π t / T_end))``). Initial densities: ERK (``--sparse_init Multi_Output``
is the ERK formula) over all layers of the tree. These are RigL's pieces with NeuroTrails'
constants; both trainers gather the gradient sample because the grow criterion declares it
(``alg.needs``).

``every`` defaults: 1000 (CV) and 50 (LLM) in the paper; ``end``: the fraction of the run after
which the topology is frozen (the paper anneals over the whole run; default 1.0).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import ConfigError
from ..sparsity import algorithms as A
from ..sparsity import prune as P

__all__ = ["PRUNE_RULES", "neurotrails_dst"]

#: Prune rules of NeuroTrails' DST.
PRUNE_RULES = ("magnitude", "soft_magnitude")


def neurotrails_dst(
    total_steps: int,
    *,
    prune: str = "magnitude",
    temperature: float = 3.0,
    drop_rate: float = 0.5,
    every: int = 1000,
    end: float = 1.0,
) -> A.DSTAlgorithm:
    """NeuroTrails' DST algorithm for a run of ``total_steps`` optimizer steps.

    Args:
        total_steps: optimizer steps of the whole run.
        prune: ``"magnitude"`` or ``"soft_magnitude"``.
        temperature: exponent ``T`` of soft-magnitude pruning (ignored for ``"magnitude"``).
        drop_rate: initial drop fraction (cosine-decayed to 0 at ``end``).
        every: update interval ΔT in optimizer steps.
        end: fraction of the run after which no update happens, in ``(0, 1]``.

    Raises:
        ConfigError: on a value outside its range (the message names it).

    Examples:
        >>> alg = neurotrails_dst(1000, every=100)
        >>> alg.fraction(0), alg.due(100), alg.due(150)
        (0.5, True, False)
        >>> round(neurotrails_dst(1000, every=100, end=0.5).fraction(250), 12)
        0.25
    """
    if prune not in PRUNE_RULES:
        raise ConfigError(f"prune must be one of {', '.join(PRUNE_RULES)}, got {prune!r}")
    checks: list[tuple[str, Any, bool]] = [
        ("total_steps", total_steps, _pos_int(total_steps)),
        ("every", every, _pos_int(every)),
        ("drop_rate", drop_rate, _num(drop_rate) and 0.0 <= drop_rate <= 1.0),
        ("end", end, _num(end) and 0.0 < end <= 1.0),
        ("temperature", temperature, _num(temperature) and temperature >= 0.0),
    ]
    for name, value, ok in checks:
        if not ok:
            raise ConfigError(f"NeuroTrails DST: bad {name} {value!r}")
    alg = A.rigl(total_steps, alpha=float(drop_rate), delta_t=every, end_fraction=float(end))
    alg = dataclasses.replace(alg, name="neurotrails")
    if prune == "soft_magnitude":
        alg = dataclasses.replace(alg, prune=P.soft_magnitude(float(temperature)))
    return alg


def _pos_int(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int) and v >= 1


def _num(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and v == v
