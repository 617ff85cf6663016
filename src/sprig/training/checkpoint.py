"""Whole-run checkpoints: atomic, pickle-free, and enough to resume bit-identically.

A checkpoint is one ``.npz`` written by :func:`sprig.io.save_npz` (temporary file, fsync,
rename) holding:

* ``model/<key>``: the model's ``state_dict`` (weights, sparse topologies, buffers), keyed
  by path name (``model/trunk.0.weight.data``);
* ``opt/<param path>/<field>``: every optimizer-state field (per-entry arrays and scalars);
* ``extra/<key>``: arrays of callbacks (e.g. DST's record of ever-active positions);
* ``__meta__`` (JSON): format tag (``sprig-checkpoint-2``; version-1 files, keyed by layer
  index, are upgraded when read), the model's architecture, counters (epoch, batch in
  epoch, step), the running sums of the current epoch, the history, callbacks' JSON state,
  the state of every random generator (layers' dropout streams by layer path, the DST
  stream), and the run's configuration.

Batch order needs no saved state: it is a pure function of ``(seed, epoch)``. With the same
thread count the kernels are deterministic, so a run killed at any point and resumed from its
last checkpoint ends with the same weights, bit for bit, as an uninterrupted run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..io import check_state_arrays, load_npz, save_npz
from ..optimizers.base import state_arrays, state_from_arrays
from .callbacks import Callback
from .state import TrainState, np_rng_state, set_np_rng_state

#: Format tag written; ``-2`` keys layers by path name (``-1`` files are upgraded on read).
FORMAT = "sprig-checkpoint-2"
FORMATS = ("sprig-checkpoint-1", FORMAT)


def _rngs(state: TrainState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, rng in state.model.named_rngs().items():
        out[f"module:{path}"] = np_rng_state(rng)
    for key, rng in state.rngs.items():
        out[key] = np_rng_state(rng)
    return out


def _upgrade_v1(arrays: dict[str, Any], meta: dict[str, Any]) -> None:
    """Rename the integer layer keys of a ``sprig-checkpoint-1`` file to path names.

    Model and optimizer keys were already ``"<i>.weight"`` (a sequential tree's paths); the
    layers' random streams were ``"layer<i>"`` (now ``"module:<i>"``) and the DST record was
    keyed by ``"<i>"`` (now the weight's path ``"<i>.weight"``).
    """
    rngs = meta["rngs"]
    meta["rngs"] = {
        (f"module:{k[5:]}" if k.startswith("layer") and k[5:].isdigit() else k): v
        for k, v in rngs.items()
    }
    record = meta["extra"].get("dst_record")
    if isinstance(record, dict) and isinstance(record.get("initial_nnz"), dict):
        record["initial_nnz"] = {f"{k}.weight": v for k, v in record["initial_nnz"].items()}
        for k in [k for k in arrays if k.startswith("extra/dst_ever/")]:
            arrays[f"{k}.weight"] = arrays.pop(k)


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
        "architecture": state.model.architecture(),
    }
    return save_npz(path, arrays, meta=meta)


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read and sanity-check a checkpoint: ``(arrays, meta)``.

    Raises:
        CheckpointError: missing, empty, corrupt, or not a sprig checkpoint.
    """
    arrays, meta = load_npz(path, what="checkpoint")
    check_meta(meta, path)
    if meta["format"] == "sprig-checkpoint-1":
        _upgrade_v1(arrays, meta)
    check_state_arrays({k[6:]: v for k, v in arrays.items() if k.startswith("model/")}, str(path))
    return arrays, meta


def check_meta(meta: Any, path: Any) -> None:
    """Check a checkpoint's metadata: format tag, types of every field, and counters.

    Raises:
        CheckpointError: not a sprig checkpoint, or missing, mistyped or crafted fields.
    """
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
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
    state.model.check_architecture(meta.get("architecture"), f"checkpoint {path}")
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
    for path, rng in state.model.named_rngs().items():
        if f"module:{path}" in rngs:
            set_np_rng_state(rng, rngs[f"module:{path}"])
    for key, saved in rngs.items():
        if key.startswith("module:"):
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


# ---------------------------------------------------------------- reading a model's stored layout
# What `sprig info/evaluate/export` need to know about a stored model, so that they never decode
# key names themselves (the layout belongs to the model and this module).


def model_state_of(arrays: dict[str, Any]) -> dict[str, Any]:
    """The model's ``state_dict`` inside a checkpoint's arrays."""
    return {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}


@dataclass(frozen=True)
class StoredLinear:
    """One affine layer of a stored state dict (without building it).

    Attributes:
        kind: ``"dense"`` or ``"sparse"``.
        shape: ``(out_features, in_features)``.
        nnz: stored weights.
        bias: number of bias values (0 without bias).
        keys: the state-dict keys that belong to this layer.
    """

    kind: str
    shape: tuple[int, ...]
    nnz: int
    bias: int
    keys: tuple[str, ...]


def stored_linear_layers(state: Mapping[str, Any]) -> dict[int, StoredLinear]:
    """The affine layers of a model state dict, by layer index, in order.

    Raises:
        CheckpointError: a layer's arrays are missing or malformed.
    """
    out: dict[int, StoredLinear] = {}
    for key in state:
        head, _, rest = key.partition(".")
        if not head.isdigit() or rest not in ("weight", "weight.indptr"):
            continue
        i = int(head)
        try:
            if rest == "weight.indptr":
                shape = tuple(int(s) for s in np.asarray(state[f"{i}.weight.shape"]).reshape(-1))
                nnz, kind = int(np.asarray(state[f"{i}.weight.data"]).size), "sparse"
            else:
                shape = tuple(np.asarray(state[key]).shape)
                nnz, kind = int(np.prod(shape)), "dense"
        except KeyError as e:
            raise CheckpointError(f"layer {i} of the weights is incomplete: missing {e}") from None
        bias = int(np.asarray(state.get(f"{i}.bias", np.zeros(0))).size)
        keys = tuple(k for k in state if k.partition(".")[0] == head)
        out[i] = StoredLinear(kind, shape, nnz, bias, keys)
    return dict(sorted(out.items()))


def match_stored_kinds(layers: list[Any], state: Mapping[str, Any]) -> list[Any]:
    """``layers`` with each affine layer turned sparse or dense as ``state`` stores it (a
    dense-to-sparse run changes that during training); other layers are kept."""
    from ..layers.linear import Linear, SparseLinear
    from ..matrices.csr import CSRMatrix

    kinds = {i: s.kind for i, s in stored_linear_layers(state).items()}
    out = list(layers)
    for i, layer in enumerate(out):
        dtype = getattr(layer, "dtype", None)
        if isinstance(layer, Linear) and kinds.get(i) == "sparse":
            W = CSRMatrix.from_dense(np.ones((layer.out_features, layer.in_features)), dtype=dtype)
            out[i] = SparseLinear(
                layer.in_features,
                layer.out_features,
                weight=W,
                bias=layer.bias is not None,
                dtype=dtype,
            )
        elif isinstance(layer, SparseLinear) and kinds.get(i) == "dense":
            out[i] = Linear(
                layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=dtype
            )
    return out


def linear_model_from_state(state: Mapping[str, Any]) -> Any:
    """A model of just the affine layers of a state dict (no activations: enough for Nerva's
    ``W1, b1, …`` export and for validating the arrays).

    Raises:
        CheckpointError: malformed arrays, or no affine layer at all.
    """
    from ..layers.linear import Linear, SparseLinear
    from ..matrices.csr import CSRMatrix
    from ..models.mlp import MLP

    layers: list[Any] = []
    for i, stored in stored_linear_layers(state).items():
        has_bias = stored.bias > 0 or f"{i}.bias" in state
        try:
            if stored.kind == "sparse":
                shape = stored.shape
                data = np.asarray(state[f"{i}.weight.data"])
                dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float32)
                W = CSRMatrix(
                    shape,  # type: ignore[arg-type]
                    np.ascontiguousarray(state[f"{i}.weight.indptr"], np.int64),
                    np.ascontiguousarray(state[f"{i}.weight.indices"], np.int32),
                    np.ascontiguousarray(data, dtype),
                )
                layer: Any = SparseLinear(shape[1], shape[0], weight=W, bias=has_bias, dtype=dtype)
            else:
                Wd = np.asarray(state[f"{i}.weight"])
                if Wd.ndim != 2 or Wd.dtype.kind != "f":
                    raise CheckpointError(
                        f"layer {i} weight has shape {Wd.shape} and dtype "
                        f"{Wd.dtype}; expected a 2-D float array"
                    )
                layer = Linear(Wd.shape[1], Wd.shape[0], bias=has_bias, dtype=Wd.dtype)
                layer.weight[...] = Wd
            if has_bias:
                layer.bias[...] = np.asarray(state[f"{i}.bias"]).reshape(layer.out_features)
        except (KeyError, ValueError, TypeError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"layer {i} of the weights is invalid: {e}") from None
        layers.append(layer)
    if not layers:
        raise CheckpointError("the weights hold no linear layer")
    return MLP(layers)
