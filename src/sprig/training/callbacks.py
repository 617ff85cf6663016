"""Callbacks: hooks into the training loop with Keras' names.

A callback receives the :class:`~sprig.training.state.TrainState` (read-mostly: only the
topology update mutates the model, and only through ``TrainState.apply_edit``) and a ``logs``
dict of the current batch or epoch. Hooks: ``on_train_begin``, ``on_epoch_begin``,
``on_gradients`` (between backward and the optimizer step: where gradients are combined,
e.g. all-reduced), ``on_batch_end``, ``on_epoch_end``, ``on_train_end``.
``wants_taps(state)`` lets a callback ask the loop to record each layer's input and output
gradient for the coming batch, by layer path (RigL needs them); ``stop_training`` on the
state ends training after the current epoch.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .state import TrainState


class Callback:
    """Base class: every hook does nothing."""

    def wants_taps(self, state: TrainState) -> bool:
        """Whether the next batch must record per-layer ``(X, dY)`` taps."""
        return False

    def on_train_begin(self, state: TrainState) -> None:
        """Before the first batch (also after a resume)."""

    def on_epoch_begin(self, state: TrainState) -> None:
        """Before the first batch of an epoch."""

    def on_gradients(self, state: TrainState, grads: dict[str, Any]) -> None:
        """Between backward and the optimizer step: ``grads["params"]`` maps each parameter
        name to its :class:`~sprig.layers.Param`, whose ``grad`` may be changed in place
        (e.g. all-reduced across data-parallel workers); ``grads["batch_size"]`` is the
        local batch size."""

    def on_batch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        """After the optimizer step of a batch; ``logs`` has ``loss``, ``accuracy``, ``lr``."""

    def on_epoch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        """After evaluation at the end of an epoch; ``logs`` is the epoch's metrics row."""

    def on_train_end(self, state: TrainState) -> None:
        """After the last epoch (or early stop)."""


class MetricsLogger(Callback):
    """Append each epoch's metrics to ``metrics.jsonl`` and ``metrics.csv`` in ``run_dir``.

    Rows are flushed and fsynced as they are written; on resume the files are truncated to
    the epochs the checkpoint covers, so a killed-and-resumed run has no duplicated rows.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.jsonl = self.run_dir / "metrics.jsonl"
        self.csv = self.run_dir / "metrics.csv"

    def on_train_begin(self, state: TrainState) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        from ..io import atomic_write

        rows = [r for r in state.history if r.get("epoch", 0) <= state.epoch]
        text = "".join(json.dumps(r) + "\n" for r in rows)
        atomic_write(self.jsonl, lambda f: f.write(text.encode()))  # never a torn file
        self._write_csv(rows)

    def on_epoch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(logs) + "\n")
            f.flush()
        self._write_csv(state.history)

    def _write_csv(self, rows: list[dict[str, Any]]) -> None:
        flat = [csv_row(r) for r in rows]
        keys: list[str] = []
        for r in flat:
            keys += [k for k in r if k not in keys]
        import io

        from ..io import atomic_write

        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(flat)
        atomic_write(self.csv, lambda f: f.write(buf.getvalue().encode()))


def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """A metrics row as flat CSV columns: its scalars, ``nnz/<layer path>`` and
    ``density/<layer path>`` of every affine layer, and the epoch's topology updates summed
    (``dst_updates``, ``dst_pruned``, ``dst_grown``) with the network's ``explored`` fraction
    after the last of them."""
    out = {k: v for k, v in row.items() if not isinstance(v, dict | list)}
    for path, info in (row.get("layers") or {}).items():
        out[f"nnz/{path}"] = info.get("nnz")
        out[f"density/{path}"] = info.get("density")
    updates = row.get("dst")
    if isinstance(updates, list) and updates:
        out["dst_updates"] = len(updates)
        out["dst_pruned"] = sum(int(x.get("pruned", 0)) for u in updates for x in u["layers"])
        out["dst_grown"] = sum(int(x.get("grown", 0)) for u in updates for x in u["layers"])
        if "explored" in updates[-1]:
            out["explored"] = updates[-1]["explored"]
    return out


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(
        self,
        monitor: str = "test_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
    ) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")

    def on_epoch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, not among {sorted(logs)}")
        values = [r[self.monitor] for r in state.history if self.monitor in r]
        sign = 1.0 if self.mode == "max" else -1.0
        best_at = max(range(len(values)), key=lambda i: (sign * values[i], -i))
        if len(values) - 1 - best_at >= self.patience:
            state.stop_training = True


class KeepBest(Callback):
    """Keep the weights of the best epoch by ``monitor``; save them to ``path`` if given."""

    def __init__(
        self, monitor: str = "test_accuracy", path: str | Path | None = None, restore: bool = False
    ) -> None:
        self.monitor, self.path, self.restore = monitor, path, restore
        self.mode = "max" if "acc" in monitor else "min"
        self.best_value = -math.inf if self.mode == "max" else math.inf
        self.best_state: dict[str, Any] | None = None

    def on_epoch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        v = logs[self.monitor]
        if (v > self.best_value) if self.mode == "max" else (v < self.best_value):
            self.best_value = v
            self.best_state = state.model.state_dict()
            if self.path is not None:
                state.model.save_weights(self.path)

    def on_train_end(self, state: TrainState) -> None:
        if self.restore and self.best_state is not None:
            state.model.load_state_dict(self.best_state)


class ProgressBar(Callback):
    """A tqdm bar over the batches of each epoch with loss, accuracy and samples/s, and one
    summary line per epoch (``disable`` hides the bar, ``lines=False`` the summary lines)."""

    def __init__(self, steps_per_epoch: int, disable: bool = False, lines: bool = True) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.disable = disable
        self.lines = lines
        self.bar: Any = None
        self._t0 = 0.0
        self._seen = 0

    def on_epoch_begin(self, state: TrainState) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=self.steps_per_epoch,
            initial=state.batch_in_epoch,
            desc=f"epoch {state.epoch + 1}/{state.epochs}",
            leave=False,
            disable=self.disable,
            dynamic_ncols=True,
        )
        self._t0, self._seen = time.perf_counter(), 0

    def on_batch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        if self.bar is None:
            return
        self._seen += logs["batch_size"]
        rate = self._seen / max(time.perf_counter() - self._t0, 1e-9)
        self.bar.set_postfix(
            loss=f"{state.running_loss():.4f}",
            acc=f"{state.running_accuracy():.3f}",
            rate=f"{rate:.0f}/s",
            refresh=False,
        )
        self.bar.update(1)

    def on_epoch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.lines:
            parts = [
                f"epoch {logs['epoch']:>3}",
                f"lr {logs['lr']:.4g}",
                f"loss {logs['train_loss']:.4f}",
            ]
            if "train_accuracy" in logs:
                parts.append(f"acc {logs['train_accuracy']:.4f}")
            for part in ("val", "test"):
                if f"{part}_loss" in logs:
                    parts.append(f"{part}_loss {logs[f'{part}_loss']:.4f}")
                if f"{part}_accuracy" in logs:
                    parts.append(f"{part}_acc {logs[f'{part}_accuracy']:.4f}")
            parts.append(f"{logs['seconds']:.2f}s")
            print("  ".join(parts), flush=True)


class BlockAtStep(Callback):
    """Test hook: after optimizer step ``step`` (and every callback before this one), create
    ``marker`` and block until the process is killed.

    Crash tests use it to kill a run at an exact point instead of sleeping and hoping: the
    CLI appends it when ``SPRIG_TEST_BLOCK_AT_STEP`` and ``SPRIG_TEST_BLOCK_MARKER`` are set.
    """

    def __init__(self, step: int, marker: str | Path) -> None:
        self.step, self.marker = int(step), Path(marker)

    @classmethod
    def from_env(cls) -> BlockAtStep | None:
        """The hook configured by the environment, or ``None``."""
        import os

        step = os.environ.get("SPRIG_TEST_BLOCK_AT_STEP")
        marker = os.environ.get("SPRIG_TEST_BLOCK_MARKER")
        return None if not step or not marker else cls(int(step), marker)

    def on_batch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        if state.step == self.step:
            self.marker.write_text(str(state.step))
            while True:  # until killed
                time.sleep(3600)


def finite_or_raise(name: str, values: np.ndarray, where: str) -> None:
    """Raise :class:`~sprig.errors.DivergenceError` if ``values`` holds NaN/inf."""
    from ..errors import DivergenceError

    if not np.all(np.isfinite(values)):
        raise DivergenceError(f"{name} became NaN or infinite {where}")
