"""Diagnostic callbacks behind Nerva's ``--timer``, ``--debug`` and ``--gradient-step``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .callbacks import Callback
from .state import TrainState


class TimerReport(Callback):
    """Seconds per phase (data, forward, backward, optimizer, topology, evaluate).

    ``"brief"`` prints the totals at the end of training; ``"full"`` also after every epoch.
    """

    def __init__(self, mode: str = "brief") -> None:
        if mode not in ("brief", "full"):
            raise ValueError(f"timer mode must be 'brief' or 'full', got {mode!r}")
        self.mode = mode
        self.totals: dict[str, float] = {}

    def on_epoch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        phases = {k[5:]: v for k, v in logs.items() if k.startswith("time_")}
        for k, v in phases.items():
            self.totals[k] = self.totals.get(k, 0.0) + v
        if self.mode == "full":
            print(f"--- timing epoch {logs['epoch']} ---")
            for k, v in phases.items():
                print(f"{k} = {v:.6f}")

    def on_train_end(self, state: TrainState) -> None:
        print("--- timing results ---")
        for k, v in self.totals.items():
            print(f"{k} = {v:.6f}")
        print(f"total time = {sum(self.totals.values()):.6f}")


class Debug(Callback):
    """Print the loss and every parameter and gradient after each batch (Nerva's ``--debug``)."""

    def __init__(self, precision: int = 4, edgeitems: int = 3) -> None:
        self.options = {"precision": precision, "edgeitems": edgeitems, "threshold": 50}

    def on_batch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        print(
            f"step {state.step}: loss {logs['loss']:.{self.options['precision']}f} "
            f"lr {logs['lr']:g}"
        )
        for name, p in state.model.params().items():
            v = np.array2string(p.value, **self.options)  # type: ignore[arg-type]
            g = np.array2string(p.grad, **self.options)  # type: ignore[arg-type]
            print(f"  {name} = {v}\n  d{name} = {g}")


class GradientCheck(Callback):
    """Before training, compare the explicit gradients of the first batch with central
    differences of step ``h`` at a few entries of every parameter; print the largest
    relative error per parameter (Nerva's ``--gradient-step``; float32 runs are checked in
    their own precision, so expect errors around 1e-3 there).
    """

    def __init__(self, h: float, loss: Any, batch: Any, entries: int = 5) -> None:
        if not h > 0:
            raise ValueError(f"gradient step must be > 0, got {h!r}")
        self.h, self.loss, self.batch, self.entries = float(h), loss, batch, entries
        self.errors: dict[str, float] = {}

    def _value(self, state: TrainState) -> float:
        Y, _ = state.model.forward_fm(self.batch.Xt, train=False)
        return float(self.loss.value(Y, self.batch.Tt))

    def on_train_begin(self, state: TrainState) -> None:
        model = state.model
        Y, backprop = model.forward_fm(self.batch.Xt, train=False)
        backprop(self.loss.grad(Y, self.batch.Tt))
        rng = np.random.default_rng(0)
        for name, p in model.params().items():
            flat, grad = p.value.reshape(-1), p.grad.reshape(-1).copy()
            worst = 0.0
            for k in rng.choice(flat.size, min(self.entries, flat.size), replace=False):
                old = flat[k]
                flat[k] = old + self.h
                up = self._value(state)
                flat[k] = old - self.h
                down = self._value(state)
                flat[k] = old
                numeric = (up - down) / (2 * self.h)
                worst = max(worst, abs(numeric - grad[k]) / max(1e-8, abs(numeric) + abs(grad[k])))
            self.errors[name] = worst
            print(f"gradient check {name}: max relative error {worst:.3g}")
