"""The topology-update callback: the only place where a DST algorithm changes the model.

:class:`TopologyUpdate` asks a :class:`~sprig.sparsity.algorithms.DSTAlgorithm` for edits
of every sparse layer when its schedule says so, applies them with ``CSRMatrix.edit`` and
carries each layer's gradient buffer and optimizer state through the returned
:class:`~sprig.matrices.Remap` (:meth:`TrainState.apply_edit`), then checks that each
layer's nnz equals the algorithm's target (exact accounting).

When updates happen:

* step-unit algorithms (RigL, GraNet, GMP): after optimizer step ``t`` when ``due(t)``; the
  gradient information is that batch's (the loop records per-layer ``(X, dY)`` taps for it);
* epoch-unit algorithms (SET, MagRan, SNFS, MEST): at the start of epoch ``e`` when
  ``due(e)``, before its first batch. Algorithms that need gradient information then get it
  from a *probe*: a forward/backward pass (no optimizer step) on the epoch's first batch. The
  batch order is a pure function of ``(seed, epoch)``, so the probe — and hence the update —
  is the same after a resume.

Per-update statistics (pruned, grown, nnz, density, in-time over-parameterization rate,
explored fraction) go to the epoch's metrics row under ``"dst"``, one row per sparse layer
named by its path (``"trunk.0"``); the algorithm sees each weight under its parameter path
(``"trunk.0.weight"``), which also keys its ever-active record in checkpoints. Layers of
different heads are updated independently (unless the algorithm couples layers: global
pruning, SNFS redistribution).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..sparsity import algorithms as A
from ..sparsity.info import GradientSample, LayerInfo, momentum_of
from ..specs.types import DSTSpec, parse_dst
from .callbacks import Callback
from .state import TrainState

#: Last entropy word of the DST generator's seed (ASCII "DST"); see ``data.batching``.
DST_TAG = 0x445354
_NEEDS_SAMPLE = {"rigl", "granet", "snfs"}
_NEEDS_GRAD = {"mest"}


class TopologyUpdate(Callback):
    """Apply ``algorithm`` to the model's sparse layers during training.

    Args:
        algorithm: the DST algorithm (one instance per run: it records ever-active positions).
        seed: seeds the algorithm's random stream (saved in checkpoints).
    """

    def __init__(self, algorithm: A.DSTAlgorithm, *, seed: int = 0) -> None:
        self.algorithm = algorithm
        self.seed = seed
        self.needs_sample = algorithm.name in _NEEDS_SAMPLE
        self.needs_grad = algorithm.name in _NEEDS_GRAD
        self.needs_momentum = algorithm.redistribute

    @property
    def unit(self) -> str:
        return self.algorithm.update.unit

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, state: TrainState) -> None:
        if not state.model.sparse_modules() and self.algorithm.name != "static":
            raise ConfigError(
                f"DST algorithm {self.algorithm.name!r} needs sparse layers, but every layer "
                "of the model is dense (density 1)"
            )
        state.rngs.setdefault("dst", np.random.default_rng([self.seed, DST_TAG]))
        saved = state.extra.get("dst_record")
        if saved is not None:  # resuming: restore the ever-active record
            self.algorithm.record.load_state_dict(
                {
                    "initial_nnz": saved["initial_nnz"],
                    "ever_active": {k: state.arrays[f"dst_ever/{k}"] for k in saved["initial_nnz"]},
                }
            )
        state.extra.setdefault("dst", {"updates": 0, "last_epoch": []})

    def on_epoch_begin(self, state: TrainState) -> None:
        if state.batch_in_epoch == 0:
            state.extra["dst"]["last_epoch"] = []
        if self.unit == "epoch" and state.batch_in_epoch == 0 and self.algorithm.due(state.epoch):
            t0 = time.perf_counter()
            taps = None
            if self.needs_sample or self.needs_grad:
                if state.probe is None:
                    raise RuntimeError("the trainer did not provide a gradient probe")
                taps = state.probe()
            self._update(state, state.epoch, taps)
            state.timers["topology"] = state.timers.get("topology", 0.0) + (
                time.perf_counter() - t0
            )

    def wants_taps(self, state: TrainState) -> bool:
        return self.unit == "step" and self.needs_sample and self.algorithm.due(state.step + 1)

    def on_batch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        if self.unit == "step" and self.algorithm.due(state.step):
            t0 = time.perf_counter()
            self._update(state, state.step, logs.get("taps"))
            logs["topology_seconds"] = time.perf_counter() - t0

    # ------------------------------------------------------------------ the update
    def _update(self, state: TrainState, t: int, taps: dict[str, Any] | None) -> None:
        """Propose and apply the edits of every sparse weight, keyed by parameter path
        (``"trunk.0.weight"``); taps and optimizer state are looked up by the same paths."""
        model = state.model
        layers: dict[str, tuple[Any, LayerInfo]] = {}
        for path, layer in model.sparse_modules().items():
            name = f"{path}.weight"
            sample = None
            if self.needs_sample:
                if taps is None or path not in taps:
                    raise RuntimeError(f"no gradient sample recorded for layer {path!r}")
                X, dY = taps[path]
                sample = GradientSample(X, dY)
            info = LayerInfo(
                grad=layer.weight_grad if self.needs_grad else None,
                momentum=(momentum_of(state.opt_states[name]) if self.needs_momentum else None),
                sample=sample,
            )
            layers[name] = (layer.weight, info)
        edits = self.algorithm.propose_all(layers, t, state.rngs["dst"])
        rows = []
        for name, edit in edits.items():
            W = layers[name][0]
            W2, remap = A.apply_edit(W, edit)
            assert edit.stats is not None
            A.check_nnz(W2, edit.stats.nnz, name)
            state.apply_edit(name, W2, remap)
            rows.append({"layer": name.rpartition(".")[0], **edit.stats.__dict__})
        dst = state.extra["dst"]
        dst["updates"] += 1
        ever = self.algorithm.record.ever_active
        size = sum(W.shape[0] * W.shape[1] for W, _ in layers.values())
        seen = sum(ever[name].size for name in layers if name in ever)
        dst["last_epoch"].append(
            {
                "t": t,
                "unit": self.unit,
                "step": state.step,
                "epoch": state.epoch + 1,
                # the network's ITOP rate: positions ever active / all positions
                "explored": seen / size if size else 1.0,
                "layers": rows,
            }
        )
        rec = self.algorithm.record.state_dict()
        state.extra["dst_record"] = {"initial_nnz": rec["initial_nnz"]}
        for k, v in rec["ever_active"].items():
            state.arrays[f"dst_ever/{k}"] = v


def make_algorithm(
    spec: DSTSpec | str,
    *,
    epochs: int,
    steps_per_epoch: int,
    final_density: float | None = None,
) -> A.DSTAlgorithm:
    """A DST algorithm from its spec, with the published defaults where a parameter is unset.

    ``every`` is in the algorithm's own unit (epochs for SET/MagRan/SNFS/MEST, optimizer
    steps for RigL/GraNet/GMP); ``start``/``end`` are fractions of the whole run.
    ``final_density`` is the target of the dense-to-sparse algorithms (GMP, GraNet).
    """
    if isinstance(spec, str):
        spec = parse_dst(spec)
    kw = {k: v for k, v in spec.kwargs.items() if v is not None}
    total = epochs * steps_per_epoch
    name = spec.name
    if name == "static":
        return A.static()
    if name == "set":
        return A.set_(kw.get("fraction", 0.3), every=kw.get("every", 1))
    if name == "magran":
        end = kw.get("end")
        return A.magran(
            kw.get("fraction", 0.3),
            every=kw.get("every", 1),
            total=None if end is None else max(1, int(end * epochs)),
        )
    if name == "rigl":
        return A.rigl(
            total,
            alpha=kw.get("fraction", 0.3),
            delta_t=kw.get("every", 100),
            end_fraction=kw.get("end", 0.75),
        )
    if name == "snfs":
        return A.snfs(epochs, prune_rate=kw.get("fraction", 0.5), every=kw.get("every", 1))
    if name == "mest":
        return A.mest(lam=kw.get("lam", 1.0), every=kw.get("every", 5))
    if name in ("gmp", "granet"):
        if final_density is None:
            raise ConfigError(f"{name} needs a final density (the overall density option)")
        start = int(kw.get("start", 0.0) * total)
        end = int(kw.get("end", 0.75) * total)
        if end <= start:
            raise ConfigError(f"{name}: end must be after start, got start={start}, end={end}")
        init_d = kw.get("initial_density", 1.0)
        if name == "gmp":
            every = kw.get("every", max(1, (end - start) // 20))
            return A.gmp(final_density, start=start, end=end, delta_t=every, initial_density=init_d)
        every = kw.get("every", max(1, (end - start) // 20))
        return A.granet(
            final_density,
            start=start,
            end=end,
            total_steps=total,
            delta_t=every,
            initial_density=init_d,
            alpha=kw.get("fraction", 0.5),
        )
    raise ConfigError(f"unknown DST algorithm {name!r}")  # pragma: no cover


def topology_update_from_spec(
    spec: DSTSpec | str,
    model: Any,
    *,
    epochs: int,
    steps_per_epoch: int,
    seed: int = 0,
    final_density: float | None = None,
) -> TopologyUpdate:
    """:class:`TopologyUpdate` for ``spec`` (see :func:`make_algorithm`)."""
    del model
    alg = make_algorithm(
        spec, epochs=epochs, steps_per_epoch=steps_per_epoch, final_density=final_density
    )
    return TopologyUpdate(alg, seed=seed)


def _prune_criterion(spec: Any) -> tuple[Any, float]:
    """(criterion, fraction) for a prune spec."""
    from ..sparsity import prune as P

    kw = spec.kwargs
    name = spec.name
    if name == "threshold":
        return P.threshold(kw["t"]), 0.0
    if name == "mest":
        return P.mest(kw.get("lam") or 1.0), kw["fraction"]
    if name == "soft_magnitude":
        return P.soft_magnitude(kw.get("temperature") or 1.0), kw["fraction"]
    return P.PRUNE_CRITERIA[name], kw["fraction"]


def _grow_criterion(spec: Any) -> Any:
    from ..sparsity import grow as G

    if spec is None or spec.name == "random":
        return G.random_grow
    if spec.name == "sampled_gradient":
        c = spec.get("candidates") or 10.0

        def grow(W: Any, k: int, rng: Any, info: Any = None, *, exclude: Any = None) -> Any:
            return G.sampled_gradient_grow(W, k, rng, info, exclude=exclude, candidates=c)

        return grow
    return {"gradient": G.gradient_grow, "momentum": G.momentum_grow}[spec.name]


def nerva_prune_grow(
    prune: Any, grow: Any = None, grow_weights: Any = None, *, base: A.DSTAlgorithm | None = None
) -> A.DSTAlgorithm:
    """Nerva's ``--prune/--grow/--grow-weights``: prune then regrow as many at the start of
    every epoch after the first (or replace ``base``'s criteria, keeping its schedule).

    ``threshold(t)`` prunes every ``|w| ≤ t``; the others prune their ``fraction``. Grown
    weights are drawn from ``grow_weights`` (Nerva's default: Xavier); just-pruned positions
    are not regrown in the same update (as Nerva).
    """
    import dataclasses

    from ..sparsity.schedules import UpdateSchedule, constant
    from .build import build_init

    criterion, fraction = _prune_criterion(prune)
    grower = _grow_criterion(grow)
    init = build_init(grow_weights)
    if base is not None:
        return dataclasses.replace(
            base, prune=criterion, grow=grower, new_init=init, record=A.TopologyRecord()
        )
    name = "set" if prune.name == "set" else prune.name
    return A.DSTAlgorithm(
        name,
        criterion,
        grower,
        fraction=constant(fraction),
        update=UpdateSchedule(every=1, unit="epoch"),
        exclude_dropped=True,
        new_init=init,
    )
