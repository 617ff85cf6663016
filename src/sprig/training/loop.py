"""The training loop: mini-batch SGD with explicit backprop, timed by phase.

One step is::

    Y, backprop = model.forward_fm(Xt, train=True)       # forward
    loss, dY = loss_fn.value_and_grad(Y, Tt)             # (mean over the batch by default)
    backprop(dY)                                         # backward: writes every Param.grad
    clip (optional); lr = schedule(step)
    callbacks.on_gradients(state, params)                # combine gradients (all-reduce)
    optimizer.step(value, grad, state, lr=lr)            # per parameter, in place
    callbacks.on_batch_end(...)                          # e.g. the DST topology update

With ``micro_batches = k`` each batch is split into ``k`` column chunks, run forward/backward
one at a time, and their gradients are accumulated (weighted by chunk size for a mean loss)
before the hook and the step: the same update as the whole batch, with ``1/k`` of the
activation memory. Everything per parameter is keyed by path name (``"trunk.0.weight"``).

Tasks: ``"classification"`` (one-hot targets, accuracy reported), ``"regression"`` (the
dataset's float targets ``t``) and ``"reconstruction"`` (the target is the clean input, e.g.
an autoencoder); the last two report losses only. A model with several outputs (heads) is
trained with a :class:`~sprig.losses.HeadsLoss` (a plain loss is wrapped, mean over heads) and
evaluated on :meth:`~sprig.models.Model.combine` of its outputs.

Each epoch's row also counts the FLOPs of a forward pass per sample and of a training step
(from the stored weights, :func:`flops`) and the cumulative training time
(``total_seconds``). With a validation split
(:meth:`~sprig.data.datasets.Dataset.split_validation`) every epoch also reports
``val_loss`` (and ``val_accuracy``), which early stopping and keep-best should monitor.

A non-finite loss stops training with a :class:`~sprig.errors.DivergenceError` naming the
epoch and step (nothing is trained through it); weights are checked at each epoch end. An
exploding but finite loss or weight stops it the same way (``Trainer.guard``, a
:class:`~sprig.training.guards.DivergenceGuard`; set it to ``None`` to turn it off).
Evaluation runs in eval mode (no dropout, batch-norm running statistics).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..clipping import clip_grad_norm
from ..data.batching import Batches
from ..data.datasets import Dataset
from ..errors import ConfigError, DivergenceError
from ..losses.base import Loss
from ..losses.heads import HeadsLoss
from ..matrices.kernels import eval_rows
from ..models.model import Model
from ..typing import FloatArray
from .callbacks import Callback, finite_or_raise
from .guards import DivergenceGuard
from .state import OptimizerMap, TrainState, init_optimizers

Schedule = Callable[[int], float]
PHASES = ("data", "forward", "backward", "optimizer", "topology", "evaluate")


TASKS = ("classification", "regression", "reconstruction")


def flops(model: Model, batch_size: int) -> dict[str, int]:
    """Multiply-add FLOPs (2 per stored weight and sample) counted from the affine layers'
    stored weights: ``flops_forward`` per sample, and ``flops_train_step`` for one training
    step of ``batch_size`` samples (forward, backward-data, weight gradient: 3 products per
    layer, 2 for the first layer, which needs no input gradient)."""
    fwd = train = 0
    for i, layer in enumerate(model.affine_modules().values()):
        f = 2 * layer.nnz
        fwd += f
        train += f * (2 if i == 0 else 3)
    return {"flops_forward": int(fwd), "flops_train_step": int(train * batch_size)}


def _as_heads_loss(loss: Any, model: Model) -> Any:
    if model.num_outputs > 1 and not isinstance(loss, HeadsLoss):
        return HeadsLoss(loss)
    return loss


def evaluate(
    model: Model,
    X: FloatArray,
    y: Any,
    loss: Any,
    *,
    batch_size: int = 1024,
    task: str = "classification",
    targets: Any = None,
) -> dict[str, float]:
    """Loss (and accuracy, for classification) of ``model`` on batch-first ``X`` in
    evaluation mode; the loss is averaged over samples. ``y`` are integer labels;
    ``targets`` the float targets of a regression task. A model with several outputs is
    scored with the combined loss, its accuracy on :meth:`Model.combine` of the outputs."""
    from ..data.datasets import one_hot
    from ..matrices.kernels import gather_transpose

    loss = _as_heads_loss(loss, model)
    y = np.asarray(y)
    total = correct = 0.0
    X = np.ascontiguousarray(X, dtype=model.dtype)
    widest = model.widest_layer()
    batch_size = eval_rows(batch_size, widest, X.itemsize)  # bounded memory for wide layers
    for s in range(0, len(X), batch_size):
        idx = np.arange(s, min(s + batch_size, len(X)))
        Xt = gather_transpose(X, idx)
        Y, _ = model.forward_fm(Xt, train=False)
        if task == "classification":
            T = one_hot(y[idx], model.output_features, model.dtype)
        elif task == "reconstruction":
            T = Xt
        else:
            T = gather_transpose(np.ascontiguousarray(targets, model.dtype), idx)
        total += loss.value(Y, T) * (len(idx) if loss.reduction == "mean" else 1.0)
        if task == "classification":
            correct += float(np.sum(np.argmax(model.combine(Y), axis=0) == y[idx]))
    n = max(len(X), 1)
    out = {"loss": total / n}
    if task == "classification":
        out["accuracy"] = correct / n
    return out


class Trainer:
    """Runs epochs of mini-batch training over a :class:`TrainState`.

    Args:
        model: the network (any model tree; see :class:`~sprig.models.Model`).
        loss: the loss (its reduction decides the gradient scale); for a model with
            several outputs a :class:`~sprig.losses.HeadsLoss` (a plain loss is averaged
            over the heads).
        optimizer: one update rule; parameter-name pattern → rule (``{"heads.*": Adam(),
            "*": Momentum(0.9)}``, first match wins, ``Frozen()`` freezes); or layer index
            → rule (Nerva).
        schedule: learning rate per optimizer step (a float means constant).
        epochs: number of epochs (≥ 1).
        batch_size: mini-batch size (≥ 1).
        seed: seeds the batch order (a pure function of ``(seed, epoch)``).
        callbacks: hooks (progress, metrics, checkpoints, DST topology update, ...).
        clip_norm: clip the global gradient L2 norm to this value (``None``: off).
        shuffle, drop_last: batching options.
        augment: per-batch augmentation ``(Xt, rng) -> Xt``.
        eval_batch_size: batch size of evaluation passes.
        density_lr_power: SMET's density-aware learning rate: the weight of a sparse layer
            with density ``d`` is updated with ``lr · d^(−p)`` (biases and dense layers with
            ``lr``). ``p = 1`` is SMET's released ``lr / density``; its published density
            sweep (0.5 / 0.3 / 0.1 → 1e-3 / 2e-3 / 5e-3) is close to ``p = 1`` too; ``p = 0``
            (default) turns scaling off. The factor is recomputed each step, so it follows
            density changes of GMP/GraNet/SNFS.
        evaluate: evaluate on the test split after each epoch (Nerva's ``--no-statistics``
            turns it off).
        epoch_batches: batches of epoch ``e`` when the training set changes per epoch
            (Nerva's ``--preprocessed`` directories of ``epoch<e>.npz``); default: the same
            dataset every epoch.
        task: ``"classification"``, ``"regression"`` or ``"reconstruction"``.
        micro_batches: split each batch into this many chunks and accumulate their
            gradients before the step (gradient accumulation; same update, less memory).
        shard: ``(rank, world_size)`` for data-parallel training: this process trains on
            its slice of every global batch (see :mod:`sprig.training.distributed`, whose
            ``DataParallel`` callback combines the ranks' gradients).
    """

    def __init__(
        self,
        model: Model,
        *,
        loss: Loss | HeadsLoss,
        optimizer: OptimizerMap,
        schedule: Schedule | float,
        epochs: int,
        batch_size: int,
        seed: int = 0,
        callbacks: Sequence[Callback] = (),
        clip_norm: float | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        augment: Any = None,
        eval_batch_size: int = 1024,
        density_lr_power: float = 0.0,
        evaluate: bool = True,
        epoch_batches: Callable[[int], Batches] | None = None,
        task: str = "classification",
        micro_batches: int = 1,
        shard: tuple[int, int] | None = None,
    ) -> None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        if task not in TASKS:
            raise ConfigError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
        if (
            isinstance(micro_batches, bool)
            or not isinstance(micro_batches, int)
            or (micro_batches < 1)
        ):
            raise ConfigError(f"micro_batches must be a positive integer, got {micro_batches!r}")
        if clip_norm is not None and not clip_norm > 0:
            raise ConfigError(f"clip_norm must be > 0, got {clip_norm!r}")
        if shard is not None:
            rank, size = shard
            if not (isinstance(size, int) and size >= 1 and isinstance(rank, int)):
                raise ConfigError(f"shard must be (rank, world_size), got {shard!r}")
            if not 0 <= rank < size or batch_size < size:
                raise ConfigError(
                    f"shard {shard}: need 0 <= rank < world_size <= batch_size ({batch_size})"
                )
        self.shard = shard
        self.loss = _as_heads_loss(loss, model)
        self.task = task
        self.micro_batches = micro_batches
        if isinstance(schedule, int | float):
            from ..schedules import Constant

            schedule = Constant(float(schedule))
        self.schedule: Schedule = schedule
        self.batch_size = batch_size
        self.seed = seed
        self.callbacks = list(callbacks)
        self.clip_norm = clip_norm
        self.shuffle, self.drop_last, self.augment = shuffle, drop_last, augment
        self.eval_batch_size = eval_batch_size
        if not density_lr_power >= 0:
            raise ConfigError(f"density_lr_power must be >= 0, got {density_lr_power!r}")
        self.density_lr_power = float(density_lr_power)
        self.evaluate = evaluate
        self.epoch_batches = epoch_batches
        self.guard: DivergenceGuard | None = DivergenceGuard()  # None turns it off
        rules, states = init_optimizers(model, optimizer)
        self.state = TrainState(model=model, optimizers=rules, opt_states=states, epochs=epochs)

    def batches(self, data: Dataset) -> Batches:
        """The batch source for ``data``'s training split (targets by task)."""
        targets: Any = None
        if self.task == "regression":
            targets = data.t_train
        elif self.task == "reconstruction":
            targets = "inputs"
        return Batches(
            data.x_train,
            data.y_train,
            self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed,
            drop_last=self.drop_last,
            num_classes=data.num_classes,
            dtype=self.state.model.dtype,
            augment=self.augment,
            targets=targets,
        )

    def _check_data(self, data: Dataset) -> None:
        model = self.state.model
        if data.num_features != model.in_features:
            raise ConfigError(
                f"the data has {data.num_features} features but the network's input layer "
                f"has {model.in_features}"
            )
        width = model.output_features
        if self.task == "classification" and data.num_classes > width:
            raise ConfigError(
                f"the data has {data.num_classes} classes but the network has only {width} outputs"
            )
        if self.task == "regression":
            if data.num_targets is None:
                raise ConfigError("task 'regression' needs a dataset with float targets t_train")
            if data.num_targets != width:
                raise ConfigError(
                    f"the data has {data.num_targets} regression targets but the network has "
                    f"{width} outputs"
                )
        if self.task == "reconstruction" and width != data.num_features:
            raise ConfigError(
                f"task 'reconstruction' needs as many outputs as inputs ({data.num_features}), "
                f"the network has {width}"
            )

    def fit(self, data: Dataset) -> list[dict[str, Any]]:
        """Train until ``epochs`` are done (continuing from the state's counters), evaluating
        on ``data``'s validation split (if any) and test split after each epoch. Returns the
        history (one row per epoch)."""
        st = self.state
        self._check_data(data)
        default = self.batches(data)

        def batches_of(epoch: int) -> Batches:
            return default if self.epoch_batches is None else self.epoch_batches(epoch)

        st.probe = lambda: self._probe(batches_of(st.epoch))
        for cb in self.callbacks:
            cb.on_train_begin(st)
        while st.epoch < st.epochs and not st.stop_training:
            self._run_epoch(data, batches_of(st.epoch))
        for cb in self.callbacks:
            cb.on_train_end(st)
        return st.history

    # ------------------------------------------------------------------ internals
    def _lr_scales(self) -> dict[str, float]:
        out = {}
        for name, W in self.state.model.sparse_weights().items():
            d = W.density
            if d > 0:
                out[name] = d ** (-self.density_lr_power)
        return out

    def _diverged(self, what: str) -> DivergenceError:
        st = self.state
        return DivergenceError(
            f"{what} at epoch {st.epoch + 1}, batch {st.batch_in_epoch + 1} "
            f"(step {st.step + 1}); lower the learning rate or check the data"
        )

    def _probe(self, batches: Batches) -> dict[str, Any]:
        """Forward/backward on the first batch of the current epoch, no optimizer step.

        Writes the parameter gradients of that batch and returns the taps by layer path.
        Buffers (batch-norm running statistics) and the layers' random streams are restored,
        so the probe leaves no other trace.
        """
        st = self.state
        model = st.model
        buffers = {k: np.array(v, copy=True) for k, v in model.named_buffers().items()}
        rngs = [(r, dict(r.bit_generator.state)) for r in model.named_rngs().values()]
        batch = next(batches.epoch(st.epoch))
        taps: dict[str, Any] = {}
        Y, backprop = model.forward_fm(batch.Xt, train=True, taps=taps)
        backprop(self.loss.grad(Y, batch.Tt))
        for k, v in model.named_buffers().items():
            v[...] = buffers[k]
        for r, state in rngs:
            r.bit_generator.state = state
        return taps

    def _forward_backward(
        self, Xt: FloatArray, Tt: FloatArray, taps: dict[str, Any] | None
    ) -> tuple[float, Any]:
        """Loss value and output of one (micro-)batch; writes every ``Param.grad``."""
        model = self.state.model
        tm = self.state.timers
        t0 = time.perf_counter()
        try:
            Y, backprop = model.forward_fm(Xt, train=True, taps=taps)
            value, dY = self.loss.value_and_grad(Y, Tt)
        except FloatingPointError as e:  # raised instead of NaN under np.errstate("raise")
            raise self._diverged(f"forward pass failed ({e})") from None
        if not np.isfinite(value):
            raise self._diverged(f"loss became {value}")
        t1 = time.perf_counter()
        tm["forward"] += t1 - t0
        try:
            backprop(dY)
        except FloatingPointError as e:
            raise self._diverged(f"backward pass failed ({e})") from None
        tm["backward"] += time.perf_counter() - t1
        return float(value), Y

    def _accumulated(
        self, batch: Any, taps: dict[str, Any] | None, params: dict[str, Any]
    ) -> tuple[float, Any]:
        """Gradient accumulation over ``micro_batches`` column chunks of ``batch``.

        Chunk gradients are weighted by ``n_chunk / n`` for a mean loss (so the result is the
        whole batch's gradient) and summed for a sum loss; the reported loss is combined the
        same way. RigL's gradient sample (``taps``) is the last chunk's.
        """
        n = batch.Xt.shape[1]
        k = min(self.micro_batches, n)
        bounds = np.linspace(0, n, k + 1).astype(np.int64)
        acc = {name: np.zeros_like(p.grad) for name, p in params.items()}
        total = 0.0
        outputs = []
        for c in range(k):
            lo, hi = int(bounds[c]), int(bounds[c + 1])
            Xc = np.ascontiguousarray(batch.Xt[:, lo:hi])
            Tc = np.ascontiguousarray(batch.Tt[:, lo:hi])
            w = (hi - lo) / n if self.loss.reduction == "mean" else 1.0
            value, Y = self._forward_backward(Xc, Tc, taps if c == k - 1 else None)
            total += w * value
            outputs.append(Y)
            for name, p in params.items():
                acc[name] += p.grad * p.grad.dtype.type(w)
        for name, p in params.items():
            p.grad[...] = acc[name]
        if isinstance(outputs[0], tuple):
            Y = tuple(
                np.concatenate([o[h] for o in outputs], axis=1) for h in range(len(outputs[0]))
            )
        else:
            Y = np.concatenate(outputs, axis=1)
        return total, Y

    def _run_epoch(self, data: Dataset, batches: Batches) -> None:
        st = self.state
        model = st.model
        if st.batch_in_epoch == 0:
            st.loss_sum, st.correct, st.seen = 0.0, 0, 0
            st.timers = dict.fromkeys(PHASES, 0.0)
        st.timers = st.timers or dict.fromkeys(PHASES, 0.0)  # resumed inside an epoch
        for cb in self.callbacks:
            cb.on_epoch_begin(st)
        classify = self.task == "classification"
        t_epoch = time.perf_counter()
        t = time.perf_counter()
        for batch in batches.epoch(st.epoch, start=st.batch_in_epoch):
            tm = st.timers
            t1 = time.perf_counter()
            tm["data"] += t1 - t
            taps: dict[str, Any] | None = (
                {} if any(cb.wants_taps(st) for cb in self.callbacks) else None
            )
            params = model.params()
            global_n = len(batch.y)
            if self.shard is not None:
                from .distributed import shard

                cols = shard(global_n, *self.shard)
                batch = type(batch)(
                    np.ascontiguousarray(batch.Xt[:, cols]),
                    np.ascontiguousarray(batch.Tt[:, cols]),
                    batch.y[cols],
                    batch.rows[cols],
                )
            if len(batch.y) == 0:  # a last partial batch smaller than the number of ranks
                value, Y = 0.0, None
                for p in params.values():
                    p.grad[...] = 0
            elif self.micro_batches > 1:
                value, Y = self._accumulated(batch, taps, params)
            else:
                value, Y = self._forward_backward(batch.Xt, batch.Tt, taps)
            grads = {
                "params": params,
                "batch_size": len(batch.y),
                "global_batch_size": global_n,
            }
            for cb in self.callbacks:
                cb.on_gradients(st, grads)
            t3 = time.perf_counter()
            if self.clip_norm is not None:
                clip_grad_norm([p.grad for p in params.values()], self.clip_norm)
            lr = float(self.schedule(st.step))
            scale = self._lr_scales() if self.density_lr_power else {}
            for name, p in params.items():
                st.optimizers[name].step(
                    p.value, p.grad, st.opt_states[name], lr=lr * scale.get(name, 1.0)
                )
            t4 = time.perf_counter()
            tm["optimizer"] += t4 - t3
            n = len(batch.y)
            st.loss_sum += value * (n if self.loss.reduction == "mean" else 1.0)
            if classify and Y is not None:
                st.correct += int(np.sum(np.argmax(model.combine(Y), axis=0) == batch.y))
            st.seen += n
            if self.guard is not None and (why := self.guard.check(value, params)):
                raise self._diverged(why)  # finite but exploding (sprig.training.guards)
            st.step += 1
            st.batch_in_epoch += 1
            logs: dict[str, Any] = {
                "loss": value,
                "lr": lr,
                "batch_size": n,
                "global_batch_size": global_n,
                "taps": taps,
            }
            for cb in self.callbacks:
                cb.on_batch_end(st, logs)
            tm["topology"] += logs.get("topology_seconds", 0.0)
            t = time.perf_counter()
        self._end_epoch(data, time.perf_counter() - t_epoch)

    def _evaluate(self, data: Dataset, part: str) -> dict[str, float]:
        X = getattr(data, f"x_{part}")
        return evaluate(
            self.state.model,
            X,
            getattr(data, f"y_{part}"),
            self.loss,
            batch_size=self.eval_batch_size,
            task=self.task,
            targets=getattr(data, f"t_{part}"),
        )

    def _end_epoch(self, data: Dataset, seconds: float) -> None:
        st = self.state
        model = st.model
        for name, p in model.params().items():
            finite_or_raise(f"parameter {name}", p.value, f"in epoch {st.epoch + 1}")
        t = time.perf_counter()
        row: dict[str, Any] = {
            "epoch": st.epoch + 1,
            "step": st.step,
            "lr": float(self.schedule(max(st.step - 1, 0))),
            "train_loss": st.running_loss(),
        }
        if self.task == "classification":
            row["train_accuracy"] = st.running_accuracy()
        for part in ("val", "test"):
            X = getattr(data, f"x_{part}")
            if self.evaluate and X is not None and len(X):
                for k, v in self._evaluate(data, part).items():
                    row[f"{part}_{k}"] = v
        st.timers["evaluate"] = time.perf_counter() - t
        row["seconds"] = seconds
        row.update({f"time_{k}": v for k, v in st.timers.items()})
        row["total_seconds"] = (st.history[-1].get("total_seconds", 0.0) if st.history else 0.0) + (
            seconds
        )
        layers = {}
        for path, layer in model.affine_modules().items():
            dense = layer.in_features * layer.out_features
            layers[path] = {"nnz": layer.nnz, "density": layer.nnz / dense}
        row["layers"] = layers
        row.update(flops(model, self.batch_size))
        if "dst" in st.extra:
            row["dst"] = st.extra["dst"].get("last_epoch", {})
        st.history.append(row)
        st.epoch += 1
        st.batch_in_epoch = 0
        for cb in self.callbacks:
            cb.on_epoch_end(st, row)
