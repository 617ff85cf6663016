"""The mapping from old to new entry positions produced by a topology edit.

Every per-entry array of a sparse weight (its gradient buffer, momentum, Adam moments, SMET
step counters...) is aligned with ``W.data``. When entries are removed and inserted, the
:class:`Remap` returned by :meth:`CSRMatrix.edit` carries each such array to the new layout in
``O(nnz)``: kept entries keep their values, inserted entries get a documented fill value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..typing import IntArray


@dataclass(frozen=True, eq=False)
class Remap:
    """Old-to-new entry mapping of one topology edit.

    Attributes:
        source: ``(new_nnz,)`` int64; ``source[p]`` is the old position of new entry ``p``, or
            ``-1`` if the entry was inserted by the edit.
        old_nnz: number of entries before the edit.
    """

    source: IntArray
    old_nnz: int

    def __post_init__(self) -> None:
        src = self.source
        if src.ndim != 1:
            raise ValueError(f"source must be 1-D, got shape {src.shape}")
        if len(src) and (src.max(initial=-1) >= self.old_nnz or src.min(initial=-1) < -1):
            raise ValueError(f"source values must lie in [-1, {self.old_nnz}), got out of range")

    @property
    def new_nnz(self) -> int:
        """Number of entries after the edit."""
        return len(self.source)

    @cached_property
    def kept(self) -> IntArray:
        """New positions of the entries that survived the edit (ascending)."""
        return np.flatnonzero(self.source >= 0)

    @cached_property
    def inserted(self) -> IntArray:
        """New positions of the inserted entries (ascending)."""
        return np.flatnonzero(self.source < 0)

    @cached_property
    def dropped(self) -> IntArray:
        """Old positions of the entries removed by the edit (ascending)."""
        alive = np.zeros(self.old_nnz, dtype=bool)
        alive[self.source[self.kept]] = True
        return np.flatnonzero(~alive)

    def apply(self, values: NDArray[Any], fill: Any = 0) -> NDArray[Any]:
        """Carry a per-entry array to the new layout; inserted entries get ``fill``.

        Works for any array whose first axis is the entry axis (extra trailing axes are kept).

        Raises:
            ValueError: if ``values`` is not aligned with the old entries.
        """
        if values.shape[:1] != (self.old_nnz,):
            raise ValueError(
                f"per-entry array has length {values.shape[:1]}, expected ({self.old_nnz},)"
            )
        out = np.full((self.new_nnz, *values.shape[1:]), fill, dtype=values.dtype)
        kept = self.kept
        out[kept] = values[self.source[kept]]
        return out

    @classmethod
    def identity(cls, nnz: int) -> Remap:
        """The mapping of an edit that changes nothing."""
        return cls(np.arange(nnz, dtype=np.int64), nnz)
