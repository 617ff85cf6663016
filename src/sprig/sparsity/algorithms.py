r"""Dynamic sparse training algorithms as a frozen composition of small pieces.

A :class:`DSTAlgorithm` is (prune criterion, grow criterion, drop-fraction schedule, update
schedule, optional target-density schedule, options). Its one entry point for the trainer is
:meth:`DSTAlgorithm.propose_all`::

    t = step if alg.update.unit == "step" else epoch
    if alg.due(t):
        layers = {name: (W, LayerInfo(grad=..., momentum=..., sample=GradientSample(Xt, dYt)))}
        for name, edit in alg.propose_all(layers, t, rng).items():
            W_new, remap = apply_edit(W, edit)            # == W.edit(edit.drop, ...)
            check_nnz(W_new, edit.stats.nnz, name)
            grad = remap.apply(grad); state = remap_state(state, remap)

Counting at an update at ``t`` for a layer with ``nnz`` entries and size ``S``
(``round`` = half away from zero, as :func:`sprig.matrices.nnz_from_density`):

* target ``T`` = ``nnz`` (constant-nnz algorithms), ``nnz_from_density(shape, target(t))``
  (``target_mode="density"``: GMP, GraNet) or ``round(target(t) · nnz₀)`` (``"ratio"``, relative
  to the nnz at the first update: MEST);
* prune ``max(nnz − T, 0) + k`` entries, ``k = round(fraction(t) · min(nnz, T))`` (criteria
  such as :func:`~sprig.sparsity.prune.threshold` or SET's may return another count; that count
  is used), then grow ``T − (nnz − pruned)`` entries (0 without a grow criterion), so the new
  ``nnz`` is exactly ``T``. With ``exclude_dropped`` (SET, Nerva) the just-pruned positions cannot
  be re-grown, so ``k`` is capped at the ``S − nnz`` positions free before pruning.
* ``scope="global"`` (GMP/GraNet): the ``Σ nnz − round(d_t Σ S)`` entries of smallest ``|w|``
  over **all** layers are pruned first, then each layer runs its prune/regrow cycle.
* ``redistribute=True`` (SNFS): the total pruned count is regrown across layers in proportion
  to each layer's mean ``|momentum|`` (:func:`~sprig.sparsity.grow.snfs_redistribute`).

Grow criteria see the matrix *after* pruning, so (unless ``exclude_dropped``) a just-pruned
position may be re-grown; it then counts as new (value and optimizer state reset).

In-time over-parameterization (ITOP, Liu et al. 2021): the algorithm keeps, per layer, the
sorted ``int64`` flat keys of every position ever active (initial topology ∪ everything grown),
merged with a sorted union. Memory ``8`` bytes per ever-active position: ``8 · nnz₀`` at start,
growing by at most the number of grown positions per update (never more than ``8 S``). The
record lives in :attr:`DSTAlgorithm.record` (a mutable :class:`TopologyRecord` held by the
otherwise frozen algorithm; one algorithm instance per training run) and assumes every
proposed edit is applied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, SprigError
from ..initializers import Xavier
from ..matrices import CSRMatrix, Remap, nnz_from_density
from ..matrices.csr import ValueSampler
from ..matrices.keysets import union_sorted
from ..specs.registry import (
    DENSITY,
    DST,
    UNIT,
    Choice,
    Optional,
    Param,
    Period,
    PeriodOf,
    Real,
)
from ..typing import FloatArray, IntArray
from . import grow as G
from . import prune as P
from .info import MOMENTUM, LayerInfo, declare, needs_of
from .schedules import (
    FractionSchedule,
    SoftMemoryBound,
    UpdateSchedule,
    constant,
    cosine,
    gmp_density,
    linear,
)

__all__ = [
    "ALGORITHMS",
    "DSTAlgorithm",
    "Edit",
    "NnzMismatchError",
    "TopologyRecord",
    "UpdateStats",
    "apply_edit",
    "check_nnz",
    "gmp",
    "granet",
    "magran",
    "mest",
    "rigl",
    "seft",
    "set_",
    "snfs",
    "static",
]

LayerInput = tuple[CSRMatrix, "LayerInfo | None"]


class NnzMismatchError(SprigError, RuntimeError):
    """A layer's number of stored entries differs from what the algorithm intended."""


def _round(x: float) -> int:
    return int(np.floor(x + 0.5))


# --------------------------------------------------------------------------- edits
@dataclass(frozen=True)
class UpdateStats:
    """Statistics of one layer's topology update.

    Attributes:
        step: ``t`` of the update (in the update schedule's unit).
        pruned, grown: entries removed and inserted.
        nnz, density: after the edit.
        unseen_grown: fraction of the grown positions never active before (0 if none
            grown); files written by sprig 0.1.0 call it ``itop_rate``.
        explored: fraction of all positions ever active so far — the in-time
            over-parameterization (ITOP) rate of Liu et al. (2021).
    """

    step: int
    pruned: int
    grown: int
    nnz: int
    density: float
    unseen_grown: float
    explored: float


@dataclass(frozen=True, eq=False)
class Edit:
    """One layer's proposed topology change; apply it with :func:`apply_edit`.

    Attributes:
        drop: positions in ``W.data`` to remove (``int64``, sorted, unique).
        add_rows, add_cols: ``int64`` coordinates to insert (free after the drop, distinct).
        add_values: values of the inserted entries, or ``None`` for zeros.
        stats: what the update does (filled by :meth:`DSTAlgorithm.propose_all`).
    """

    drop: IntArray
    add_rows: IntArray
    add_cols: IntArray
    add_values: FloatArray | None = None
    stats: UpdateStats | None = None

    @property
    def empty(self) -> bool:
        """``True`` if the edit changes nothing."""
        return self.drop.size == 0 and self.add_rows.size == 0


def apply_edit(W: CSRMatrix, edit: Edit) -> tuple[CSRMatrix, Remap]:
    """``W.edit(edit.drop, edit.add_rows, edit.add_cols, edit.add_values)``."""
    return W.edit(edit.drop, edit.add_rows, edit.add_cols, edit.add_values)


def check_nnz(W: CSRMatrix, target: int, name: str = "layer") -> None:
    """Exact sparsity accounting: raise :class:`NnzMismatchError` unless ``W.nnz == target``."""
    if W.nnz != target:
        raise NnzMismatchError(
            f"{name}: has {W.nnz} stored entries, the topology update intended {target} "
            f"(difference {W.nnz - target:+d}, shape {W.shape})"
        )


# --------------------------------------------------------------------------- record
@dataclass(eq=False)
class TopologyRecord:
    """Per-run, per-layer memory of a DST algorithm (mutable).

    Attributes:
        initial_nnz: nnz of each layer when first seen (reference of ``target_mode="ratio"``).
        ever_active: sorted ``int64`` flat keys of every position ever active in each layer.
        last: the latest :class:`UpdateStats` of each layer.
    """

    initial_nnz: dict[str, int] = field(default_factory=dict)
    ever_active: dict[str, IntArray] = field(default_factory=dict)
    last: dict[str, UpdateStats] = field(default_factory=dict)

    def observe(self, name: str, W: CSRMatrix) -> None:
        """Register a layer at its first update (its current topology counts as seen)."""
        if name not in self.ever_active:
            self.initial_nnz[name] = W.nnz
            self.ever_active[name] = W.keys  # read-only, shared with W: no copy

    def record(self, name: str, W: CSRMatrix, edit: Edit, step: int) -> UpdateStats:
        """Update the ever-active set with ``edit``'s inserted positions; return the stats."""
        keys = np.sort(edit.add_rows * W.shape[1] + edit.add_cols)
        ever = self.ever_active[name]
        if keys.size:
            pos = np.minimum(np.searchsorted(ever, keys), max(ever.size - 1, 0))
            seen = ever[pos] == keys if ever.size else np.zeros(keys.size, bool)
            rate = float(1.0 - seen.mean())
            ever = self.ever_active[name] = union_sorted(ever, keys)
        else:
            rate = 0.0
        size = W.shape[0] * W.shape[1]
        nnz = W.nnz - edit.drop.size + keys.size
        stats = UpdateStats(
            step=int(step),
            pruned=int(edit.drop.size),
            grown=int(keys.size),
            nnz=int(nnz),
            density=nnz / size if size else 1.0,
            unseen_grown=rate,
            explored=ever.size / size if size else 1.0,
        )
        self.last[name] = stats
        return stats

    def state_dict(self) -> dict[str, Any]:
        """Arrays and numbers for a checkpoint (no pickle needed)."""
        return {
            "initial_nnz": dict(self.initial_nnz),
            "ever_active": {k: v.copy() for k, v in self.ever_active.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.initial_nnz = {k: int(v) for k, v in state["initial_nnz"].items()}
        self.ever_active = {
            k: np.asarray(v, dtype=np.int64) for k, v in state["ever_active"].items()
        }


# --------------------------------------------------------------------------- algorithm
def _sub_info(info: LayerInfo | None, keep: IntArray) -> LayerInfo | None:
    if info is None:
        return None
    return LayerInfo(
        grad=None if info.grad is None else info.grad[keep],
        momentum=None if info.momentum is None else info.momentum[keep],
        sample=info.sample,
    )


@dataclass(frozen=True, eq=False)
class DSTAlgorithm:
    """A dynamic sparse training algorithm (see the module docstring for the counting rules).

    Attributes:
        name: registry name.
        prune: prune criterion (``None``: never prune).
        grow: grow criterion (``None``: never grow).
        fraction: drop-fraction schedule ``t -> [0, 1]``.
        update: when updates happen (:meth:`due`).
        target: optional target-density schedule ``t -> density`` (or ratio, see
            ``target_mode``); ``None`` keeps each layer's nnz.
        target_mode: ``"density"`` (absolute) or ``"ratio"`` (× the layer's initial nnz).
        scope: ``"layer"`` or ``"global"`` (target reached by global magnitude pruning).
        redistribute: SNFS: regrow the total pruned count across layers ∝ mean ``|momentum|``.
        exclude_dropped: the just-pruned positions may not be re-grown in the same update.
        new_values: ``(n, rng) -> values`` of grown entries; ``None``: zeros.
        new_init: alternatively an initializer ``(n, fan_in, fan_out, rng) -> values`` called
            with the layer's dense fan-in and fan-out, as Nerva's ``--grow-weights``.
        record: per-run ITOP record (mutable; see :class:`TopologyRecord`).
    """

    name: str
    prune: Callable[..., IntArray] | None
    grow: Callable[..., tuple[IntArray, IntArray]] | None
    fraction: FractionSchedule = constant(0.0)  # noqa: RUF009 (frozen, shared is fine)
    update: UpdateSchedule = UpdateSchedule(every=0)  # noqa: RUF009
    target: Callable[[int], float] | None = None
    target_mode: Literal["density", "ratio"] = "density"
    scope: Literal["layer", "global"] = "layer"
    redistribute: bool = False
    exclude_dropped: bool = False
    new_values: ValueSampler | None = None
    new_init: Callable[..., Any] | None = None
    record: TopologyRecord = field(default_factory=TopologyRecord, repr=False)

    def __post_init__(self) -> None:
        if self.target_mode not in ("density", "ratio"):
            raise ConfigError(f"target_mode must be 'density' or 'ratio', got {self.target_mode!r}")
        if self.scope not in ("layer", "global"):
            raise ConfigError(f"scope must be 'layer' or 'global', got {self.scope!r}")
        takes_fraction = getattr(self.prune, "takes_fraction", False)
        if takes_fraction and (self.target is not None or self.scope == "global"):
            raise ConfigError(f"{self.name}: a fraction-based prune criterion needs no target")
        if self.redistribute and self.scope == "global":
            raise ConfigError(f"{self.name}: redistribution needs scope='layer'")

    # ................................................................ public API
    @property
    def needs(self) -> frozenset[str]:
        """The per-layer inputs this algorithm reads (:mod:`sprig.sparsity.info`): the union of
        its prune and grow criteria's declared ``needs``, plus ``"momentum"`` when it
        redistributes regrowth by momentum (SNFS). The trainer gathers exactly these.

        >>> sorted(rigl(1000).needs), sorted(set_().needs), sorted(snfs(10).needs)
        (['gradient_sample'], [], ['gradient_sample', 'momentum'])
        """
        out = needs_of(self.prune) | needs_of(self.grow)
        return out | {MOMENTUM} if self.redistribute else out

    def due(self, t: int) -> bool:
        """Is an update due at ``t`` (steps or epochs, see ``update.unit``)?"""
        return self.update.due(t)

    def propose(
        self,
        layer_name: str,
        W: CSRMatrix,
        step: int,
        rng: np.random.Generator,
        info: LayerInfo | None = None,
    ) -> Edit:
        """The edit of one layer (per-layer algorithms only; others need :meth:`propose_all`)."""
        if self.scope == "global" or self.redistribute:
            raise ConfigError(f"{self.name} couples layers; call propose_all with every layer")
        return self.propose_all({layer_name: (W, info)}, step, rng)[layer_name]

    def propose_all(
        self, layers: Mapping[str, LayerInput], step: int, rng: np.random.Generator
    ) -> dict[str, Edit]:
        """Edits for every sparse layer: ``{name: (W, info)} -> {name: Edit}``.

        Does not check :meth:`due`; ``step`` is ``t`` in the update schedule's unit. Layers are
        processed in the mapping's order (keep it fixed for reproducibility). Records ITOP
        statistics in each edit's ``stats`` and in :attr:`record`.
        """
        for name, (W, _) in layers.items():
            self.record.observe(name, W)
        pre_drop = self._global_drops(layers, step) if self.scope == "global" else {}
        plans: dict[str, tuple[IntArray, int]] = {}
        for name, (W, info) in layers.items():
            plans[name] = self._prune_layer(
                name, W, info, step, rng, pre_drop.get(name, np.zeros(0, np.int64))
            )
        if self.redistribute:
            plans = self._redistribute(layers, plans)
        edits: dict[str, Edit] = {}
        for name, (W, info) in layers.items():
            drop, n_grow = plans[name]
            edit = self._grow_layer(W, info, drop, n_grow, rng)
            stats = self.record.record(name, W, edit, step)
            edits[name] = Edit(edit.drop, edit.add_rows, edit.add_cols, edit.add_values, stats)
        return edits

    # ................................................................ internals
    def _layer_target(self, name: str, W: CSRMatrix, t: int) -> int:
        if self.target is None:
            return W.nnz
        size = W.shape[0] * W.shape[1]
        value = float(self.target(t))
        if self.target_mode == "density":
            return nnz_from_density(W.shape, value)
        return min(size, max(0, _round(value * self.record.initial_nnz[name])))

    def _global_drops(self, layers: Mapping[str, LayerInput], t: int) -> dict[str, IntArray]:
        names = list(layers)
        total = sum(layers[n][0].nnz for n in names)
        if self.target is None:
            return {}
        value = float(self.target(t))
        if self.target_mode == "density":
            sizes = sum(layers[n][0].shape[0] * layers[n][0].shape[1] for n in names)
            goal = nnz_from_density((1, sizes), value)
        else:
            goal = _round(value * sum(self.record.initial_nnz[n] for n in names))
        k = total - goal
        if k <= 0:
            return {}
        scores = np.concatenate([np.abs(layers[n][0].data).astype(np.float64) for n in names])
        pos = P.smallest_k(scores, k)
        bounds = np.cumsum([0] + [layers[n][0].nnz for n in names])
        out = {}
        for i, n in enumerate(names):
            lo, hi = np.searchsorted(pos, [bounds[i], bounds[i + 1]])
            out[n] = pos[lo:hi] - bounds[i]
        return out

    def _prune_layer(
        self,
        name: str,
        W: CSRMatrix,
        info: LayerInfo | None,
        t: int,
        rng: np.random.Generator,
        pre_drop: IntArray,
    ) -> tuple[IntArray, int]:
        """Positions to drop and the number to grow back."""
        size = W.shape[0] * W.shape[1]
        p = float(self.fraction(t))
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"{self.name}: drop fraction at t={t} is {p!r}, not in [0, 1]")
        # In global scope the global stage has already set this layer's target.
        glob = self.scope == "global"
        T = W.nnz - pre_drop.size if glob else self._layer_target(name, W, t)
        base = min(W.nnz, T)
        extra = W.nnz - base - pre_drop.size  # layer-scope prune-to-target
        k = _round(p * base)
        if self.exclude_dropped:
            k = max(0, min(k, size - W.nnz - max(T - base, 0)))
        n_prune = extra + k
        if self.prune is None or (n_prune <= 0 and pre_drop.size == 0):
            drop = np.asarray(pre_drop, dtype=np.int64)
        else:
            alive = np.ones(W.nnz, dtype=bool)
            alive[pre_drop] = False
            keep = np.flatnonzero(alive)
            Wk = W if pre_drop.size == 0 else W.edit(pre_drop)[0]
            ik = info if pre_drop.size == 0 else _sub_info(info, keep)
            if getattr(self.prune, "takes_fraction", False):
                sel = self.prune(Wk, p, rng, ik)
                if self.exclude_dropped and sel.size > size - W.nnz:  # cap, smallest |w| first
                    sel = np.sort(sel[P.smallest_k(np.abs(Wk.data[sel]), size - W.nnz)])
            else:
                sel = self.prune(Wk, n_prune, rng, ik) if n_prune > 0 else np.zeros(0, np.int64)
            drop = union_sorted(pre_drop, keep[sel])
        kept = W.nnz - drop.size
        n_grow = 0 if self.grow is None else max(0, T - kept)
        return drop, n_grow

    def _redistribute(
        self, layers: Mapping[str, LayerInput], plans: dict[str, tuple[IntArray, int]]
    ) -> dict[str, tuple[IntArray, int]]:
        names = list(layers)
        total = sum(plans[n][1] for n in names)
        means, caps = [], []
        for n in names:
            W, info = layers[n]
            mom = (info or LayerInfo()).need("momentum", W.nnz, f"{self.name} redistribution")
            means.append(float(np.mean(np.abs(mom))) if W.nnz else 0.0)
            free = W.shape[0] * W.shape[1] - (W.nnz - plans[n][0].size)
            if self.exclude_dropped:
                free -= plans[n][0].size
            caps.append(free)
        counts = G.snfs_redistribute(total, means, caps)
        return {n: (plans[n][0], c) for n, c in zip(names, counts, strict=True)}

    def _grow_layer(
        self,
        W: CSRMatrix,
        info: LayerInfo | None,
        drop: IntArray,
        n_grow: int,
        rng: np.random.Generator,
    ) -> Edit:
        empty = np.zeros(0, dtype=np.int64)
        if n_grow <= 0 or self.grow is None:
            return Edit(drop, empty, empty.copy())
        Wd = W.edit(drop)[0] if drop.size else W
        exclude = W.keys[drop] if self.exclude_dropped and drop.size else None
        rows, cols = self.grow(Wd, n_grow, rng, info, exclude=exclude)
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        values = None
        if self.new_values is not None and rows.size:
            values = np.asarray(self.new_values(rows.size, rng), dtype=W.dtype)
        elif self.new_init is not None and rows.size:
            # Nerva's choice: the dense fan-in/fan-out. Regrown weights then start small
            # (1/√density smaller than the rows' initial weights) and must earn their place;
            # on LeNet-300-100 at 99 % sparsity this gave 95.7 % against 94.1-94.4 % with the
            # rows' mean stored fan-in (docs/results.md, one seed each).
            fan_out, fan_in = W.shape
            values = np.asarray(
                self.new_init(rows.size, float(fan_in), float(fan_out), rng), dtype=W.dtype
            )
        return Edit(drop, rows, cols, values)


# --------------------------------------------------------------------------- update units
@dataclass(frozen=True)
class OnEpochs:
    """An epoch-indexed schedule read at optimizer step ``t``: ``f(t // steps_per_epoch)``
    (the epoch the step belongs to), for an algorithm moved to step-unit updates."""

    schedule: Callable[[int], Any]
    steps_per_epoch: int

    def __call__(self, t: int) -> Any:
        return self.schedule(int(t) // self.steps_per_epoch)


def retime(alg: DSTAlgorithm, every: Period, steps_per_epoch: int) -> DSTAlgorithm:
    """``alg`` updating every ``every`` (steps or epochs, whatever its own unit).

    Same unit: only the period changes. A step-unit algorithm (RigL, GraNet, GMP) given
    ``N epochs`` updates every ``N · steps_per_epoch`` steps. An epoch-unit algorithm (SET,
    MagRan, SNFS, MEST) given ``N steps`` updates after every ``N``-th optimizer step instead of
    at epoch starts, its drop-fraction and target schedules read at the epoch of that step (so
    ``SET(every=100 steps)`` is SET with the same ζ, ten times per 1000-step run), its
    start/stop scaled to steps; gradient information then comes from the step's batch.
    """
    u = alg.update
    native = u.unit
    if every.unit == native:
        return dataclasses.replace(alg, update=dataclasses.replace(u, every=every.n))
    spe = int(steps_per_epoch)
    if native == "step":  # every N epochs = every N·spe steps
        return dataclasses.replace(alg, update=dataclasses.replace(u, every=every.n * spe))
    update = UpdateSchedule(
        every=every.n,
        start=u.start * spe,
        stop=None if u.stop is None else u.stop * spe,
        unit="step",
    )
    return dataclasses.replace(
        alg,
        update=update,
        fraction=OnEpochs(alg.fraction, spe),
        target=None if alg.target is None else OnEpochs(alg.target, spe),
    )


# --------------------------------------------------------------------------- spec parameters
# A DST spec's parameters are all optional: ``none`` means the algorithm's default, which is
# the default of the spec builder beside each constructor below (``auto`` in ``--help`` when
# it depends on the run). ``every`` is a period with its unit (``100 steps``, ``1 epoch``; any
# algorithm takes either unit, see :func:`retime`) or a bare number in the algorithm's own unit
# (epochs for SET, MagRan, SNFS, MEST; optimizer steps for RigL, GraNet, GMP);
# ``start``/``end`` are fractions of the run.
_FRACTION = Param("fraction", Optional(UNIT), None, ("drop_fraction", "zeta"), "drop fraction")
_EVERY = Param(
    "every",
    Optional(PeriodOf()),
    None,
    ("delta_t", "interval"),
    "update period: 'N steps', 'N epochs', or a number in the algorithm's unit",
)
_START = Param("start", Optional(UNIT), None, ("t_start",), "fraction of training when they start")
_END = Param("end", Optional(UNIT), None, ("stop", "t_end"), "fraction of training when they stop")
_DECAY = Param(
    "decay", Optional(Choice(("cosine", "linear", "constant"))), None, doc="drop-fraction decay"
)
_INITIAL_DENSITY = Param("initial_density", Optional(DENSITY), None, doc="density at the start")


def _start_end_check(kw: Mapping[str, Any]) -> str | None:
    s, e = kw.get("start"), kw.get("end")
    if s is not None and e is not None and s >= e:
        return f"start must be < end, got start={s!r}, end={e!r}"
    return None


def _decayed(decay: str, alpha: float, t_end: int) -> FractionSchedule:
    if decay == "linear":
        return linear(alpha, t_end)
    if decay == "constant":
        return constant(alpha)
    return cosine(alpha, t_end)


def _stop(alg: DSTAlgorithm, stop: int | None) -> DSTAlgorithm:
    if stop is None:
        return alg
    return replace(alg, update=replace(alg.update, stop=stop))


def _epochs_of(end: float | None, epochs: int) -> int | None:
    return None if end is None else max(1, int(end * epochs))


# --------------------------------------------------------------------------- constructors
@DST.register("static", doc="fixed random sparse topology")
def static() -> DSTAlgorithm:
    """Static sparse training: the initial topology is never changed."""
    return DSTAlgorithm("static", None, None)


_XAVIER = Xavier()


def _set_spec(
    fraction: float = 0.3, every: int = 1, end: float | None = None, *, epochs: int
) -> DSTAlgorithm:
    return _stop(set_(fraction, every=every), _epochs_of(end, epochs))


@DST.register(
    "set",
    _FRACTION,
    _EVERY,
    _END,
    build=_set_spec,
    doc="SET: magnitude (per sign) prune, random grow (Mocanu 2018)",
)
def set_(
    zeta: float = 0.3,
    *,
    every: int = 1,
    new_values: ValueSampler | None = None,
    new_init: Callable[..., Any] | None = _XAVIER,
) -> DSTAlgorithm:
    """SET (Mocanu et al. 2018, Nat. Commun. 9:2383): ζ = 0.3, once per epoch.

    Prune ζ of the positive and ζ of the negative weights closest to zero
    (:func:`~sprig.sparsity.prune.set_prune`), regrow as many uniformly at random outside the
    pre-prune support (Nerva's ``grow_random``, ``exclude_dropped=True``), at the start of every
    epoch but the first (``UpdateSchedule(every, unit="epoch")``). New weights are drawn from
    ``new_init`` (default Xavier, ``U(±1/√fan_in)``, as Nerva's ``--grow-weights``; the
    original code draws N(0,1)/10), or ``new_values``; ``new_init=None`` regrows zeros. Random
    regrowth needs non-zero values: a zero regrown at a position whose gradient stays zero
    never moves (see :func:`~sprig.sparsity.prune.set_prune`).
    """
    return DSTAlgorithm(
        "set",
        P.set_prune,
        G.random_grow,
        fraction=constant(zeta),
        update=UpdateSchedule(every=every, unit="epoch"),
        exclude_dropped=True,
        new_values=new_values,
        new_init=new_init,
    )


def _magran_spec(
    fraction: float = 0.3, every: int = 1, end: float | None = None, *, epochs: int
) -> DSTAlgorithm:
    return magran(fraction, every=every, total=_epochs_of(end, epochs))


@DST.register(
    "magran", _FRACTION, _EVERY, _END, build=_magran_spec, doc="magnitude prune, random grow"
)
def magran(
    alpha: float = 0.3,
    *,
    every: int = 1,
    unit: Literal["step", "epoch"] = "epoch",
    total: int | None = None,
    final: float = 0.005,
    new_values: ValueSampler | None = None,
) -> DSTAlgorithm:
    """MagRan: per-layer magnitude pruning + uniform random growth (reference/dst.md §5.7).

    The name is unsourced ([I] in dst.md); this is the ITOP/GraNet/sparse-dc-scaling
    ``magnitude_prune`` + ``random_growth`` variant: drop ``round(p·nnz)`` smallest ``|w|``
    (not split by sign, unlike SET), regrow as many uniformly at random (exact count, unlike
    GraNet's Bernoulli sampling), new weights 0. ``p`` is constant ``alpha``, or, with
    ``total`` (in ``unit``), cosine-annealed from ``alpha`` to ``final = 0.005``.
    """
    frac = constant(alpha) if total is None else cosine(alpha, total, final)
    return DSTAlgorithm(
        "magran",
        P.magnitude,
        G.random_grow,
        fraction=frac,
        update=UpdateSchedule(every=every, unit=unit),
        new_values=new_values,
    )


def _rigl_spec(
    fraction: float = 0.3,
    every: int = 100,
    end: float = 0.75,
    decay: str = "cosine",
    *,
    epochs: int,
    steps_per_epoch: int,
) -> DSTAlgorithm:
    total = epochs * steps_per_epoch
    alg = rigl(total, alpha=fraction, delta_t=every, end_fraction=end)
    return replace(alg, fraction=_decayed(decay, fraction, max(1, int(end * total))))


@DST.register(
    "rigl",
    _FRACTION,
    _EVERY,
    _END,
    _DECAY,
    build=_rigl_spec,
    doc="magnitude prune, gradient grow (Evci 2020)",
)
def rigl(
    total_steps: int,
    *,
    alpha: float = 0.3,
    delta_t: int = 100,
    end_fraction: float = 0.75,
    sampled: float | None = None,
) -> DSTAlgorithm:
    """RigL (Evci et al. 2020, ICML, "Rigging the Lottery"): α=0.3 cosine, ΔT=100, T_end=75 %.

    Every ``delta_t`` steps until ``T_end = end_fraction · total_steps``: drop
    ``round(α_t · nnz)`` smallest ``|w|`` with ``α_t = α/2 (1 + cos(π t / T_end))``, grow as many
    free positions of largest ``|∇w|`` (:func:`~sprig.sparsity.grow.gradient_grow`, streamed,
    never dense), new weights 0. ``sampled = c`` uses
    :func:`~sprig.sparsity.grow.sampled_gradient_grow` with ``c·k`` candidates instead.
    Needs ``info.sample`` for every layer.
    """
    t_end = max(1, int(end_fraction * total_steps))
    grow: Callable[..., Any] = G.gradient_grow
    if sampled is not None:
        c = float(sampled)

        def grow(W, k, rng, info=None, *, exclude=None):  # type: ignore[no-untyped-def]
            return G.sampled_gradient_grow(W, k, rng, info, exclude=exclude, candidates=c)

        declare(grow, needs=needs_of(G.sampled_gradient_grow))

    return DSTAlgorithm(
        "rigl",
        P.magnitude,
        grow,
        fraction=cosine(alpha, t_end),
        update=UpdateSchedule(every=delta_t, stop=t_end),
    )


def _snfs_spec(
    fraction: float = 0.5,
    every: int = 1,
    end: float | None = None,
    decay: str = "cosine",
    *,
    epochs: int,
) -> DSTAlgorithm:
    t_end = _epochs_of(end, epochs)
    alg = snfs(t_end or epochs, prune_rate=fraction, every=every)
    return _stop(replace(alg, fraction=_decayed(decay, fraction, t_end or epochs)), t_end)


@DST.register(
    "snfs",
    _FRACTION,
    _EVERY,
    _END,
    _DECAY,
    build=_snfs_spec,
    doc="magnitude prune, momentum grow (Dettmers 2019)",
)
def snfs(total_epochs: int, *, prune_rate: float = 0.5, every: int = 1) -> DSTAlgorithm:
    """SNFS / sparse momentum (Dettmers & Zettlemoyer 2019): prune rate 0.5, cosine, per epoch.

    At the start of every epoch but the first: drop ``round(p_t · nnz)`` smallest ``|w|`` per
    layer (``p_t`` cosine from 0.5 to 0 over ``total_epochs``), redistribute the total across
    layers ∝ mean ``|momentum|`` of the active weights (needs ``info.momentum``, e.g.
    :func:`~sprig.sparsity.info.momentum_of` of the optimizer state) and grow each layer's share
    by :func:`~sprig.sparsity.grow.momentum_grow` (needs ``info.sample``; see its docstring for
    the truly sparse adaptation). Layers' nnz change; the total is conserved.
    """
    return DSTAlgorithm(
        "snfs",
        P.magnitude,
        G.momentum_grow,
        fraction=cosine(prune_rate, total_epochs),
        update=UpdateSchedule(every=every, unit="epoch"),
        redistribute=True,
    )


def _mest_spec(
    fraction: float | None = None,
    every: int = 5,
    end: float | None = None,
    lam: float = 1.0,
    *,
    epochs: int,
) -> DSTAlgorithm:
    bound = None if fraction is None else SoftMemoryBound(slack=constant(fraction))
    return _stop(mest(lam=lam, bound=bound, every=every), _epochs_of(end, epochs))


@DST.register(
    "mest",
    _FRACTION,
    _EVERY,
    _END,
    Param("lam", Optional(Real(0.0, None)), None, ("lambda",), "λ"),
    build=_mest_spec,
    doc="MEST: |w| + λ|g| prune, random grow (Yuan 2021)",
)
def mest(*, lam: float = 1.0, bound: SoftMemoryBound | None = None, every: int = 5) -> DSTAlgorithm:
    """MEST (Yuan et al. 2021, NeurIPS, "Memory-Economic Sparse Training"): every 5 epochs.

    Score ``|w| + λ|∇w|`` of the stored entries (needs ``info.grad``;
    :func:`~sprig.sparsity.prune.mest`), prune below the memory bound and grow back at random
    (zero values) — the soft memory bound :class:`~sprig.sparsity.schedules.SoftMemoryBound`
    (default slack 5 % of the target, target ratio 1; a decreasing ``bound.target`` tightens
    the bound as MEST's 0.85 → 0.875 → 0.9 sparsity steps). ``λ = 1`` is our default (not
    sourced).
    """
    b = bound or SoftMemoryBound()
    return DSTAlgorithm(
        "mest",
        P.mest(lam),
        G.random_grow,
        fraction=b.slack,
        update=UpdateSchedule(every=every, unit="epoch"),
        target=b.target,
        target_mode="ratio",
        exclude_dropped=True,
    )


def _dense_to_sparse(
    name: str, final_density: float | None, start: float, end: float, total: int
) -> tuple[int, int]:
    if final_density is None:
        raise ConfigError(f"{name} needs a final density (the overall density option)")
    t0, t1 = int(start * total), int(end * total)
    if t1 <= t0:
        raise ConfigError(f"{name}: end must be after start, got start={t0}, end={t1}")
    return t0, t1


def _gmp_spec(
    every: int | None = None,
    start: float = 0.0,
    end: float = 0.75,
    initial_density: float = 1.0,
    *,
    epochs: int,
    steps_per_epoch: int,
    final_density: float | None = None,
) -> DSTAlgorithm:
    t0, t1 = _dense_to_sparse("gmp", final_density, start, end, epochs * steps_per_epoch)
    assert final_density is not None
    return gmp(
        final_density,
        start=t0,
        end=t1,
        delta_t=every or max(1, (t1 - t0) // 20),
        initial_density=initial_density,
    )


@DST.register(
    "gmp",
    _EVERY,
    _START,
    _END,
    _INITIAL_DENSITY,
    check=_start_end_check,
    build=_gmp_spec,
    doc="gradual magnitude pruning, cubic schedule (Zhu & Gupta 2017)",
)
def gmp(
    final_density: float,
    *,
    start: int,
    end: int,
    delta_t: int = 100,
    initial_density: float = 1.0,
    scope: Literal["layer", "global"] = "global",
) -> DSTAlgorithm:
    """Gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune").

    Every ``delta_t`` steps from ``start`` to ``end``, prune by magnitude to the cubic schedule
    ``d_t = 1 − s_t`` (:class:`~sprig.sparsity.schedules.gmp_sparsity`, ``s_i = 1 −
    initial_density``, ``n = (end − start)/delta_t``); no regrowth. ``scope="global"`` ranks
    ``|w|`` over all layers (GraNet, sparsimony); ``"layer"`` gives every layer density
    ``d_t`` (Zhu & Gupta's original, uniform).
    """
    n = max(1, (end - start) // delta_t)
    return DSTAlgorithm(
        "gmp",
        P.magnitude,
        None,
        update=UpdateSchedule(every=delta_t, start=start, stop=end + 1),
        target=gmp_density(1.0 - initial_density, 1.0 - final_density, start, n, delta_t),
        scope=scope,
    )


def _granet_spec(
    fraction: float = 0.5,
    every: int | None = None,
    start: float = 0.0,
    end: float = 0.75,
    initial_density: float = 1.0,
    *,
    epochs: int,
    steps_per_epoch: int,
    final_density: float | None = None,
) -> DSTAlgorithm:
    total = epochs * steps_per_epoch
    t0, t1 = _dense_to_sparse("granet", final_density, start, end, total)
    assert final_density is not None
    return granet(
        final_density,
        start=t0,
        end=t1,
        total_steps=total,
        delta_t=every or max(1, (t1 - t0) // 20),
        initial_density=initial_density,
        alpha=fraction,
    )


@DST.register(
    "granet",
    _FRACTION,
    _EVERY,
    _START,
    _END,
    _INITIAL_DENSITY,
    check=_start_end_check,
    build=_granet_spec,
    doc="GraNet: gradual pruning + zero-cost neuroregeneration (Liu 2021)",
)
def granet(
    final_density: float,
    *,
    start: int,
    end: int,
    total_steps: int,
    delta_t: int = 1000,
    initial_density: float = 1.0,
    alpha: float = 0.5,
) -> DSTAlgorithm:
    """GraNet (Liu et al. 2021, NeurIPS, "Sparse training via boosting pruning plasticity").

    Every ``delta_t`` steps (1000 for CIFAR): global magnitude pruning to the GMP cubic
    density between ``start`` and ``end`` (as :func:`gmp`), then per layer drop
    ``round(r_t · nnz)`` smallest ``|w|`` and regrow as many by ``|∇w|`` ("zero-cost
    neuroregeneration", :func:`~sprig.sparsity.grow.gradient_grow`), ``r_t`` cosine from 0.5 to
    0 over ``total_steps``. Needs ``info.sample``.
    """
    n = max(1, (end - start) // delta_t)
    return DSTAlgorithm(
        "granet",
        P.magnitude,
        G.gradient_grow,
        fraction=cosine(alpha, total_steps),
        update=UpdateSchedule(every=delta_t, stop=total_steps),
        target=gmp_density(1.0 - initial_density, 1.0 - final_density, start, n, delta_t),
        scope="global",
    )


def _seft_spec(
    fraction: float = 0.1,
    every: int = 100,
    end: float = 0.75,
    decay: str = "cosine",
    *,
    epochs: int,
    steps_per_epoch: int,
) -> DSTAlgorithm:
    total = epochs * steps_per_epoch
    return seft(total, fraction=fraction, delta_t=every, end_fraction=end, decay=decay)


@DST.register(
    "seft",
    _FRACTION,
    _EVERY,
    _END,
    _DECAY,
    build=_seft_spec,
    doc="SEFT: gradient grow, sensitivity |w g| prune back (Xiao 2025)",
)
def seft(
    total_steps: int,
    *,
    fraction: float = 0.1,
    delta_t: int = 100,
    end_fraction: float = 0.75,
    decay: str = "cosine",
) -> DSTAlgorithm:
    r"""SEFT, Sparsity Evolution Fine-Tuning (Xiao et al. 2025, arXiv 2505.24037).

    Repairs a post-training-pruned model (:mod:`sprig.seft`) at a fixed sparsity. Every
    ``delta_t`` optimizer steps until ``end_fraction · total_steps``: regrow the
    ``k = round(α_t · nnz)`` non-stored positions of largest ``|∇w|`` (RigL's streamed
    :func:`~sprig.sparsity.grow.gradient_grow`, new weights 0) and prune back ``k`` stored
    weights of smallest sensitivity ``|w · ∂L/∂w|``
    (:func:`~sprig.sparsity.prune.sensitivity`), so every layer's nnz is exactly what it was
    and no stored position is ever "regrown". ``α_t`` decays from ``fraction`` (``decay``:
    cosine, linear or constant, as RigL's).

    The paper's code is not available (reference/dst.md §5.2): the two criteria are the
    abstract's ("weight drop-and-grow", "sensitivity-driven pruning"); the exact sensitivity
    formula, the schedule and these defaults (α = 0.1, ΔT = 100, T_end = 75 %) are ours. The
    grown weights are not candidates for the prune-back of the same update (their sensitivity
    is 0, they would be removed at once): prune and grow are chosen from the topology before
    the update (``exclude_dropped``).

    >>> alg = seft(1000)
    >>> sorted(alg.needs), alg.exclude_dropped
    (['gradient', 'gradient_sample'], True)
    """
    if decay not in ("cosine", "linear", "constant"):
        raise ConfigError(f"seft decay must be cosine, linear or constant, got {decay!r}")
    t_end = max(1, int(end_fraction * total_steps))
    return DSTAlgorithm(
        "seft",
        P.sensitivity,
        G.gradient_grow,
        fraction=_decayed(decay, fraction, t_end),
        update=UpdateSchedule(every=delta_t, stop=t_end),
        exclude_dropped=True,
    )


#: Named constructors (every ``@DST.register`` above).
ALGORITHMS: dict[str, Callable[..., DSTAlgorithm]] = DST.implementations()
