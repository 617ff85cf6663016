"""Whole-run checkpoints: atomic, pickle-free, and enough to resume bit-identically.

A checkpoint is one ``.npz`` written by :func:`sprig.io.save_npz` (temporary file, fsync,
rename) holding:

* ``model/<key>``: the model's ``state_dict`` (weights, sparse topologies, buffers);
* ``opt/<param>/<field>``: every optimizer-state field (per-entry arrays and scalars);
* ``extra/<key>``: arrays of callbacks (e.g. DST's record of ever-active positions);
* ``__meta__`` (JSON): format tag, counters (epoch, batch in epoch, step), the running sums
  of the current epoch, the history, callbacks' JSON state, the state of every random
  generator (layers' dropout streams, the DST stream), and the run's configuration.

Batch order needs no saved state: it is a pure function of ``(seed, epoch)``. With the same
thread count the kernels are deterministic, so a run killed at any point and resumed from its
last checkpoint ends with the same weights, bit for bit, as an uninterrupted run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..io import check_state_arrays, load_npz, save_npz
from ..optimizers.base import state_arrays, state_from_arrays
from .callbacks import Callback
from .state import TrainState, np_rng_state, set_np_rng_state

FORMAT = "sprig-checkpoint-1"


def _rngs(state: TrainState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, layer in enumerate(state.model.net):
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator):
            out[f"layer{i}"] = np_rng_state(rng)
    for key, rng in state.rngs.items():
        out[key] = np_rng_state(rng)
    return out


def save_checkpoint(
    path: str | os.PathLike[str], state: TrainState, config: dict[str, Any] | None = None
) -> Path:
    """Atomically write everything needed to resume ``state``."""
    arrays: dict[str, Any] = {f"model/{k}": v for k, v in state.model.state_dict().items()}
    for name, s in state.opt_states.items():
        for field, value in state_arrays(s).items():
            arrays[f"opt/{name}/{field}"] = np.asarray(value)
    arrays.update({f"extra/{k}": v for k, v in state.arrays.items()})
    meta = {
        "format": FORMAT,
        "epoch": state.epoch,
        "batch_in_epoch": state.batch_in_epoch,
        "step": state.step,
        "epochs": state.epochs,
        "running": {"loss_sum": state.loss_sum, "correct": state.correct, "seen": state.seen},
        "history": state.history,
        "extra": state.extra,
        "rngs": _rngs(state),
        "config": config,
    }
    return save_npz(path, arrays, meta=meta)


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read and sanity-check a checkpoint: ``(arrays, meta)``.

    Raises:
        CheckpointError: missing, empty, corrupt, or not a sprig checkpoint.
    """
    arrays, meta = load_npz(path, what="checkpoint")
    check_meta(meta, path)
    check_state_arrays({k[6:]: v for k, v in arrays.items() if k.startswith("model/")}, str(path))
    return arrays, meta


def check_meta(meta: Any, path: Any) -> None:
    """Check a checkpoint's metadata: format tag, types of every field, and counters.

    Raises:
        CheckpointError: not a sprig checkpoint, or missing, mistyped or crafted fields.
    """
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a sprig checkpoint")
    kinds = {
        "epoch": int,
        "batch_in_epoch": int,
        "step": int,
        "epochs": int,
        "running": dict,
        "history": list,
        "extra": dict,
        "rngs": dict,
    }
    bad = [k for k, t in kinds.items() if not isinstance(meta.get(k), t)]
    running = meta.get("running")
    if not bad and not (
        isinstance(running, dict) and all(k in running for k in ("loss_sum", "correct", "seen"))
    ):
        bad.append("running")
    if bad:
        raise CheckpointError(f"checkpoint {path} has missing or invalid metadata: {bad}")
    check_counters(meta, path)


def check_counters(meta: dict[str, Any], path: Any, *, steps_per_epoch: int | None = None) -> None:
    """Refuse crafted or inconsistent counters: ``0 <= epoch <= epochs`` (at most 10**6),
    ``batch_in_epoch >= 0``, one history row per finished epoch, and, when
    ``steps_per_epoch`` is known, ``step == epoch * steps_per_epoch + batch_in_epoch``.

    Raises:
        CheckpointError: naming the bad counter and the range allowed.
    """
    epoch, epochs = meta["epoch"], meta["epochs"]
    batch, step = meta["batch_in_epoch"], meta["step"]
    if not 1 <= epochs <= 10**6:
        raise CheckpointError(f"checkpoint {path}: epochs {epochs} is outside 1..1000000")
    if not 0 <= epoch <= epochs:
        raise CheckpointError(f"checkpoint {path}: epoch {epoch} is outside 0..{epochs}")
    if batch < 0 or step < 0:
        raise CheckpointError(
            f"checkpoint {path}: batch_in_epoch {batch} and step {step} must be >= 0"
        )
    if len(meta["history"]) != epoch:
        raise CheckpointError(
            f"checkpoint {path}: epoch {epoch} but {len(meta['history'])} history rows; "
            "they must agree"
        )
    if steps_per_epoch is not None:
        if batch > steps_per_epoch:  # == after the last batch, before the epoch's end
            raise CheckpointError(
                f"checkpoint {path}: batch_in_epoch {batch} is outside 0..{steps_per_epoch}"
            )
        if step != epoch * steps_per_epoch + batch:
            raise CheckpointError(
                f"checkpoint {path}: step {step} does not match epoch {epoch} and batch "
                f"{batch} at {steps_per_epoch} steps per epoch (expected "
                f"{epoch * steps_per_epoch + batch})"
            )


def restore_checkpoint(
    state: TrainState, path: str | os.PathLike[str], *, steps_per_epoch: int | None = None
) -> dict[str, Any]:
    """Load a checkpoint into an already-built ``state`` (same architecture). Returns meta.
    With ``steps_per_epoch`` the step counter is checked against epoch and batch.

    Raises:
        CheckpointError: if the checkpoint does not match the model or optimizers.
    """
    arrays, meta = read_checkpoint(path)
    check_counters(meta, path, steps_per_epoch=steps_per_epoch)
    model_state = {k[6:]: v for k, v in arrays.items() if k.startswith("model/")}
    state.model.load_state_dict(model_state)
    new_states = {}
    for name, old in state.opt_states.items():
        prefix = f"opt/{name}/"
        fields = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        try:
            new_states[name] = state_from_arrays(type(old), fields)
        except (KeyError, TypeError) as e:
            raise CheckpointError(
                f"optimizer state for {name} does not match the configured optimizer ({e})"
            ) from None
        value = state.model.params()[name].value
        for f, v in fields.items():
            if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape != value.shape:
                raise CheckpointError(
                    f"optimizer state {name}.{f} has shape {v.shape}, parameter has {value.shape}"
                )
    extra_names = set(state.opt_states)
    saved_names = {k.split("/")[1] for k in arrays if k.startswith("opt/")}
    if saved_names != extra_names:
        raise CheckpointError(
            f"checkpoint has optimizer state for {sorted(saved_names)[:5]}, "
            f"model has {sorted(extra_names)[:5]}"
        )
    state.opt_states = new_states
    state.arrays = {k[6:]: v for k, v in arrays.items() if k.startswith("extra/")}
    state.epoch = int(meta["epoch"])
    state.batch_in_epoch = int(meta["batch_in_epoch"])
    state.step = int(meta["step"])
    run = meta["running"]
    state.loss_sum, state.correct, state.seen = (
        float(run["loss_sum"]),
        int(run["correct"]),
        int(run["seen"]),
    )
    state.history = list(meta["history"])
    state.extra = dict(meta["extra"])
    rngs = meta["rngs"]
    for i, layer in enumerate(state.model.net):
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator) and f"layer{i}" in rngs:
            set_np_rng_state(rng, rngs[f"layer{i}"])
    for key, saved in rngs.items():
        if key.startswith("layer"):
            continue
        # streams of callbacks that have not started yet are created here, ready for them
        rng = state.rngs.setdefault(key, np.random.default_rng())
        set_np_rng_state(rng, saved)
    return meta


class Checkpoint(Callback):
    """Save ``run_dir/checkpoint.npz`` when training begins (if there is none yet), at every
    epoch end and every ``every_steps`` steps.

    Keep it after the callbacks that change the model (the topology update), so a checkpoint
    sees the state after them.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        every_steps: int | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        if every_steps is not None and every_steps < 1:
            raise ValueError(f"every_steps must be >= 1, got {every_steps}")
        self.path, self.every_steps, self.config = Path(path), every_steps, config

    def on_train_begin(self, state: TrainState) -> None:
        # a checkpoint from the very start: a run killed at any moment can be resumed
        if not self.path.exists():
            save_checkpoint(self.path, state, self.config)

    def on_batch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        if self.every_steps and state.step % self.every_steps == 0:
            save_checkpoint(self.path, state, self.config)

    def on_epoch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        save_checkpoint(self.path, state, self.config)
