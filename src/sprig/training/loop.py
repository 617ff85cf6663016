"""The training loop: mini-batch SGD with explicit backprop, timed by phase.

One step is::

    Y, backprop = model.forward_fm(Xt, train=True)       # forward
    loss, dY = loss_fn.value_and_grad(Y, Tt)             # (mean over the batch by default)
    backprop(dY)                                         # backward: writes every Param.grad
    clip (optional); lr = schedule(step)
    optimizer.step(value, grad, state, lr=lr)            # per parameter, in place
    callbacks.on_batch_end(...)                          # e.g. the DST topology update

A non-finite loss stops training with a :class:`~sprig.errors.DivergenceError` naming the
epoch and step (nothing is trained through it); weights are checked at each epoch end.
Evaluation runs in eval mode (no dropout, batch-norm running statistics).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..clipping import clip_grad_norm
from ..data.batching import Batches
from ..data.datasets import Dataset
from ..errors import ConfigError, DivergenceError
from ..losses.base import Loss
from ..matrices.kernels import eval_rows
from ..models.mlp import MLP
from ..optimizers.base import Optimizer
from ..typing import FloatArray
from .callbacks import Callback, finite_or_raise
from .state import TrainState, init_optimizers

Schedule = Callable[[int], float]
PHASES = ("data", "forward", "backward", "optimizer", "topology", "evaluate")


def evaluate(
    model: MLP, X: FloatArray, y: Any, loss: Loss, *, batch_size: int = 1024
) -> dict[str, float]:
    """Loss and accuracy of ``model`` on batch-first ``X`` with integer labels ``y``
    (evaluation mode; loss averaged over samples)."""
    from ..data.datasets import one_hot

    y = np.asarray(y)
    total = correct = 0.0
    X = np.ascontiguousarray(X, dtype=model.dtype)
    widest = max(max(la.in_features, la.out_features) for la in model.linear_layers().values())
    batch_size = eval_rows(batch_size, widest, X.itemsize)  # bounded memory for wide layers
    for s in range(0, len(y), batch_size):
        idx = np.arange(s, min(s + batch_size, len(y)))
        from ..matrices.kernels import gather_transpose

        Y, _ = model.forward_fm(gather_transpose(X, idx), train=False)
        T = one_hot(y[idx], model.out_features, model.dtype)
        total += loss.value(Y, T) * (len(idx) if loss.reduction == "mean" else 1.0)
        correct += float(np.sum(np.argmax(Y, axis=0) == y[idx]))
    n = max(len(y), 1)
    return {"loss": total / n, "accuracy": correct / n}


class Trainer:
    """Runs epochs of mini-batch training over a :class:`TrainState`.

    Args:
        model: the network.
        loss: the loss (its reduction decides the gradient scale).
        optimizer: one update rule, or layer index → rule.
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
    """

    def __init__(
        self,
        model: MLP,
        *,
        loss: Loss,
        optimizer: Optimizer[Any] | Mapping[int, Optimizer[Any]],
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
    ) -> None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        if clip_norm is not None and not clip_norm > 0:
            raise ConfigError(f"clip_norm must be > 0, got {clip_norm!r}")
        self.loss = loss
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
        rules, states = init_optimizers(model, optimizer)
        self.state = TrainState(model=model, optimizers=rules, opt_states=states, epochs=epochs)

    def batches(self, data: Dataset) -> Batches:
        """The batch source for ``data``'s training split."""
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
        )

    def fit(self, data: Dataset) -> list[dict[str, Any]]:
        """Train until ``epochs`` are done (continuing from the state's counters), evaluating
        on ``data``'s test split after each epoch. Returns the history (one row per epoch)."""
        st = self.state
        model = st.model
        if data.num_features != model.in_features:
            raise ConfigError(
                f"the data has {data.num_features} features but the network's input layer "
                f"has {model.in_features}"
            )
        if data.num_classes > model.out_features:
            raise ConfigError(
                f"the data has {data.num_classes} classes but the network has only "
                f"{model.out_features} outputs"
            )
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
        for i, layer in self.state.model.sparse_layers().items():
            d = layer.weight.density
            if d > 0:
                out[f"{i}.weight"] = d ** (-self.density_lr_power)
        return out

    def _diverged(self, what: str) -> DivergenceError:
        st = self.state
        return DivergenceError(
            f"{what} at epoch {st.epoch + 1}, batch {st.batch_in_epoch + 1} "
            f"(step {st.step + 1}); lower the learning rate or check the data"
        )

    def _probe(self, batches: Batches) -> dict[int, Any]:
        """Forward/backward on the first batch of the current epoch, no optimizer step.

        Writes the parameter gradients of that batch and returns the per-layer taps. Buffers
        (batch-norm running statistics) and the layers' random streams are restored, so the
        probe leaves no other trace.
        """
        st = self.state
        net = st.model.net
        buffers = {k: np.array(v, copy=True) for k, v in net.buffers().items()}
        rngs = [
            (r, dict(r.bit_generator.state))
            for r in (getattr(layer, "rng", None) for layer in net)
            if r is not None
        ]
        batch = next(batches.epoch(st.epoch))
        taps: dict[int, Any] = {}
        Y, backprop = st.model.forward_fm(batch.Xt, train=True, taps=taps)
        backprop(self.loss.grad(Y, batch.Tt))
        for k, v in net.buffers().items():
            v[...] = buffers[k]
        for r, s in rngs:
            r.bit_generator.state = s
        return taps

    def _run_epoch(self, data: Dataset, batches: Batches) -> None:
        st = self.state
        model, params = st.model, None
        if st.batch_in_epoch == 0:
            st.loss_sum, st.correct, st.seen = 0.0, 0, 0
            st.timers = dict.fromkeys(PHASES, 0.0)
        for cb in self.callbacks:
            cb.on_epoch_begin(st)
        t_epoch = time.perf_counter()
        t = time.perf_counter()
        for batch in batches.epoch(st.epoch, start=st.batch_in_epoch):
            tm = st.timers
            t1 = time.perf_counter()
            tm["data"] += t1 - t
            taps: dict[int, Any] | None = (
                {} if any(cb.wants_taps(st) for cb in self.callbacks) else None
            )
            try:
                Y, backprop = model.forward_fm(batch.Xt, train=True, taps=taps)
                value, dY = self.loss.value_and_grad(Y, batch.Tt)
            except FloatingPointError as e:  # raised instead of NaN under np.errstate("raise")
                raise self._diverged(f"forward pass failed ({e})") from None
            if not np.isfinite(value):
                raise self._diverged(f"loss became {value}")
            t2 = time.perf_counter()
            tm["forward"] += t2 - t1
            try:
                backprop(dY)
            except FloatingPointError as e:
                raise self._diverged(f"backward pass failed ({e})") from None
            t3 = time.perf_counter()
            tm["backward"] += t3 - t2
            params = model.params()
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
            st.correct += int(np.sum(np.argmax(Y, axis=0) == batch.y))
            st.seen += n
            st.step += 1
            st.batch_in_epoch += 1
            logs: dict[str, Any] = {"loss": value, "lr": lr, "batch_size": n, "taps": taps}
            for cb in self.callbacks:
                cb.on_batch_end(st, logs)
            tm["topology"] += logs.get("topology_seconds", 0.0)
            t = time.perf_counter()
        self._end_epoch(data, time.perf_counter() - t_epoch)

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
            "train_accuracy": st.running_accuracy(),
        }
        if self.evaluate and len(data.y_test):
            ev = evaluate(
                model, data.x_test, data.y_test, self.loss, batch_size=self.eval_batch_size
            )
            row["test_loss"], row["test_accuracy"] = ev["loss"], ev["accuracy"]
        st.timers["evaluate"] = time.perf_counter() - t
        row["seconds"] = seconds
        row.update({f"time_{k}": v for k, v in st.timers.items()})
        layers = {}
        for i, layer in model.linear_layers().items():
            dense = layer.in_features * layer.out_features
            layers[str(i)] = {"nnz": layer.nnz, "density": layer.nnz / dense}
        row["layers"] = layers
        if "dst" in st.extra:
            row["dst"] = st.extra["dst"].get("last_epoch", {})
        st.history.append(row)
        st.epoch += 1
        st.batch_in_epoch = 0
        for cb in self.callbacks:
            cb.on_epoch_end(st, row)
