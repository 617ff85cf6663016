"""The runs file: one training run per row, read by :func:`sprig.scaling.fit`.

A runs file is a CSV file with a header line. Required columns (any order, more allowed):

========== ==================================================================================
``params``  dense-equivalent parameter count ``N``: the weights the network would have if it
            were dense (the sweep counts the weights of every linear layer, no biases)
``density`` fraction ``s`` in ``(0, 1]`` of those weights that are stored (active = ``N·s``)
``tokens``  total training tokens (or samples) ``D`` seen, repetitions included
``unique``  unique tokens (or samples) ``U`` the ``D`` were drawn from (``D / U`` = epochs)
``loss``    final validation loss of the run (nats)
========== ==================================================================================

Optional column ``split``: ``fit`` (default when absent or empty) or ``heldout``; held-out
runs are never used for fitting, only predicted. Other columns (``hidden``, ``epochs``,
``seed``, ``val_accuracy``, ...) are carried along and ignored by the fit.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..io import atomic_write
from ..typing import FloatArray

REQUIRED = ("params", "density", "tokens", "unique", "loss")
SPLITS = ("fit", "heldout")


@dataclass(frozen=True)
class Runs:
    """Validated runs as float64 columns (one entry per run)."""

    params: FloatArray
    density: FloatArray
    tokens: FloatArray
    unique: FloatArray
    loss: FloatArray
    heldout: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.loss)

    def select(self, mask: np.ndarray) -> Runs:
        """The runs where ``mask`` is true."""
        return Runs(
            self.params[mask],
            self.density[mask],
            self.tokens[mask],
            self.unique[mask],
            self.loss[mask],
            self.heldout[mask],
        )

    @property
    def epochs(self) -> FloatArray:
        """``D / U``: passes over the unique data."""
        return self.tokens / self.unique


def runs_from_rows(rows: Sequence[Mapping[str, Any]], *, where: str = "runs") -> Runs:
    """Validate rows (dicts with the :data:`REQUIRED` keys, optional ``split``).

    Raises:
        DataError: a missing column, a non-number, a value outside its range, or no rows.
    """
    if not rows:
        raise DataError(f"{where}: no runs (need a header line and at least one row)")
    cols: dict[str, list[float]] = {k: [] for k in REQUIRED}
    held: list[bool] = []
    for i, row in enumerate(rows):
        line = f"{where}: run {i + 1}"
        for k in REQUIRED:
            if k not in row or row[k] is None or str(row[k]).strip() == "":
                raise DataError(f"{line}: missing value for column {k!r}")
            try:
                v = float(row[k])
            except (TypeError, ValueError):
                raise DataError(f"{line}: {k}={row[k]!r} is not a number") from None
            if not math.isfinite(v):
                raise DataError(f"{line}: {k}={row[k]!r} must be finite")
            cols[k].append(v)
        split = str(row.get("split") or "fit").strip() or "fit"
        if split not in SPLITS:
            raise DataError(f"{line}: split={split!r}; allowed: {', '.join(SPLITS)}")
        held.append(split == "heldout")
        p, s, d, u, loss = (cols[k][-1] for k in REQUIRED)
        if p <= 0:
            raise DataError(f"{line}: params={p!r} must be > 0")
        if not 0 < s <= 1:
            raise DataError(f"{line}: density={s!r} must be in (0, 1]")
        if d <= 0 or u <= 0:
            raise DataError(f"{line}: tokens={d!r} and unique={u!r} must be > 0")
        if loss <= 0:
            raise DataError(f"{line}: loss={loss!r} must be > 0 (the law fits log-loss)")
    arr = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    return Runs(**arr, heldout=np.asarray(held, dtype=bool))


def read_runs(path: str | Path) -> Runs:
    """Read a runs CSV file (see the module docstring for its columns).

    Raises:
        DataError: the file is missing or unreadable, or a column or value is bad.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"runs file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read runs file {path}: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [k for k in REQUIRED if k not in header]
    if missing:
        raise DataError(
            f"runs file {path}: missing column(s) {', '.join(missing)}; the header must "
            f"name {', '.join(REQUIRED)} (got {', '.join(header) or 'no header'})"
        )
    return runs_from_rows(list(reader), where=f"runs file {path}")


def write_rows(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write rows as a runs CSV file atomically (columns: :data:`REQUIRED`, ``split``, then
    the other keys in first-seen order)."""
    rows = list(rows)
    keys: list[str] = [*REQUIRED, "split"]
    for row in rows:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: _fmt(row.get(k, "")) for k in keys})
    data = buf.getvalue().encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))


def _fmt(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return repr(float(v))
    if isinstance(v, np.integer):
        return int(v)
    return v
