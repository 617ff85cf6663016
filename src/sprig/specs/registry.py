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

Entries are not listed here: each implementation registers itself where it is defined, with
:meth:`Registry.register` (thinc's ``@registry`` decorator, sklearn's constraints), and every
consumer — the spec parser, the builders (:meth:`Registry.create`), ``sprig train --help``
(:func:`help_text`), error messages and the Python classes' own validation
(:meth:`Registry.validate`) — reads that one declaration. Adding a component touches its own
file and its test-table row; this module imports the implementing modules on first lookup.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import itertools
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import ConfigError
from .grammar import Call, format_node

__all__ = [
    "ANY",
    "DENSITY",
    "DST",
    "FROM_IMPLEMENTATION",
    "GROW",
    "INITIALIZERS",
    "LAYERS",
    "LOADERS",
    "LOSSES",
    "NONNEGATIVE",
    "NONNEGATIVE_INT",
    "OPTIMIZERS",
    "POSITIVE",
    "POSITIVE_INT",
    "PRUNE",
    "REGISTRIES",
    "REQUIRED",
    "SCHEDULES",
    "UNIT",
    "UNIT_OPEN_RIGHT",
    "Bool",
    "Choice",
    "Constraint",
    "Entry",
    "Integer",
    "ListOf",
    "Optional",
    "Param",
    "Period",
    "PeriodOf",
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


class _FromImplementation:
    def __repr__(self) -> str:
        return "FROM_IMPLEMENTATION"


#: Default of a :class:`Param` declared without one: the implementation's own default
#: (from its signature; :data:`REQUIRED` if it has none), so no default is written twice.
FROM_IMPLEMENTATION: Final = _FromImplementation()


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
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
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
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)
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
        out = tuple(self.item.convert(v, f"{what}[{i}]") for i, v in enumerate(values))
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


@dataclass(frozen=True)
class Period:
    """A number of optimizer steps or epochs (``100 steps``, ``1 epoch`` in the spec
    language)."""

    n: int
    unit: str  # "step" or "epoch"

    def __str__(self) -> str:
        return f"{self.n} {self.unit}" + ("" if self.n == 1 else "s")


@dataclass(frozen=True)
class PeriodOf(Constraint):
    """A positive whole number of steps or epochs (``100 steps``, ``1 epoch``), or a bare
    positive integer in the component's own unit (returned as an ``int``)."""

    def convert(self, value: Any, what: str) -> Any:
        if isinstance(value, Period):
            return value
        if (
            isinstance(value, Call)
            and value.name in ("steps", "epochs")
            and not value.kwargs
            and len(value.args) == 1
        ):
            n = POSITIVE_INT.convert(value.args[0], what)
            return Period(n, value.name[:-1])
        if isinstance(value, Call | str):
            raise ConfigError(
                f"{what} must be a positive integer or a period such as '100 steps' or "
                f"'1 epoch', got {_got(value)}"
            )
        return POSITIVE_INT.convert(value, what)

    def describe(self) -> str:
        return "a positive integer (in the algorithm's unit), 'N steps' or 'N epochs'"


#: kind -> factory(value, what) building a nested spec; filled by :mod:`sprig.specs.types`.
_SPEC_FACTORIES: dict[str, Callable[[Any, str], Any]] = {}


@dataclass(frozen=True)
class SpecOf(Constraint):
    """A nested spec of another kind, e.g. the schedule inside ``Warmup(Cosine(0.1), 5)``."""

    kind: str

    def convert(self, value: Any, what: str) -> Any:
        if self.kind not in _SPEC_FACTORIES:
            importlib.import_module("sprig.specs.types")  # fills the factories
        return _SPEC_FACTORIES[self.kind](value, what)

    def describe(self) -> str:
        return f"a {REGISTRIES[self.kind].label} spec"


# ---------------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Param:
    """One parameter: name, constraint, default (:data:`REQUIRED` if none), aliases, doc."""

    name: str
    constraint: Constraint
    default: Any = FROM_IMPLEMENTATION
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
        factory: the registered implementation (the decorated class or function).
        build: how a spec becomes an object, ``build(**params, **context)`` (default:
            ``factory`` itself); see :meth:`Registry.create`.
        role: a kind of entry the builder treats alike (``"activation"``: an element-wise
            activation after the linear map, wrapped in an activation layer).
    """

    name: str
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    doc: str = ""
    check: Callable[[Mapping[str, Any]], str | None] | None = field(default=None, compare=False)
    linear: bool = True
    factory: Any = field(default=None, compare=False, repr=False)
    build: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    role: str = ""

    def param(self, key: str) -> Param | None:
        """The parameter called ``key`` (or one of its aliases), case-insensitively."""
        k = name_key(key)
        for p in self.params:
            if k == name_key(p.name) or k in (name_key(a) for a in p.aliases):
                return p
        return None

    def effective_default(self, p: Param) -> Any:
        """What a parameter left unset means: its spec default, or for a ``None`` default the
        builder's own default (``None`` if that depends on the run, e.g. its length)."""
        if p.default is not None or p.required:
            return p.default
        sig = {**_signature(self.factory), **_signature(self.build)}
        q = sig.get(p.name)
        return None if q is None or q.default is inspect.Parameter.empty else q.default

    def signature(self) -> str:
        """``nesterov(momentum=0.9, weight_decay=0.0)``-style summary for help texts
        (a ``None`` default shows the builder's default, or ``auto`` if it depends on the run)."""
        if not self.params:
            return self.name
        parts = []
        for p in self.params:
            if p.required:
                parts.append(p.name)
                continue
            d = self.effective_default(p)
            shown = "auto" if d is None and p.default is None else format_value(d)
            parts.append(f"{p.name}={shown}")
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


def _signature(fn: Any) -> dict[str, inspect.Parameter]:
    if fn is None:
        return {}
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return {}


class Registry:
    """Names of one kind (``label`` is used in messages: "unknown optimizer 'x'").

    Implementations register themselves where they are defined, thinc-style::

        @OPTIMIZERS.register("nesterov", Param("momentum", UNIT_OPEN_RIGHT, aliases=("mu",)))
        @dataclass(frozen=True)
        class Nesterov: ...

    A parameter declared without a default takes the implementation's (its signature's).
    ``modules`` are imported on first use, so every implementation is registered before any
    lookup without the spec package importing them at import time (no import cycles).
    """

    def __init__(self, kind: str, label: str, modules: Iterable[str] = ()):
        self.kind = kind
        self.label = label
        self.modules = tuple(modules)
        self._entries: dict[str, Entry] = {}
        self._keys: dict[str, Entry] = {}
        self._loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for name in self.modules:
                module = importlib.import_module(name)
                if getattr(module.__spec__, "_initializing", False):
                    self._loaded = False  # still being imported: look again next time

    @property
    def entries(self) -> dict[str, Entry]:
        """Canonical name → entry (every implementation registered)."""
        self._load()
        return self._entries

    def add(self, entry: Entry) -> Entry:
        """Register ``entry`` (its name and aliases must be new)."""
        for spelling in (entry.name, *entry.aliases):
            k = name_key(spelling)
            if k in self._keys and self._keys[k].name != entry.name:
                raise AssertionError(f"{self.kind}: {spelling!r} names two entries")
        self._entries[entry.name] = entry
        for spelling in (entry.name, *entry.aliases):
            self._keys[name_key(spelling)] = entry
        return entry

    def implementations(self, *, aliases: bool = False, role: str | None = None) -> dict[str, Any]:
        """Name → registered implementation of what is registered *so far* (no lazy loading:
        packages build their public ``REGISTRY`` dicts from this after importing their
        modules). ``aliases`` adds every alias; ``role`` keeps entries of that role."""
        out: dict[str, Any] = {}
        for e in self._entries.values():
            if role is None or e.role == role:
                for spelling in (e.name, *e.aliases) if aliases else (e.name,):
                    out[spelling] = e.factory
        return out

    def unregister(self, name: str) -> None:
        """Remove an entry (tests and plug-ins that register temporarily)."""
        entry = self.lookup(name)
        del self._entries[entry.name]
        for spelling in (entry.name, *entry.aliases):
            self._keys.pop(name_key(spelling), None)

    def register(
        self,
        name: str,
        *params: Param,
        aliases: Iterable[str] = (),
        doc: str | None = None,
        check: Callable[[Mapping[str, Any]], str | None] | None = None,
        linear: bool = True,
        build: Callable[..., Any] | None = None,
        role: str = "",
    ) -> Callable[[Any], Any]:
        """Decorator registering a class or function under ``name`` (see the class docstring).

        ``doc`` defaults to the first line of the implementation's docstring; ``build`` (see
        :meth:`create`) defaults to the implementation itself.
        """

        def decorate(obj: Any) -> Any:
            sig = {**_signature(obj), **_signature(build)}
            resolved = []
            for p in params:
                if p.default is FROM_IMPLEMENTATION:
                    q = sig.get(p.name)
                    if q is None:
                        raise AssertionError(f"{self.kind} {name}: {p.name!r} is not a parameter")
                    default = REQUIRED if q.default is inspect.Parameter.empty else q.default
                    p = Param(p.name, p.constraint, default, p.aliases, p.doc)
                resolved.append(p)
            text = doc if doc is not None else (inspect.getdoc(obj) or "").split("\n")[0]
            self.add(
                Entry(name, tuple(resolved), tuple(aliases), text, check, linear, obj, build, role)
            )
            return obj

        return decorate

    def create(self, spec: Any, /, **context: Any) -> Any:
        """The object a spec names: ``build(**params, **context)``.

        Parameters whose value is ``None`` and whose declared default is ``None`` ("the
        implementation's default") are left out, so the builder's own default applies. Of
        ``context`` (run facts such as ``width``, ``dtype``, ``rng``, ``epochs``,
        ``steps_per_epoch``, and ``factory``: the registered implementation) only what the
        builder's signature accepts is passed.
        """
        entry = self.lookup(spec.name)
        fn = entry.build or entry.factory
        kwargs = {
            p.name: v
            for p, (_, v) in zip(entry.params, spec.params, strict=True)
            if not (v is None and p.default is None)
        }
        sig = _signature(fn)
        takes_all = any(q.kind is inspect.Parameter.VAR_KEYWORD for q in sig.values())
        context = {"factory": entry.factory, **context}
        kwargs.update({k: v for k, v in context.items() if takes_all or k in sig})
        return fn(**kwargs)

    def entry_of(self, cls: type) -> Entry:
        """The entry registered for exactly ``cls`` (no lazy loading: a class is registered
        when it is defined)."""
        for entry in self._entries.values():
            if entry.factory is cls:
                return entry
        raise KeyError(f"{cls.__name__} is not registered as a {self.label}")

    def validate(self, obj: Any) -> None:
        """Check (and canonicalize) a registered frozen dataclass's fields with the declared
        constraints, so the Python API and the spec language validate alike, once.

        Raises:
            ConfigError: a field outside its constraint (the message names entry and field).
        """
        entry = self.entry_of(type(obj))
        values = {}
        for p in entry.params:
            values[p.name] = p.constraint.convert(getattr(obj, p.name), f"{entry.name} {p.name}")
            object.__setattr__(obj, p.name, values[p.name])
        if entry.check is not None and (msg := entry.check(values)):
            raise ConfigError(f"{entry.name}: {msg}")

    def names(self) -> list[str]:
        """Canonical names, sorted."""
        return sorted(self.entries)

    def valid_names(self) -> list[str]:
        """Canonical names and aliases, sorted (what error messages list)."""
        return sorted({s for e in self.entries.values() for s in (e.name, *e.aliases)})

    def __contains__(self, name: object) -> bool:
        self._load()
        return isinstance(name, str) and name_key(name) in self._keys

    def __iter__(self) -> Any:
        return iter(self.entries.values())

    def lookup(self, name: str) -> Entry:
        """The entry for ``name`` (any case, canonical or alias).

        Raises:
            ConfigError: unknown name; the message lists the valid names.
        """
        self._load()
        entry = self._keys.get(name_key(name))
        if entry is None:
            valid = self.valid_names()
            close = difflib.get_close_matches(name.lower(), valid, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown {self.label} {name!r}{hint}; valid: {', '.join(valid)}")
        return entry


# ------------------------------------------------------------------ shared constraints
#: Constraints many implementations use (declare beside the implementation with these).
ANY = Real()
POSITIVE = Real(0.0, None, "neither")  # > 0
NONNEGATIVE = Real(0.0, None)  # >= 0
UNIT = Real(0.0, 1.0)  # [0, 1]
UNIT_OPEN_RIGHT = Real(0.0, 1.0, "left")  # [0, 1)
DENSITY = Real(0.0, 1.0, "right")  # (0, 1]
POSITIVE_INT = Integer(1)
NONNEGATIVE_INT = Integer(0)

# ------------------------------------------------------------------ the registries
# Each is filled by the @register decorators of the modules it names (imported on first use).
LAYERS = Registry(
    "layer", "layer", ("sprig.activations", "sprig.layers.linear", "sprig.layers.srelu",
                       "sprig.layers.softmax", "sprig.layers.batchnorm", "sprig.layers.dropout")
)  # fmt: skip
LOSSES = Registry("loss", "loss", ("sprig.losses",))
OPTIMIZERS = Registry("optimizer", "optimizer", ("sprig.optimizers",))
SCHEDULES = Registry("schedule", "learning-rate schedule", ("sprig.schedules",))
INITIALIZERS = Registry("init", "initializer", ("sprig.initializers",))
PRUNE = Registry("prune", "prune criterion", ("sprig.sparsity.prune",))
GROW = Registry("grow", "grow criterion", ("sprig.sparsity.grow",))
DST = Registry("dst", "DST algorithm", ("sprig.sparsity.algorithms",))
LOADERS = Registry("loader", "dataset kind", ("sprig.data.loaders",))

#: kind -> registry.
REGISTRIES: dict[str, Registry] = {
    r.kind: r for r in (LAYERS, LOSSES, OPTIMIZERS, SCHEDULES, INITIALIZERS, PRUNE, GROW, DST)
}
#: Registries that are not spec kinds (no spec class; looked up by name only).
OTHER_REGISTRIES: dict[str, Registry] = {LOADERS.kind: LOADERS}


def help_text(kind: str, *, width: int = 100) -> str:
    """One line per entry of a registry, ``signature  doc``, for ``--help`` texts.

    >>> print(help_text("grow").splitlines()[1])
      gradient                                  largest |dense gradient| (RigL)
    """
    import textwrap

    reg = REGISTRIES[kind]
    plural = reg.label[:-2] + "a" if reg.label.endswith("criterion") else reg.label + "s"
    lines = [f"{plural}:"]
    for e in sorted(reg, key=lambda e: e.name):
        sig = e.signature()
        aka = f" (also {', '.join(e.aliases)})" if e.aliases else ""
        text = f"  {sig:<40}  {e.doc}{aka}" if len(sig) <= 40 else f"  {sig}\n{'':44}{e.doc}{aka}"
        lines.extend(
            textwrap.wrap(text, width, subsequent_indent=" " * 44, drop_whitespace=False)
            if "\n" not in text
            else text.split("\n")
        )
    return "\n".join(lines)
