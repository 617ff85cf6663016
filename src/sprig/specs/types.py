r"""Typed, frozen, validated specs and the ``parse_*`` functions that build them from text.

Every spec is a frozen, hashable dataclass with two fields:

* ``name`` — the canonical registry name (``"nesterov"``), whatever spelling came in;
* ``params`` — ``((param_name, value), ...)`` for **every** parameter of the entry, in the
  registry's positional order, defaults filled in, values converted (floats, ints, bools,
  lower-case choice names, tuples for lists, nested specs, ``None`` for "implementation
  default").

Construction always canonicalizes and validates (:meth:`sprig.specs.registry.Entry.bind`), so
an invalid spec cannot exist::

    >>> OptimizerSpec("Nesterov", momentum=0.95)
    OptimizerSpec(name='nesterov', params=(('momentum', 0.95), ('weight_decay', 0.0)))
    >>> parse_optimizer("Nesterov(0.9)") == OptimizerSpec("nesterov")
    True

``str(spec)`` is the canonical text and round-trips, ``parse_X(str(spec)) == spec``; every
parameter is written by keyword except those that are ``None`` (the default "not set"),
lists use ``[...]``::

    >>> str(parse_schedule("MultiStepLR(0.1; 50,75; 0.1)"))
    'multistep(lr=0.1, milestones=[50, 75], gamma=0.1)'
    >>> str(parse_schedule("Warmup(Cosine(0.1), 5)"))
    'warmup(schedule=cosine(lr=0.1, min_lr=0.0), steps=5)'

Parameters are read with ``spec["momentum"]``, ``spec.get("momentum")`` or ``spec.kwargs``
(a fresh dict). ``spec.entry`` is the registry entry (docs, constraints, ``linear`` flag).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from ..errors import ConfigError
from .grammar import Call, Node, SpecError, parse_call, parse_sequence
from .registry import (
    _SPEC_FACTORIES,
    REGISTRIES,
    Entry,
    Integer,
    Real,
    Registry,
    format_value,
)

__all__ = [
    "DSTSpec",
    "GrowSpec",
    "InitSpec",
    "LayerSpec",
    "LossSpec",
    "OptimizerSpec",
    "PruneSpec",
    "ScheduleSpec",
    "Spec",
    "parse_dst",
    "parse_grow",
    "parse_init",
    "parse_inits",
    "parse_layer",
    "parse_layers",
    "parse_learning_rate",
    "parse_loss",
    "parse_numbers",
    "parse_optimizer",
    "parse_optimizers",
    "parse_prune",
    "parse_schedule",
    "parse_spec",
    "spec_class",
]

S = TypeVar("S", bound="Spec")


@dataclass(frozen=True, init=False)
class Spec:
    """Base of all specs: ``name`` (canonical) and ``params`` (all of them, canonical order).

    ``Spec(name, params=None, **kwargs)``: ``params`` is a mapping or ``(key, value)`` pairs;
    keywords add to it. Names and keys are case-insensitive and may be aliases.

    Raises:
        ConfigError: unknown name or parameter, missing or invalid value.
    """

    kind: ClassVar[str] = ""
    name: str
    params: tuple[tuple[str, Any], ...]

    def __init__(
        self,
        name: str,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        /,
        **kwargs: Any,
    ) -> None:
        if not isinstance(name, str):
            raise ConfigError(
                f"{self.registry().label} name must be a string, got {type(name).__name__}"
            )
        pairs = list(params.items() if isinstance(params, Mapping) else params or ())
        pairs += kwargs.items()
        self._set(self.registry().lookup(name), (), pairs)

    def _set(self, entry: Entry, args: Iterable[Any], kwargs: Iterable[tuple[str, Any]]) -> None:
        object.__setattr__(self, "name", entry.name)
        object.__setattr__(self, "params", entry.bind(args, kwargs))

    @classmethod
    def registry(cls) -> Registry:
        """The registry of this kind."""
        return REGISTRIES[cls.kind]

    @classmethod
    def from_call(cls: type[S], call: Call) -> S:
        """Build from a parsed :class:`~sprig.specs.grammar.Call`."""
        spec = cls.__new__(cls)
        spec._set(cls.registry().lookup(call.name), call.args, call.kwargs)
        return spec

    @classmethod
    def parse(cls: type[S], text: str) -> S:
        """Parse one spec of this kind, e.g. ``OptimizerSpec.parse("Nesterov(0.9)")``."""
        return cls.from_call(parse_call(text))

    @property
    def entry(self) -> Entry:
        """The registry entry (constraints, docs, aliases)."""
        return self.registry().lookup(self.name)

    @property
    def kwargs(self) -> dict[str, Any]:
        """Parameters as a new dict."""
        return dict(self.params)

    def __getitem__(self, key: str) -> Any:
        for k, v in self.params:
            if k == key:
                return v
        raise KeyError(
            f"{self.name} has no parameter {key!r}; it has: "
            + (", ".join(k for k, _ in self.params) or "none")
        )

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]``, or ``default`` when the entry has no such parameter."""
        return dict(self.params).get(key, default)

    def replace(self: S, **changes: Any) -> S:
        """A copy with some parameters changed (validated again)."""
        return type(self)(self.name, {**dict(self.params), **changes})

    def __str__(self) -> str:
        shown = [f"{k}={format_value(v)}" for k, v in self.params if v is not None]
        return f"{self.name}({', '.join(shown)})" if shown else self.name


@dataclass(frozen=True, init=False)
class LayerSpec(Spec):
    """A layer: an activation after a linear map (``relu``, ``linear``, ``srelu``...), or a
    standalone ``batch_norm`` / ``dropout`` layer (``entry.linear`` tells which)."""

    kind: ClassVar[str] = "layer"

    @property
    def is_linear(self) -> bool:
        """True if this layer is a linear map (+ activation) and consumes a layer size."""
        return self.entry.linear


@dataclass(frozen=True, init=False)
class LossSpec(Spec):
    """A loss function (``softmax_cross_entropy``, ``squared_error``...)."""

    kind: ClassVar[str] = "loss"


@dataclass(frozen=True, init=False)
class OptimizerSpec(Spec):
    """An optimizer update rule (``sgd``, ``momentum``, ``nesterov``, ``adam``, ``adamw``)."""

    kind: ClassVar[str] = "optimizer"


@dataclass(frozen=True, init=False)
class ScheduleSpec(Spec):
    """A learning-rate schedule (``constant``, ``multistep``, ``cosine``, ``warmup``...)."""

    kind: ClassVar[str] = "schedule"


@dataclass(frozen=True, init=False)
class InitSpec(Spec):
    """A weight initializer (``xavier``, ``he_normal``, ``uniform(a, b)``, ``none``...)."""

    kind: ClassVar[str] = "init"


@dataclass(frozen=True, init=False)
class PruneSpec(Spec):
    """A prune criterion (``magnitude(fraction)``, ``set``, ``threshold(t)``...)."""

    kind: ClassVar[str] = "prune"


@dataclass(frozen=True, init=False)
class GrowSpec(Spec):
    """A grow criterion (``random``, ``gradient``, ``sampled_gradient``, ``momentum``)."""

    kind: ClassVar[str] = "grow"


@dataclass(frozen=True, init=False)
class DSTSpec(Spec):
    """A dynamic-sparse-training algorithm (``static``, ``set``, ``rigl``...); ``None``
    parameters mean "the algorithm's default"."""

    kind: ClassVar[str] = "dst"


_CLASSES: dict[str, type[Spec]] = {
    c.kind: c
    for c in (
        LayerSpec,
        LossSpec,
        OptimizerSpec,
        ScheduleSpec,
        InitSpec,
        PruneSpec,
        GrowSpec,
        DSTSpec,
    )
}


def spec_class(kind: str) -> type[Spec]:
    """The spec class of a registry kind (``"optimizer"`` → :class:`OptimizerSpec`)."""
    try:
        return _CLASSES[kind]
    except KeyError:
        raise ConfigError(
            f"unknown spec kind {kind!r}; valid: {', '.join(sorted(_CLASSES))}"
        ) from None


def _nested(kind: str) -> Any:
    cls = _CLASSES[kind]

    def factory(value: Any, what: str) -> Spec:
        if isinstance(value, cls):
            return value
        if isinstance(value, Call):
            return cls.from_call(value)
        if isinstance(value, str):
            return cls.parse(value)
        raise ConfigError(f"{what} must be {cls.registry().label} spec, got {value!r}")

    return factory


for _kind in _CLASSES:
    _SPEC_FACTORIES[_kind] = _nested(_kind)


# ------------------------------------------------------------------------------ parse_* API


def _located(
    err: ConfigError, text: str, what: str, index: int, count: int, column: int
) -> SpecError:
    """Re-raise a typed error from item ``index`` of a sequence with its location."""
    if isinstance(err, SpecError) and err.column is not None:
        return err
    prefix = f"{what} {index + 1} of {count} in {text!r}: " if count > 1 else ""
    out = SpecError(prefix + str(err))
    out.text, out.column = text, column or None
    return out


def parse_spec(kind: str, text: str) -> Spec:
    """Parse one spec of ``kind`` (a key of :data:`~sprig.specs.registry.REGISTRIES`)."""
    cls = spec_class(kind)
    if isinstance(text, cls):
        return text
    call = parse_call(text)
    try:
        return cls.from_call(call)
    except ConfigError as err:
        raise _located(err, text, kind, 0, 1, call.column) from None


def _parse_many(cls: type[S], text: str, what: str) -> tuple[S, ...]:
    nodes = parse_sequence(text)
    out: list[S] = []
    for i, node in enumerate(nodes):
        if not isinstance(node, Call):
            raise SpecError(
                f"{what} {i + 1} of {len(nodes)} in {text!r}: expected a "
                f"{cls.registry().label} name, got {format_value(node)}"
            )
        try:
            out.append(cls.from_call(node))
        except ConfigError as err:
            raise _located(err, text, what, i, len(nodes), node.column) from None
    return tuple(out)


def parse_layer(text: str) -> LayerSpec:
    """``"ReLU"``, ``"AllReLU(0.3)"``, ``"SReLU(al=0, tl=0, ar=0, tr=1)"``..."""
    return parse_spec("layer", text)  # type: ignore[return-value]


def parse_layers(text: str) -> tuple[LayerSpec, ...]:
    """Nerva's ``--layers``: ``"ReLU;ReLU;Linear"`` (``,`` works too when no item has ``;``)."""
    return _parse_many(LayerSpec, text, "layer")


def parse_loss(text: str) -> LossSpec:
    """``"SoftmaxCrossEntropy"``, ``"squared_error"``..."""
    return parse_spec("loss", text)  # type: ignore[return-value]


def parse_optimizer(text: str) -> OptimizerSpec:
    """``"Nesterov(0.9)"``, ``"Momentum(momentum=0.9)"``, ``"Adam(betas=0.9,0.999; eps=1e-8)"``."""
    return parse_spec("optimizer", text)  # type: ignore[return-value]


def parse_optimizers(text: str) -> tuple[OptimizerSpec, ...]:
    """Nerva's ``--optimizers``: one spec, or one per layer separated by ``;``."""
    return _parse_many(OptimizerSpec, text, "optimizer")


def parse_schedule(text: str) -> ScheduleSpec:
    """``"MultiStepLR(0.1; 50,75; 0.1)"``, ``"Warmup(Cosine(0.1), 5)"``..."""
    return parse_spec("schedule", text)  # type: ignore[return-value]


def parse_learning_rate(text: str | float) -> float | ScheduleSpec:
    """``--learning-rate``: a positive number (``0.01``) or a schedule (``Constant(0.01)``)."""
    if not isinstance(text, str):
        return Real(0.0, None, "neither").convert(text, "learning rate")
    nodes = parse_sequence(text)
    if len(nodes) == 1 and isinstance(nodes[0], int | float):
        return Real(0.0, None, "neither").convert(nodes[0], "learning rate")
    return parse_schedule(text)


def parse_init(text: str) -> InitSpec:
    """``"Xavier"``, ``"XavierNormalized"``, ``"Uniform(-0.1, 0.1)"``, ``"None"``..."""
    return parse_spec("init", text)  # type: ignore[return-value]


def parse_inits(text: str) -> tuple[InitSpec, ...]:
    """Nerva's ``--layer-weights``: one initializer, or one per linear layer."""
    return _parse_many(InitSpec, text, "initializer")


def parse_prune(text: str) -> PruneSpec:
    """``"Magnitude(0.2)"``, ``"SET(0.3)"``, ``"Threshold(0.001)"``..."""
    return parse_spec("prune", text)  # type: ignore[return-value]


def parse_grow(text: str) -> GrowSpec:
    """``"Random"``, ``"Gradient"``, ``"SampledGradient(8)"``..."""
    return parse_spec("grow", text)  # type: ignore[return-value]


def parse_dst(text: str) -> DSTSpec:
    """``"RigL(fraction=0.3, every=100, end=0.75)"``, ``"SET(0.3)"``, ``"static"``..."""
    return parse_spec("dst", text)  # type: ignore[return-value]


def parse_numbers(
    text: str | float | Iterable[Any],
    what: str = "value",
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
) -> tuple[Any, ...]:
    """A list of numbers: ``"3072;1024;10"``, ``"3072,1024,10"``, a number or a sequence.

    Used for ``--layer-sizes`` (``integer=True, low=1``), ``--densities``, ``--dropouts``.

    Raises:
        SpecError / ConfigError: not numbers, or outside ``[low, high]`` (``closed`` as in
            :class:`~sprig.specs.registry.Real`).
    """
    if isinstance(text, str):
        nodes: tuple[Node, ...] = parse_sequence(text)
    elif isinstance(text, int | float):
        nodes = (text,)
    else:
        nodes = tuple(text)  # type: ignore[arg-type]
    check = (
        Integer(None if low is None else int(low), None if high is None else int(high))
        if integer
        else Real(low, high, closed)
    )
    out = []
    for i, node in enumerate(nodes):
        label = f"{what} {i + 1} of {len(nodes)}" if len(nodes) > 1 else what
        out.append(check.convert(node, label))
    return tuple(out)
