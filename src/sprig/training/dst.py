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
from ..sparsity import grow as G
from ..sparsity.info import (
    GRADIENT,
    GRADIENT_SAMPLE,
    MOMENTUM,
    GradientSample,
    LayerInfo,
    momentum_of,
)
from ..specs.registry import DST, GROW, PRUNE, Period
from ..specs.types import DSTSpec, parse_dst
from .callbacks import Callback
from .state import TrainState

#: Last entropy word of the DST generator's seed (ASCII "DST"); see ``data.batching``.
DST_TAG = 0x445354


class TopologyUpdate(Callback):
    """Apply ``algorithm`` to the model's sparse layers during training.

    Args:
        algorithm: the DST algorithm (one instance per run: it records ever-active positions).
        seed: seeds the algorithm's random stream (saved in checkpoints).
    """

    def __init__(self, algorithm: A.DSTAlgorithm, *, seed: int = 0) -> None:
        self.algorithm = algorithm
        self.seed = seed
        needs = algorithm.needs  # declared by its criteria, never inferred from names
        self.needs_sample = GRADIENT_SAMPLE in needs
        self.needs_grad = GRADIENT in needs
        self.needs_momentum = MOMENTUM in needs

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
        names = list(layers)
        size = sum(W.shape[0] * W.shape[1] for W, _ in layers.values())
        rows = []
        for name in list(edits):
            # release each old weight (and its cached keys) and its edit once applied, so
            # that the next layer's edit does not stack on them (peak memory of wide nets)
            edit = edits.pop(name)
            W = layers.pop(name)[0]
            W2, remap = A.apply_edit(W, edit)
            del W
            assert edit.stats is not None
            A.check_nnz(W2, edit.stats.nnz, name)
            state.apply_edit(name, W2, remap)
            rows.append({"layer": name.rpartition(".")[0], **edit.stats.__dict__})
            del edit, W2, remap
        dst = state.extra["dst"]
        dst["updates"] += 1
        ever = self.algorithm.record.ever_active
        seen = sum(ever[name].size for name in names if name in ever)
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
    """A DST algorithm from its spec, with the published defaults where a parameter is unset
    (each algorithm's spec builder, registered beside its constructor in
    :mod:`sprig.sparsity.algorithms`).

    ``every`` is a period with its unit (``every=100 steps``, ``every=1 epoch``; any
    algorithm takes either, :func:`~sprig.sparsity.algorithms.retime`) or a bare number in
    the algorithm's own unit (epochs for SET/MagRan/SNFS/MEST, optimizer steps for
    RigL/GraNet/GMP); ``start``/``end`` are fractions of the whole run.
    ``final_density`` is the target of the dense-to-sparse algorithms (GMP, GraNet).
    """
    if isinstance(spec, str):
        spec = parse_dst(spec)
    every = spec.get("every")
    if isinstance(every, Period):  # an explicit unit: build with the default, then retime
        spec = spec.replace(every=None)
    alg = DST.create(
        spec, epochs=epochs, steps_per_epoch=steps_per_epoch, final_density=final_density
    )
    if isinstance(every, Period):
        alg = A.retime(alg, every, steps_per_epoch)
    return alg  # type: ignore[no-any-return]


def algorithm_from_config(
    config: Any, *, epochs: int, steps_per_epoch: int, final_density: float | None = None
) -> A.DSTAlgorithm | None:
    """The DST algorithm of a :class:`~sprig.specs.config.TrainConfig` (``None``: static).

    ``dst`` gives the algorithm; ``prune``/``grow`` given with it replace its criteria (the
    others and its schedules stay); ``prune`` without ``dst`` (or with ``static``) is Nerva's
    prune-and-grow every epoch after the first, growing by ``grow`` (default random).

    Raises:
        ConfigError: a combination that cannot work (``grow`` with an algorithm that never
            grows, ``grow`` without ``prune`` for static training, a fraction-based prune
            criterion with a density-target algorithm).
    """
    spec = config.dst
    if spec is not None and spec.name == "static":
        if config.grow is not None and config.prune is None:
            raise ConfigError(
                f"grow={config.grow} needs prune: DST algorithm 'static' never changes the topology"
            )
        spec = None  # static + prune = Nerva's prune-and-grow
    if spec is None:
        if config.prune is None:
            return None
        return nerva_prune_grow(config.prune, config.grow, config.grow_weights)
    alg = make_algorithm(
        spec, epochs=epochs, steps_per_epoch=steps_per_epoch, final_density=final_density
    )
    if config.prune is not None or config.grow is not None:
        alg = nerva_prune_grow(config.prune, config.grow, config.grow_weights, base=alg)
    return alg


def check_inputs(algorithm: A.DSTAlgorithm, optimizers: Any, model: Any) -> None:
    """Refuse, before training, an algorithm whose declared needs the run cannot provide.

    ``optimizers`` is what the trainer takes: one update rule, or a map from name patterns
    (or layer indices) to rules.

    Raises:
        ConfigError: the algorithm needs momentum but a sparse layer's optimizer keeps none.
    """
    if MOMENTUM not in algorithm.needs:
        return
    from .state import rule_for

    for name, W in model.sparse_weights().items():
        opt = rule_for(name, optimizers)
        if momentum_of(opt.init(np.zeros(1, dtype=W.dtype))) is None:
            label = getattr(opt, "name", type(opt).__name__)
            raise ConfigError(
                f"DST algorithm {algorithm.name!r} needs the optimizer's momentum, but "
                f"optimizer {label!r} of {name} keeps none; use momentum, nesterov, adam, "
                "adamw or smet"
            )


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
    """(criterion, fraction) for a prune spec (``threshold`` decides its own count)."""
    return PRUNE.create(spec), spec.get("fraction", 0.0)


def _grow_criterion(spec: Any) -> Any:
    return G.random_grow if spec is None else GROW.create(spec)


def nerva_prune_grow(
    prune: Any, grow: Any = None, grow_weights: Any = None, *, base: A.DSTAlgorithm | None = None
) -> A.DSTAlgorithm:
    """Nerva's ``--prune/--grow/--grow-weights``: prune then regrow as many at the start of
    every epoch after the first (or, with ``base``, replace the criteria that are given and
    keep ``base``'s others and its schedules).

    ``threshold(t)`` prunes every ``|w| ≤ t``; the others prune their ``fraction``. Grown
    weights are drawn from ``grow_weights`` (Nerva's default: Xavier); just-pruned positions
    are not regrown in the same update (as Nerva).

    Raises:
        ConfigError: a grow criterion for a ``base`` algorithm that never grows (GMP, static).
    """
    import dataclasses

    from ..sparsity.schedules import UpdateSchedule, constant
    from .build import build_init

    init = build_init(grow_weights)
    if base is not None:
        if grow is not None and base.grow is None:
            raise ConfigError(
                f"grow={grow} cannot be used with DST algorithm {base.name!r}: it never grows "
                "(give a DST algorithm that regrows, e.g. SET or RigL, or drop grow)"
            )
        changes: dict[str, Any] = {"new_init": init, "record": A.TopologyRecord()}
        if prune is not None:
            changes["prune"] = _prune_criterion(prune)[0]
        if grow is not None:
            changes["grow"] = _grow_criterion(grow)
        return dataclasses.replace(base, **changes)
    if prune is None:
        raise ConfigError("Nerva-style prune-and-grow needs a prune criterion")
    criterion, fraction = _prune_criterion(prune)
    return A.DSTAlgorithm(
        prune.name,
        criterion,
        _grow_criterion(grow),
        fraction=constant(fraction),
        update=UpdateSchedule(every=1, unit="epoch"),
        exclude_dropped=True,
        new_init=init,
    )
