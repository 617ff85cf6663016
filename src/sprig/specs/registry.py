r"""Registry of every spec name: canonical names, Nerva aliases, parameters and their constraints.

One :class:`Registry` per kind (``LAYERS``, ``LOSSES``, ``OPTIMIZERS``, ``SCHEDULES``,
``INITIALIZERS``, ``PRUNE``, ``GROW``, ``DST``; all in :data:`REGISTRIES`). Each maps a
canonical name (the registry name the implementing module uses, e.g. ``"nesterov"``) to an
:class:`Entry`: its aliases (Nerva's spellings), and its parameters in positional order, each a
:class:`Param` with a default and a constraint in the style of sklearn's
``_parameter_constraints`` (:class:`Real`, :class:`Integer`, :class:`Bool`, :class:`Choice`,
:class:`ListOf`, :class:`Optional`, :class:`SpecOf`).

Name lookup ignores case, ``_`` and ``-``: ``MultiStepLR``, ``MultistepLR`` and ``multistep_lr``
are the same key, so Nerva's CamelCase and our snake_case both work; output always uses the
canonical name. A parameter whose default is ``None`` is optional and means "the
implementation's / algorithm's default" — the builder decides, the spec does not invent a
number (all DST parameters are like that).

Error messages list what is valid::

    unknown optimizer 'nesterof' (did you mean 'nesterov'?); valid: adam, adamw,
        gradient_descent, momentum, nesterov, sgd        (one line in reality)
    nesterov momentum must be in [0, 1), got 1.5

Adding a component = one :class:`Entry` line here (+ its implementation and a test row).
"""

from __future__ import annotations

import difflib
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import ConfigError
from .grammar import Call, format_node

__all__ = [
    "DST",
    "GROW",
    "INITIALIZERS",
    "LAYERS",
    "LOSSES",
    "OPTIMIZERS",
    "PRUNE",
    "REGISTRIES",
    "REQUIRED",
    "SCHEDULES",
    "Bool",
    "Choice",
    "Constraint",
    "Entry",
    "Integer",
    "ListOf",
    "Optional",
    "Param",
    "Real",
    "Registry",
    "SpecOf",
    "format_value",
    "name_key",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Default of a parameter that must be given.
REQUIRED: Final = _Required()


def name_key(name: str) -> str:
    """Lookup key: lower case without ``_`` and ``-`` (``Multi_Step-LR`` → ``multisteplr``)."""
    return name.lower().replace("_", "").replace("-", "")


def format_value(value: Any) -> str:
    """Spec-language text of a parameter value (round-trips through the parser)."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, int | float | Call):
        return format_node(value)
    return str(value)  # a nested spec


def _got(value: Any) -> str:
    if isinstance(value, Call):
        return repr(value.name) if value.is_bare else repr(format_node(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_got(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return format_value(value) if isinstance(value, int | float) else repr(value)


def _bare_name(value: Any) -> str | None:
    """The name of a bare call or a string, else None."""
    if isinstance(value, Call) and value.is_bare:
        return value.name
    if isinstance(value, str):
        return value
    return None


# ------------------------------------------------------------------------------ constraints


class Constraint(ABC):
    """Checks and converts one parameter value (a syntax-tree node or a Python value)."""

    @abstractmethod
    def convert(self, value: Any, what: str) -> Any:
        """Return the canonical value or raise :class:`ConfigError` naming ``what``."""

    @abstractmethod
    def describe(self) -> str:
        """What is allowed, e.g. ``"a number in [0, 1)"``."""


def _interval(low: float | None, high: float | None, closed: str) -> str:
    lo_in = closed in ("both", "left")
    hi_in = closed in ("both", "right")
    if low is not None and high is not None:
        return f"in {'[' if lo_in else '('}{low:g}, {high:g}{']' if hi_in else ')'}"
    if low is not None:
        return f"{'>=' if lo_in else '>'} {low:g}"
    if high is not None:
        return f"{'<=' if hi_in else '<'} {high:g}"
    return ""


@dataclass(frozen=True)
class Real(Constraint):
    """A finite real number (ints are converted to float) in an optional interval.

    ``closed`` is ``"both"``, ``"left"``, ``"right"`` or ``"neither"`` (sklearn's ``Interval``).
    """

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies in the interval."""
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        if self.low is not None and (x < self.low or (x == self.low and not lo_in)):
            return False
        return not (self.high is not None and (x > self.high or (x == self.high and not hi_in)))

    def convert(self, value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{what} must be a number, got {_got(value)}")
        try:
            x = float(value)
        except OverflowError:  # an int literal beyond float range
            x = math.inf
        if not math.isfinite(x):
            raise ConfigError(f"{what} must be a finite number, got {value!r}")
        if not self.contains(x):
            raise ConfigError(f"{what} must be {self.range()}, got {format_value(x)}")
        return x

    def range(self) -> str:
        """The interval in words (``in [0, 1)``, ``> 0``) or ``""`` for any real."""
        return _interval(self.low, self.high, self.closed)

    def describe(self) -> str:
        return f"a number {self.range()}".rstrip()


@dataclass(frozen=True)
class Integer(Constraint):
    """An integer in ``[low, high]``; an integral float such as ``1e4`` is accepted."""

    low: int | None = None
    high: int | None = None

    def convert(self, value: Any, what: str) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{what} must be an integer, got {_got(value)}")
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise ConfigError(f"{what} must be {self.range()}, got {value}")
        return value

    def range(self) -> str:
        """The interval in words (``>= 1``) or ``""``."""
        return _interval(self.low, self.high, "both")

    def describe(self) -> str:
        return f"an integer {self.range()}".rstrip()


@dataclass(frozen=True)
class Bool(Constraint):
    """``true``/``false`` (any case) or a Python bool."""

    def convert(self, value: Any, what: str) -> bool:
        if isinstance(value, bool):
            return value
        name = _bare_name(value)
        if name is not None and name.lower() in ("true", "false"):
            return name.lower() == "true"
        raise ConfigError(f"{what} must be true or false, got {_got(value)}")

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Choice(Constraint):
    """One of a fixed set of lower-case names (input is case-insensitive)."""

    options: tuple[str, ...]

    def convert(self, value: Any, what: str) -> str:
        name = _bare_name(value)
        if name is not None and name.lower() in self.options:
            return name.lower()
        raise ConfigError(f"{what} must be {self.describe()}, got {_got(value)}")

    def describe(self) -> str:
        return "one of " + ", ".join(self.options)


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list (tuple) of values; a single value is a list of length 1.

    ``length`` fixes the length; ``min_length`` bounds it; ``increasing`` requires strictly
    increasing items.
    """

    item: Constraint
    length: int | None = None
    min_length: int = 0
    increasing: bool = False

    def convert(self, value: Any, what: str) -> tuple[Any, ...]:
        values = tuple(value) if isinstance(value, tuple | list) else (value,)
        if self.length is not None and len(values) != self.length:
            raise ConfigError(
                f"{what} must have {self.length} values, got {len(values)}: {_got(values)}"
            )
        if len(values) < self.min_length:
            raise ConfigError(
                f"{what} must have at least {self.min_length} values, got {_got(values)}"
            )
        out = tuple(self.item.convert(v, f"each {what} value") for v in values)
        if self.increasing and any(a >= b for a, b in itertools.pairwise(out)):
            raise ConfigError(f"{what} must be strictly increasing, got {_got(out)}")
        return out

    def describe(self) -> str:
        n = f"{self.length} " if self.length is not None else ""
        inc = "strictly increasing " if self.increasing else ""
        return f"a list of {n}{inc}values, each {self.item.describe()}"


@dataclass(frozen=True)
class Optional(Constraint):
    """``none`` (or Python ``None``) or a value of ``inner``."""

    inner: Constraint

    def convert(self, value: Any, what: str) -> Any:
        if value is None:
            return None
        name = _bare_name(value)
        if name is not None and name.lower() == "none":
            return None
        return self.inner.convert(value, what)

    def describe(self) -> str:
        return f"none or {self.inner.describe()}"


#: kind -> factory(value, what) building a nested spec; filled by :mod:`sprig.specs.types`.
_SPEC_FACTORIES: dict[str, Callable[[Any, str], Any]] = {}


@dataclass(frozen=True)
class SpecOf(Constraint):
    """A nested spec of another kind, e.g. the schedule inside ``Warmup(Cosine(0.1), 5)``."""

    kind: str

    def convert(self, value: Any, what: str) -> Any:
        return _SPEC_FACTORIES[self.kind](value, what)

    def describe(self) -> str:
        return f"a {REGISTRIES[self.kind].label} spec"


# ---------------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Param:
    """One parameter: name, constraint, default (:data:`REQUIRED` if none), aliases, doc."""

    name: str
    constraint: Constraint
    default: Any = REQUIRED
    aliases: tuple[str, ...] = ()
    doc: str = ""

    @property
    def required(self) -> bool:
        """True when the parameter has no default."""
        return self.default is REQUIRED


@dataclass(frozen=True)
class Entry:
    """A registry entry.

    Attributes:
        name: canonical (registry) name.
        params: parameters in positional order.
        aliases: other accepted spellings (Nerva's), written snake_case.
        doc: one line: what it is.
        check: optional cross-parameter check ``kwargs -> error message or None``.
        linear: layers only: True if the layer is a linear map followed by this activation
            (it consumes one entry of ``layer_sizes``); False for ``batch_norm`` and ``dropout``.
    """

    name: str
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    doc: str = ""
    check: Callable[[Mapping[str, Any]], str | None] | None = field(default=None, compare=False)
    linear: bool = True

    def param(self, key: str) -> Param | None:
        """The parameter called ``key`` (or one of its aliases), case-insensitively."""
        k = name_key(key)
        for p in self.params:
            if k == name_key(p.name) or k in (name_key(a) for a in p.aliases):
                return p
        return None

    def signature(self) -> str:
        """``nesterov(momentum=0.9, weight_decay=0.0)``-style summary for help texts."""
        if not self.params:
            return self.name
        parts = [
            p.name if p.required else f"{p.name}={format_value(p.default)}" for p in self.params
        ]
        return f"{self.name}({', '.join(parts)})"

    def bind(
        self, args: Iterable[Any] = (), kwargs: Iterable[tuple[str, Any]] = ()
    ) -> tuple[tuple[str, Any], ...]:
        """Match positional and keyword values to the parameters, fill defaults, validate.

        Returns:
            ``((name, value), ...)`` for every parameter, in positional order.

        Raises:
            ConfigError: too many arguments, unknown/duplicate keyword, missing required
                parameter, or a value outside its constraint.
        """
        args = tuple(args)
        given: dict[str, Any] = {}
        if len(args) > len(self.params):
            names = ", ".join(p.name for p in self.params)
            takes = (
                f"at most {len(self.params)} arguments ({names})" if self.params else "no arguments"
            )
            raise ConfigError(f"{self.name} takes {takes}, got {len(args)}: {_got(args)}")
        for p, a in zip(self.params, args, strict=False):
            given[p.name] = a
        for key, value in kwargs:
            found = self.param(key)
            if found is None:
                valid = ", ".join(p.name for p in self.params) or "none"
                raise ConfigError(f"unknown parameter {key!r} for {self.name}; valid: {valid}")
            if found.name in given:
                raise ConfigError(f"{self.name} {found.name} given twice")
            given[found.name] = value
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name in given:
                out[p.name] = p.constraint.convert(given[p.name], f"{self.name} {p.name}")
            elif p.required:
                raise ConfigError(
                    f"{self.name} requires {p.name} ({p.constraint.describe()}), "
                    f"e.g. {self.signature()}"
                )
            else:
                out[p.name] = p.default
        if self.check is not None and (msg := self.check(out)):
            raise ConfigError(f"{self.name}: {msg}")
        return tuple(out.items())


class Registry:
    """Names of one kind (``label`` is used in messages: "unknown optimizer 'x'")."""

    def __init__(self, kind: str, label: str, entries: Iterable[Entry]):
        self.kind = kind
        self.label = label
        self.entries: dict[str, Entry] = {}
        self._keys: dict[str, Entry] = {}
        for e in entries:
            self.entries[e.name] = e
            for spelling in (e.name, *e.aliases):
                k = name_key(spelling)
                if k in self._keys and self._keys[k] is not e:
                    raise AssertionError(f"{kind}: {spelling!r} names two entries")
                self._keys[k] = e

    def names(self) -> list[str]:
        """Canonical names, sorted."""
        return sorted(self.entries)

    def valid_names(self) -> list[str]:
        """Canonical names and aliases, sorted (what error messages list)."""
        return sorted({s for e in self.entries.values() for s in (e.name, *e.aliases)})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name_key(name) in self._keys

    def __iter__(self) -> Any:
        return iter(self.entries.values())

    def lookup(self, name: str) -> Entry:
        """The entry for ``name`` (any case, canonical or alias).

        Raises:
            ConfigError: unknown name; the message lists the valid names.
        """
        entry = self._keys.get(name_key(name))
        if entry is None:
            valid = self.valid_names()
            close = difflib.get_close_matches(name.lower(), valid, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown {self.label} {name!r}{hint}; valid: {', '.join(valid)}")
        return entry


# ------------------------------------------------------------------------------- the tables

_ANY = Real()
_POS = Real(0.0, None, "neither")  # > 0
_NONNEG = Real(0.0, None)  # >= 0
_UNIT = Real(0.0, 1.0)  # [0, 1]
_UNIT_OPEN_RIGHT = Real(0.0, 1.0, "left")  # [0, 1)
_DENSITY = Real(0.0, 1.0, "right")  # (0, 1]
_POS_INT = Integer(1)
_NONNEG_INT = Integer(0)


def _p(
    name: str, constraint: Constraint, default: Any = REQUIRED, doc: str = "", *aliases: str
) -> Param:
    return Param(name, constraint, default, tuple(aliases), doc)


# -- layers / activations (each "activation" layer is Linear followed by the activation)
LAYERS = Registry(
    "layer",
    "layer",
    [
        Entry("linear", aliases=("identity", "no_activation"), doc="linear layer, no activation"),
        Entry("relu", doc="max(0, x)"),
        Entry(
            "leaky_relu",
            (_p("alpha", _UNIT_OPEN_RIGHT, 0.01, "slope for x < 0"),),
            doc="max(alpha x, x)",
        ),
        Entry(
            "all_relu",
            (_p("alpha", _ANY, REQUIRED, "slope for x < 0"),),
            doc="alpha x if x < 0 else x",
        ),
        Entry(
            "trelu",
            (_p("epsilon", _NONNEG, REQUIRED, "threshold", "eps"),),
            doc="0 if x < epsilon else x",
        ),
        Entry("sigmoid", aliases=("logistic",), doc="1 / (1 + exp(-x))"),
        Entry("tanh", aliases=("hyperbolic_tangent",), doc="tanh x"),
        Entry("gelu", doc="x Φ(x)"),
        Entry("silu", aliases=("swish",), doc="x σ(x)"),
        Entry("elu", (_p("alpha", _POS, 1.0),), doc="alpha (exp(x) - 1) if x < 0 else x"),
        Entry("softplus", doc="log(1 + exp(x))"),
        Entry(
            "srelu",
            (
                _p("al", _ANY, 0.0, "left slope (learnable)"),
                _p("tl", _ANY, 0.0, "left threshold (learnable)"),
                _p("ar", _ANY, 0.0, "right slope (learnable)"),
                _p("tr", _ANY, 1.0, "right threshold (learnable)"),
            ),
            doc="S-shaped ReLU with 4 learnable parameters; defaults = ReLU (Nerva's parser)",
        ),
        Entry("softmax", doc="row-wise softmax over the features"),
        Entry("log_softmax", doc="row-wise log-softmax over the features"),
        Entry(
            "batch_norm",
            aliases=("batch_normalization",),
            doc="batch normalization (affine); consumes no layer size",
            linear=False,
        ),
        Entry(
            "dropout",
            (_p("p", _UNIT_OPEN_RIGHT, 0.5, "probability of zeroing an activation", "rate"),),
            doc="activation dropout layer; consumes no layer size",
            linear=False,
        ),
    ],
)

LOSSES = Registry(
    "loss",
    "loss",
    [
        Entry("squared_error", doc="sum of (Y - T)^2"),
        Entry("mse", aliases=("mean_squared_error",), doc="squared error / (K N)"),
        Entry("cross_entropy", doc="-sum T log Y"),
        Entry(
            "softmax_cross_entropy",
            aliases=("stable_softmax_cross_entropy",),
            doc="-sum T log softmax(Y) (always computed stably)",
        ),
        Entry("logistic_cross_entropy", doc="-sum T log σ(Y)"),
        Entry("nll", aliases=("negative_log_likelihood",), doc="-sum log((Y ⊙ T) 1)"),
    ],
)


def _weight_decay(default: float = 0.0) -> Param:
    return _p("weight_decay", _NONNEG, default, "L2 penalty (decoupled for adamw)")


_BETAS = ListOf(_UNIT_OPEN_RIGHT, length=2)
#: SMET's options of Adam/AdamW (see sprig.optimizers.Adam).
_SMET_OPTIONS = (
    _p("per_entry_steps", Bool(), False, "one step counter per stored entry (SMET)"),
    _p("warmup_steps", _NONNEG_INT, 0, "momentum warm-up of young entries (SMET; 0 = off)"),
)

OPTIMIZERS = Registry(
    "optimizer",
    "optimizer",
    [
        Entry("sgd", (_weight_decay(),), aliases=("gradient_descent",), doc="w ← w - lr g"),
        Entry(
            "momentum",
            (_p("momentum", _UNIT_OPEN_RIGHT, 0.9, "μ", "mu"), _weight_decay()),
            doc="Δ ← μΔ - lr g; w ← w + Δ",
        ),
        Entry(
            "nesterov",
            (_p("momentum", _UNIT_OPEN_RIGHT, 0.9, "μ", "mu"), _weight_decay()),
            doc="Δ ← μΔ - lr g; w ← w + μΔ - lr g",
        ),
        Entry(
            "adam",
            (
                _p("betas", _BETAS, (0.9, 0.999)),
                _p("eps", _POS, 1e-8, "", "epsilon"),
                _weight_decay(),
                *_SMET_OPTIONS,
            ),
            doc="Adam (Kingma & Ba 2015)",
        ),
        Entry(
            "adamw",
            (
                _p("betas", _BETAS, (0.9, 0.999)),
                _p("eps", _POS, 1e-8, "", "epsilon"),
                _weight_decay(0.01),
                *_SMET_OPTIONS,
            ),
            doc="Adam with decoupled weight decay (Loshchilov & Hutter 2019)",
        ),
        Entry(
            "smet",
            (
                _p("betas", _BETAS, (0.9, 0.999)),
                _p("eps", _POS, 1e-8, "", "epsilon"),
                _weight_decay(),
                _p("warmup_steps", _NONNEG_INT, 100, "momentum warm-up of regrown entries"),
            ),
            doc="SMET: Adam with per-entry step counters and momentum warm-up (Xiao 2026)",
        ),
    ],
)

_LR = _p("lr", _POS, REQUIRED, "initial learning rate", "learning_rate", "eta")


def _cosine_check(kw: Mapping[str, Any]) -> str | None:
    if kw["min_lr"] > kw["lr"]:
        return f"min_lr must be <= lr, got min_lr={kw['min_lr']!r} > lr={kw['lr']!r}"
    return None


SCHEDULES = Registry(
    "schedule",
    "learning-rate schedule",
    [
        Entry("constant", (_LR,), doc="lr"),
        Entry(
            "time_based",
            (_LR, _p("decay", _NONNEG, REQUIRED)),
            doc="lr_{i+1} = lr_i / (1 + decay i) (Nerva, epoch-indexed)",
        ),
        Entry(
            "step_based",
            (_LR, _p("drop_rate", _POS), _p("change_rate", _POS)),
            doc="lr drop_rate^floor((1 + i) / change_rate) (Nerva, epoch-indexed)",
        ),
        Entry(
            "multistep",
            (
                _LR,
                _p("milestones", ListOf(_NONNEG_INT, increasing=True), REQUIRED, "epochs"),
                _p("gamma", _POS, 0.1),
            ),
            aliases=("multistep_lr",),
            doc="lr gamma^#{milestones <= i} (Nerva MultiStepLR, epoch-indexed)",
        ),
        Entry(
            "exponential",
            (_LR, _p("change_rate", _NONNEG)),
            doc="lr exp(-change_rate i) (Nerva, epoch-indexed)",
        ),
        Entry(
            "cosine",
            (
                _LR,
                _p(
                    "total_steps",
                    Optional(_POS_INT),
                    None,
                    "none = the whole run",
                    "total",
                    "epochs",
                    "t_max",
                ),
                _p("min_lr", _NONNEG, 0.0, "", "eta_min"),
            ),
            check=_cosine_check,
            doc="min_lr + (lr - min_lr)(1 + cos(π t / total_steps)) / 2",
        ),
        Entry(
            "warmup",
            (
                _p("schedule", SpecOf("schedule")),
                _p("steps", _NONNEG_INT, REQUIRED, "", "warmup_steps"),
            ),
            doc="linear ramp from 0 to the inner schedule over `steps`, then the inner schedule",
        ),
    ],
)


def _uniform_check(kw: Mapping[str, Any]) -> str | None:
    return None if kw["a"] < kw["b"] else f"a must be < b, got a={kw['a']!r}, b={kw['b']!r}"


INITIALIZERS = Registry(
    "init",
    "initializer",
    [
        Entry("xavier", doc="U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Nerva Xavier)"),
        Entry("xavier_normalized", doc="U(±sqrt(6/(fan_in + fan_out))) (Nerva)"),
        Entry("xavier_uniform", aliases=("glorot_uniform",), doc="U(±sqrt(6/(fan_in + fan_out)))"),
        Entry("xavier_normal", aliases=("glorot_normal",), doc="N(0, sqrt(2/(fan_in + fan_out)))"),
        Entry("he", doc="N(0, sqrt(2/fan_in)) (Nerva He)"),
        Entry("he_uniform", aliases=("kaiming_uniform",), doc="U(±sqrt(6/fan_in))"),
        Entry("he_normal", aliases=("kaiming_normal",), doc="N(0, sqrt(2/fan_in))"),
        Entry(
            "uniform",
            (_p("a", _ANY, -1.0, "low"), _p("b", _ANY, 1.0, "high")),
            check=_uniform_check,
            doc="U(a, b); Nerva's Uniform is U(-1, 1)",
        ),
        Entry("normal", (_p("mean", _ANY, 0.0), _p("std", _POS, 1.0)), doc="N(mean, std)"),
        Entry("zero", aliases=("zeros",), doc="all zero"),
        Entry("pytorch", doc="xavier_normalized weights, bias 0.01 (Nerva PyTorch)"),
        Entry("none", doc="leave values as they are (Nerva's default for --layer-weights)"),
    ],
)

_FRACTION = _p(
    "fraction", _UNIT, REQUIRED, "fraction ζ of the stored weights", "zeta", "drop_fraction"
)

PRUNE = Registry(
    "prune",
    "prune criterion",
    [
        Entry("magnitude", (_FRACTION,), doc="drop the fraction with the smallest |w|"),
        Entry(
            "set", (_FRACTION,), doc="magnitude within positive and within negative weights (SET)"
        ),
        Entry("threshold", (_p("t", _NONNEG, REQUIRED, "", "threshold"),), doc="drop all |w| <= t"),
        Entry("random", (_FRACTION,), doc="drop a uniformly random fraction"),
        Entry("sensitivity", (_FRACTION,), doc="drop the fraction with the smallest |w g|"),
        Entry(
            "mest",
            (
                _FRACTION,
                _p("lam", Optional(_NONNEG), None, "λ in |w| + λ|g|; none = default", "lambda"),
            ),
            doc="drop the smallest |w| + λ|g| (MEST)",
        ),
        Entry(
            "soft_magnitude",
            (_FRACTION, _p("temperature", _POS, 1.0)),
            doc="sample drops with probability decreasing in |w| / temperature",
        ),
    ],
)

GROW = Registry(
    "grow",
    "grow criterion",
    [
        Entry("random", doc="uniformly random empty positions"),
        Entry("gradient", doc="largest |dense gradient| (RigL)"),
        Entry(
            "sampled_gradient",
            (
                _p(
                    "candidates",
                    Optional(_POS_INT),
                    None,
                    "candidates per grown entry; none = default",
                ),
            ),
            doc="largest |gradient| among randomly sampled candidates",
        ),
        Entry("momentum", doc="largest |momentum| (SNFS)"),
    ],
)

# DST: every parameter is optional; none = the algorithm's default.
_D_FRACTION = _p("fraction", Optional(_UNIT), None, "drop fraction", "drop_fraction", "zeta")
_D_EVERY = _p(
    "every", Optional(_POS_INT), None, "optimizer steps between updates", "delta_t", "interval"
)
_D_START = _p("start", Optional(_UNIT), None, "fraction of training when updates start", "t_start")
_D_END = _p("end", Optional(_UNIT), None, "fraction of training when updates stop", "stop", "t_end")
_D_DECAY = _p(
    "decay", Optional(Choice(("cosine", "linear", "constant"))), None, "drop-fraction decay"
)
_D_INIT_DENSITY = _p("initial_density", Optional(_DENSITY), None, "density at the start")


def _start_end_check(kw: Mapping[str, Any]) -> str | None:
    s, e = kw.get("start"), kw.get("end")
    if s is not None and e is not None and s >= e:
        return f"start must be < end, got start={s!r}, end={e!r}"
    return None


DST = Registry(
    "dst",
    "DST algorithm",
    [
        Entry("static", doc="fixed random sparse topology"),
        Entry(
            "set",
            (_D_FRACTION, _D_EVERY, _D_END),
            doc="SET: magnitude (per sign) prune, random grow (Mocanu 2018)",
        ),
        Entry("magran", (_D_FRACTION, _D_EVERY, _D_END), doc="magnitude prune, random grow"),
        Entry(
            "rigl",
            (_D_FRACTION, _D_EVERY, _D_END, _D_DECAY),
            doc="magnitude prune, gradient grow (Evci 2020)",
        ),
        Entry(
            "snfs",
            (_D_FRACTION, _D_EVERY, _D_END, _D_DECAY),
            doc="magnitude prune, momentum grow (Dettmers 2019)",
        ),
        Entry(
            "mest",
            (_D_FRACTION, _D_EVERY, _D_END, _p("lam", Optional(_NONNEG), None, "λ", "lambda")),
            doc="MEST: |w| + λ|g| prune, random grow (Yuan 2021)",
        ),
        Entry(
            "granet",
            (_D_FRACTION, _D_EVERY, _D_START, _D_END, _D_INIT_DENSITY),
            check=_start_end_check,
            doc="GraNet: gradual pruning + zero-cost neuroregeneration (Liu 2021)",
        ),
        Entry(
            "gmp",
            (_D_EVERY, _D_START, _D_END, _D_INIT_DENSITY),
            check=_start_end_check,
            doc="gradual magnitude pruning, cubic schedule (Zhu & Gupta 2017)",
        ),
    ],
)

#: kind -> registry.
REGISTRIES: dict[str, Registry] = {
    r.kind: r for r in (LAYERS, LOSSES, OPTIMIZERS, SCHEDULES, INITIALIZERS, PRUNE, GROW, DST)
}
