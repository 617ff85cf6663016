"""Finite divergence: a loss that explodes, or weights leaving the float32-safe range.

NaN and infinity are caught by the training loop itself; this guard catches the runs that
blow up without (yet) overflowing, e.g. Adam at learning rate 10⁶ reaching a loss of 7·10¹⁶.
The loop calls :meth:`DivergenceGuard.check` after every batch and raises
:class:`~sprig.errors.DivergenceError` (epoch, batch, step) with the reason it returns.

Criteria (documented defaults, chosen to never fire on a run that trains):

* the loss is above ``factor × max(first loss, 1)`` (``factor = 10⁴``) for ``patience = 3``
  consecutive batches — a cross-entropy that starts at ln 10 ≈ 2.3 must pass 10⁴, which
  needs logits 10⁴ apart;
* some weight or bias has magnitude above ``weight_limit = 10¹⁸``: a square of it overflows
  float32 (3.4·10³⁸ is float32's largest value), so every norm, decay or Adam second moment
  built from it would be infinite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DivergenceGuard:
    """Detects explosive but finite growth of the loss or the weights (module docstring)."""

    def __init__(self, factor: float = 1e4, patience: int = 3, weight_limit: float = 1e18) -> None:
        if not factor > 1 or patience < 1 or not weight_limit > 0:
            raise ValueError(
                f"need factor > 1, patience >= 1, weight_limit > 0; got {factor}, "
                f"{patience}, {weight_limit}"
            )
        self.factor, self.patience, self.weight_limit = factor, patience, weight_limit
        self.start: float | None = None
        self.strikes = 0

    def check(self, loss: float, params: Mapping[str, Any]) -> str | None:
        """The reason training diverged after this batch, or ``None``."""
        if self.start is None:
            self.start = float(loss)
        limit = self.factor * max(self.start, 1.0)
        self.strikes = self.strikes + 1 if loss > limit else 0
        if self.strikes >= self.patience:
            return (
                f"loss exploded to {loss:.3g}, above {limit:.3g} ({self.factor:g} x its start "
                f"{self.start:.3g}) for {self.patience} batches"
            )
        for name, p in params.items():
            v = p.value  # ndarray.max/min: half the call overhead of np.max/np.min per step
            if v.size and (big := max(float(v.max()), -float(v.min()))) > self.weight_limit:
                return (
                    f"parameter {name} reached magnitude {big:.3g}, beyond the float32-safe "
                    f"{self.weight_limit:.0e}"
                )
        return None
