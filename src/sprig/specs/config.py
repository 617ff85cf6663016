r"""``TrainConfig``: every option of ``sprig train`` in one frozen, validated dataclass.

The options mirror Nerva's ``mlp`` tool (reference/nerva.md §6.1; :data:`NERVA_OPTIONS` maps
each Nerva flag to its field) plus sprig's own (DST algorithms, Adam, clipping, early stopping,
checkpoints...). One config comes from any of:

* keywords: ``TrainConfig(layers="ReLU;ReLU;Linear", layer_sizes="784;1024;512;10")``;
* a dict of JSON values or CLI strings: :meth:`TrainConfig.from_dict` (what the CLI and
  checkpoints use; ``-`` in keys is read as ``_``);
* a TOML file of flat ``key = value`` lines: :meth:`TrainConfig.from_toml`.

Every field accepts its typed value *or* the spec-language text (``"Nesterov(0.9)"``,
``"3072;1024;10"``, ``"true"``); construction converts, validates and broadcasts, so the
stored values are always typed and canonical:

* ``densities``, ``dropouts``, ``layer_weights``: one value or one per **linear** layer
  (``layer.is_linear``: every layer except ``batch_norm`` and ``dropout``), stored per linear
  layer; ``optimizers``: one or one per entry of ``layers`` (Nerva: batch-norm layers have an
  optimizer too), stored per layer;
* ``len(layer_sizes) == number of linear layers + 1`` (``len(layers) + 1`` without
  batch-norm/dropout layers).

``to_dict()`` (JSON-able; ``None`` fields omitted) and ``to_toml()`` round-trip:
``TrainConfig.from_dict(c.to_dict()) == c`` and likewise through TOML.

Decisions the builder relies on (see each field's comment):
``densities is None and overall_density is None`` means dense; ``overall_density`` is split
per layer by ``density_method``; ``learning_rate`` is a float or a schedule and
:attr:`TrainConfig.schedule` gives the one effective :class:`ScheduleSpec` (``lr_scheduler``
wins, a float becomes ``constant(lr)``); ``prune`` without ``dst`` means Nerva's prune-and-grow
at the start of every epoch > 0 with ``grow`` (default ``random``) and ``grow_weights``;
``prune``/``grow`` given together with ``dst`` replace that algorithm's criteria.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .grammar import parse_sequence
from .registry import Bool, Choice, Constraint, Integer, Optional, Real, format_value
from .types import (
    DSTSpec,
    GrowSpec,
    InitSpec,
    LayerSpec,
    LossSpec,
    OptimizerSpec,
    PruneSpec,
    ScheduleSpec,
    Spec,
    parse_learning_rate,
    parse_numbers,
)

__all__ = ["NERVA_OPTIONS", "TrainConfig"]

#: Nerva ``mlp`` flag (C++ tool and Python tools) -> TrainConfig field (or how it maps).
NERVA_OPTIONS: dict[str, str] = {
    "--seed": "seed",
    "--layers": "layers",
    "--layer-sizes": "layer_sizes",
    "--densities": "densities",
    "--overall-density": "overall_density (split per layer by density_method, default erk)",
    "--dropouts": "dropouts",
    "--layer-weights": "layer_weights",
    "--epochs": "epochs",
    "--batch-size": "batch_size",
    "--no-shuffle": "no_shuffle",
    "--no-statistics": "no_statistics",
    "--optimizers": "optimizers",
    "--learning-rate": "learning_rate (a number or a schedule spec)",
    "--learning-rate-scheduler": "lr_scheduler",
    "--loss": "loss",
    "--load-weights": "load_weights",
    "--save-weights": "save_weights",
    "--cifar10": "dataset='cifar10', data_dir=<dir>",
    "--mnist": "dataset='mnist', data_dir=<dir>",
    "--dataset": "dataset=<path.npz> (Python tool)",
    "--load-dataset": "dataset=<path.npz>",
    "--save-dataset": "save_dataset",
    "--generate-dataset": "dataset=<checkerboard|mini>, dataset_kind='generated'",
    "--dataset-size": "dataset_size",
    "--normalize": "normalize",
    "--augmented": "augment (Python tool)",
    "--preprocessed": "preprocessed",
    "--precision": "precision",
    "--edgeitems": "edgeitems",
    "--info": "info",
    "--debug": "debug",
    "--verbose": "verbose",
    "--timer": "timer",
    "--prune": "prune",
    "--grow": "grow",
    "--grow-weights": "grow_weights",
    "--computation": "computation (accepted, no effect: sprig has one backend)",
    "--clip": "clip (sprig: gradient-norm clipping; 0 = off)",
    "--threads": "threads",
    "--gradient-step": "gradient_step",
    "--manual": "(ignored: Python tool's DataLoader bypass)",
}


# ------------------------------------------------------------------------------ converters
# Each converter takes a typed value, a JSON value or a CLI string and returns the canonical
# typed value; serializers return the JSON-able form that the converter reads back.


def _one(value: Any, what: str) -> Any:
    """A scalar from a CLI string ("10", "0.5", "true"), else the value itself."""
    if isinstance(value, str):
        nodes = parse_sequence(value)
        if len(nodes) != 1:
            raise ConfigError(f"{what} must be one value, got {value!r}")
        return nodes[0]
    return value


def _scalar(constraint: Constraint) -> Callable[[Any, str], Any]:
    def conv(value: Any, what: str) -> Any:
        return constraint.convert(_one(value, what), what)

    return conv


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | Path) or not str(value):
        raise ConfigError(f"{what} must be a non-empty string, got {value!r}")
    return str(value)


def _choice(*options: str) -> Callable[[Any, str], Any]:
    c = Choice(options)

    def conv(value: Any, what: str) -> str:
        return c.convert(value, what)

    return conv


def _spec(cls: type[Spec], optional: bool = False) -> Callable[[Any, str], Any]:
    def conv(value: Any, what: str) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            if optional and value.strip().lower() == "none" and cls is not InitSpec:
                return None
            return cls.parse(value)
        raise ConfigError(f"{what} must be a {cls.registry().label} spec, got {value!r}")

    return conv


def _specs(cls: type[Spec]) -> Callable[[Any, str], Any]:
    from .types import _parse_many

    def conv(value: Any, what: str) -> tuple[Any, ...]:
        if isinstance(value, cls):
            return (value,)
        if isinstance(value, str):
            return _parse_many(cls, value, what.rstrip("s"))
        if isinstance(value, list | tuple):
            return tuple(_spec(cls)(v, what) for v in value)
        raise ConfigError(f"{what} must be {cls.registry().label} specs, got {value!r}")

    return conv


def _numbers(integer: bool, low: float | None, high: float | None, closed: str = "both") -> Any:
    def conv(value: Any, what: str) -> tuple[Any, ...] | None:
        if value is None:
            return None
        return parse_numbers(value, what, integer=integer, low=low, high=high, closed=closed)

    return conv


def _lr(value: Any, what: str) -> float | ScheduleSpec:
    if isinstance(value, ScheduleSpec):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{what} must be a number or a schedule spec, got {value!r}")
    return parse_learning_rate(value)


def _serialize(value: Any) -> Any:
    if isinstance(value, Spec):
        return str(value)
    if isinstance(value, tuple):
        return [_serialize(v) for v in value]
    return value


@dataclass(frozen=True)
class _Field:
    conv: Callable[[Any, str], Any]
    help: str


_POS_INT = Integer(1)
_NONNEG_INT = Integer(0)
_NONNEG = Real(0.0, None)
_DENSITY = Real(0.0, 1.0, "right")

_NORMALIZATIONS = ("auto", "none", "scale", "minmax", "standardize", "channel")


def _dense_layers(value: Any, what: str) -> tuple[str, ...]:
    """Layers exempted from sparsity: ``first``, ``last`` or linear-layer indices (``none``
    or an empty value: none)."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = [v for v in value.replace(";", ",").split(",") if v.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [value]
    out = []
    for item in items:
        text = str(item).strip().lower()
        if text == "none" and len(items) == 1:
            return ()
        if text not in ("first", "last") and not (text.isdigit() and not isinstance(item, bool)):
            raise ConfigError(
                f"{what} must list 'first', 'last' or linear-layer indices (0, 1, ...), "
                f"got {item!r}"
            )
        out.append(text)
    return tuple(dict.fromkeys(out))


def dense_layer_indices(names: tuple[str, ...], n_linear: int) -> list[int]:
    """Indices of the linear layers named by ``dense_layers``.

    Raises:
        ConfigError: an index outside ``0..n_linear-1``.
    """
    out = set()
    for name in names:
        i = 0 if name == "first" else n_linear - 1 if name == "last" else int(name)
        if not 0 <= i < n_linear:
            raise ConfigError(
                f"dense_layers: index {i} is outside the {n_linear} linear layers "
                f"(0..{n_linear - 1})"
            )
        out.add(i)
    return sorted(out)


def _normalization(value: Any, what: str) -> str:
    """A normalization name; Nerva's bare ``--normalize`` flag (true) means standardize."""
    value = _one(value, what)
    if isinstance(value, bool) or str(value).lower() in ("true", "false"):
        return "standardize" if str(value).lower() == "true" else "none"
    return str(_choice(*_NORMALIZATIONS)(value, what))


#: field name -> converter and one-line help (also the CLI's help text source).
FIELDS: dict[str, _Field] = {
    # model
    "layers": _Field(_specs(LayerSpec), "layer specs, e.g. 'ReLU;ReLU;Linear'"),
    "layer_sizes": _Field(
        _numbers(True, 1, None), "sizes incl. input and output, e.g. '3072;1024;10'"
    ),
    "densities": _Field(_numbers(False, 0.0, 1.0, "right"), "density per linear layer (one = all)"),
    "overall_density": _Field(
        _scalar(Optional(_DENSITY)), "overall density, split by density_method"
    ),
    "density_method": _Field(_choice("erk", "er", "uniform"), "how overall_density is split"),
    "dense_layers": _Field(
        _dense_layers,
        "linear layers kept dense, outside the overall_density budget: first, last, or "
        "indices from 0 (e.g. 'first,last')",
    ),
    "dropouts": _Field(_numbers(False, 0.0, 1.0, "left"), "weight-dropout rate per linear layer"),
    "layer_weights": _Field(_specs(InitSpec), "initializer per linear layer (one = all)"),
    "fan_in": _Field(
        _choice("actual", "dense"),
        "fan-in used by initializers of sparse layers: each row's stored count, or the dense width",
    ),
    "optimizers": _Field(_specs(OptimizerSpec), "optimizer per layer (one = all)"),
    "learning_rate": _Field(_lr, "a number or a schedule spec"),
    "lr_scheduler": _Field(
        _spec(ScheduleSpec, optional=True), "schedule (overrides learning_rate)"
    ),
    "loss": _Field(_spec(LossSpec), "loss spec"),
    "epochs": _Field(_scalar(_POS_INT), "number of epochs"),
    "batch_size": _Field(_scalar(_POS_INT), "examples per batch"),
    "seed": _Field(_scalar(Optional(_NONNEG_INT)), "random seed (none = fresh entropy)"),
    "threads": _Field(_scalar(Optional(_POS_INT)), "number of threads (none = runtime default)"),
    "dtype": _Field(_choice("float32", "float64"), "float32 or float64"),
    # data
    "dataset": _Field(
        _text, "built-in name (mnist, cifar10, digits, checkerboard, mini) or .npz path"
    ),
    "dataset_kind": _Field(
        _choice("auto", "generated", "mnist", "fashion_mnist", "cifar10", "npz", "nerva", "csv"),
        "how to read dataset (auto: by name/suffix; generated: checkerboard or mini)",
    ),
    "data_dir": _Field(_text, "directory holding the raw files of a built-in dataset"),
    "dataset_size": _Field(_scalar(Optional(_POS_INT)), "size of a generated dataset"),
    "train_size": _Field(
        _scalar(Optional(_POS_INT)), "use a (stratified) subset of the training set"
    ),
    "test_size": _Field(_scalar(Optional(_POS_INT)), "use a subset of the test set"),
    "normalize": _Field(
        _normalization,
        "none|scale|minmax|standardize|channel|auto (auto: scale to [0, 1] for grayscale "
        "images, channel for colour images, else standardize; the run records what it chose)",
    ),
    "augment": _Field(_scalar(Bool()), "augment images each epoch (crop + flip)"),
    "preprocessed": _Field(_text, "directory of per-epoch epoch<k>.npz files"),
    "save_dataset": _Field(_text, "write the dataset to this .npz"),
    # sparsity / dynamic sparse training
    "dst": _Field(_spec(DSTSpec, optional=True), "DST algorithm, e.g. 'RigL(0.3, every=100)'"),
    "prune": _Field(_spec(PruneSpec, optional=True), "prune criterion (Nerva: every epoch > 0)"),
    "grow": _Field(_spec(GrowSpec, optional=True), "grow criterion (none = random)"),
    "grow_weights": _Field(_spec(InitSpec), "initializer of grown weights"),
    "init_pruning": _Field(
        lambda v, w: None if v is None else _choice("random", "snip", "grasp", "synflow")(v, w),
        "choose the initial sparse topology by pruning a dense init: random|snip|grasp|synflow",
    ),
    "post_pruning": _Field(
        lambda v, w: None if v is None else _choice("magnitude", "wanda")(v, w),
        "prune the loaded trained dense weights to the densities: magnitude|wanda (SEFT)",
    ),
    # model trees: a shared trunk with several heads (NeuroTrails)
    "heads": _Field(
        _scalar(_POS_INT),
        "heads sharing one trunk; each head is an independently initialised copy of the "
        "last head_blocks blocks (1 = a plain network)",
    ),
    "head_blocks": _Field(
        _scalar(_POS_INT), "blocks (a linear-type layer with what follows it) in each head"
    ),
    "heads_loss": _Field(_choice("mean", "sum"), "combine the heads' losses by mean or sum"),
    # training
    "validation_split": _Field(
        _scalar(Real(0.0, 1.0, "left")),
        "hold out this fraction of the training set for validation; best epoch and early "
        "stopping then use it, never the test set (0 = none)",
    ),
    "micro_batches": _Field(
        _scalar(_POS_INT), "accumulate gradients over this many chunks of each batch"
    ),
    "clip": _Field(_scalar(_NONNEG), "clip the global gradient norm to this (0 = off)"),
    "density_lr_power": _Field(
        _scalar(_NONNEG), "SMET density-aware lr: sparse weights use lr·density^(−p) (0 = off)"
    ),
    "weight_decay": _Field(
        _scalar(_NONNEG), "L2 penalty for every optimizer whose own weight_decay is 0"
    ),
    "patience": _Field(_scalar(Optional(_POS_INT)), "early stopping after this many bad epochs"),
    "keep_best": _Field(_scalar(Bool()), "restore the best weights at the end"),
    "checkpoint_every": _Field(_scalar(_NONNEG_INT), "checkpoint every k epochs (0 = never)"),
    "run_dir": _Field(_text, "directory for logs, checkpoints and the config"),
    "no_shuffle": _Field(_scalar(Bool()), "do not shuffle the training set"),
    "drop_last": _Field(_scalar(Bool()), "drop the last incomplete batch (Nerva does)"),
    "load_weights": _Field(_text, "load W1.., b1.. from this .npz"),
    "save_weights": _Field(_text, "save W1.., b1.. to this .npz"),
    # output / diagnostics
    "no_statistics": _Field(_scalar(Bool()), "skip per-epoch loss/accuracy"),
    "precision": _Field(_scalar(_NONNEG_INT), "digits when printing numbers"),
    "edgeitems": _Field(_scalar(_NONNEG_INT), "items per edge when printing arrays"),
    "info": _Field(_scalar(Bool()), "print dataset and model before and after"),
    "debug": _Field(_scalar(Bool()), "print batches and parameters each step"),
    "verbose": _Field(_scalar(Bool()), "more output"),
    "timer": _Field(_choice("disabled", "brief", "full"), "timing report"),
    "computation": _Field(
        lambda v, w: None if v is None else Choice(("eigen", "mkl", "blas", "sycl")).convert(v, w),
        "Nerva backend (accepted, no effect)",
    ),
    "gradient_step": _Field(_scalar(_NONNEG), "finite-difference gradient check step (0 = off)"),
}


@dataclass(frozen=True)
class TrainConfig:
    """All options of one training run (see the module docstring for the conventions)."""

    # model
    layers: tuple[LayerSpec, ...]
    layer_sizes: tuple[int, ...]
    densities: tuple[float, ...] | None = None  # explicit, per linear layer
    overall_density: float | None = None  # None and densities None: dense
    density_method: str = "erk"
    dense_layers: tuple[str, ...] = ()  # "first", "last" or linear-layer indices
    dropouts: tuple[float, ...] = (0.0,)  # per linear layer (Nerva's weight dropout)
    layer_weights: tuple[InitSpec, ...] = (InitSpec("xavier"),)  # per linear layer
    fan_in: str = "actual"  # sparse layers: scale initial weights by each row's stored count
    optimizers: tuple[OptimizerSpec, ...] = (OptimizerSpec("sgd"),)  # per layer
    learning_rate: float | ScheduleSpec = 0.01
    lr_scheduler: ScheduleSpec | None = None
    loss: LossSpec = LossSpec("softmax_cross_entropy")  # noqa: RUF009  (Nerva: squared_error)
    epochs: int = 100
    batch_size: int = 100  # Nerva's default is 1
    seed: int | None = None
    threads: int | None = None
    dtype: str = "float32"
    # data
    dataset: str | None = None
    dataset_kind: str = "auto"
    data_dir: str | None = None
    dataset_size: int | None = None
    train_size: int | None = None
    test_size: int | None = None
    normalize: str = "auto"
    augment: bool = False
    preprocessed: str | None = None
    save_dataset: str | None = None
    # sparsity / dynamic sparse training
    dst: DSTSpec | None = None
    prune: PruneSpec | None = None
    grow: GrowSpec | None = None
    grow_weights: InitSpec = InitSpec("xavier")  # noqa: RUF009 (frozen, hashable)
    init_pruning: str | None = None
    post_pruning: str | None = None
    # model trees
    heads: int = 1
    head_blocks: int = 1
    heads_loss: str = "mean"
    # training
    validation_split: float = 0.0
    micro_batches: int = 1
    clip: float = 0.0
    density_lr_power: float = 0.0
    weight_decay: float = 0.0
    patience: int | None = None
    keep_best: bool = False
    checkpoint_every: int = 0
    run_dir: str | None = None
    no_shuffle: bool = False
    drop_last: bool = False
    load_weights: str | None = None
    save_weights: str | None = None
    # output / diagnostics
    no_statistics: bool = False
    precision: int = 4
    edgeitems: int = 3
    info: bool = False
    debug: bool = False
    verbose: bool = False
    timer: str = "disabled"
    computation: str | None = None
    gradient_step: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = FIELDS[f.name].conv(getattr(self, f.name), f.name)
            object.__setattr__(self, f.name, value)
        self._validate()

    # -- cross-field validation and broadcasting
    def _validate(self) -> None:

        def set_(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if not self.layers:
            raise ConfigError("layers must name at least one layer")
        n_linear = sum(layer.is_linear for layer in self.layers)
        if n_linear == 0:
            raise ConfigError(
                "layers must contain a linear-type layer (e.g. 'Linear'), got only "
                + ";".join(str(x) for x in self.layers)
            )
        if len(self.layer_sizes) != n_linear + 1:
            extra = "" if n_linear == len(self.layers) else " (batch_norm and dropout consume none)"
            raise ConfigError(
                f"layer_sizes must have {n_linear + 1} values (one more than the {n_linear} linear "
                f"layers{extra}), got {len(self.layer_sizes)}: "
                f"layers={';'.join(str(x) for x in self.layers)}, "
                f"layer_sizes={';'.join(map(str, self.layer_sizes))}"
            )
        if self.densities is not None and self.overall_density is not None:
            raise ConfigError("give densities or overall_density, not both")

        def broadcast(name: str, values: tuple[Any, ...], n: int, per: str) -> None:
            if len(values) == 1:
                set_(name, values * n)
            elif len(values) != n:
                raise ConfigError(
                    f"{name} must have 1 value or one per {per} ({n}), got {len(values)}: "
                    + ";".join(format_value(v) for v in values)
                )

        if self.densities is not None:
            broadcast("densities", self.densities, n_linear, "linear layer")
        broadcast("dropouts", self.dropouts, n_linear, "linear layer")
        broadcast("layer_weights", self.layer_weights, n_linear, "linear layer")
        if self.heads > 1 and self.head_blocks > n_linear:
            raise ConfigError(
                f"head_blocks must be at most the {n_linear} linear-type layers, "
                f"got {self.head_blocks}"
            )
        broadcast("optimizers", self.optimizers, len(self.layers), "layer")
        if isinstance(self.learning_rate, ScheduleSpec) and self.lr_scheduler is not None:
            raise ConfigError("give a schedule in learning_rate or in lr_scheduler, not both")
        if self.augment and self.preprocessed is not None:
            raise ConfigError(
                "augment and preprocessed exclude each other (preprocessed data "
                "is already augmented)"
            )
        if self.grow is not None and self.prune is None and self.dst is None:
            raise ConfigError(f"grow={self.grow} needs prune or dst")

    # -- derived values
    @property
    def num_linear_layers(self) -> int:
        """Layers that are a linear map (+ activation); ``len(layer_sizes) - 1``."""
        return len(self.layer_sizes) - 1

    @property
    def schedule(self) -> ScheduleSpec:
        """The effective schedule: ``lr_scheduler``, else ``learning_rate`` as a schedule."""
        if self.lr_scheduler is not None:
            return self.lr_scheduler
        if isinstance(self.learning_rate, ScheduleSpec):
            return self.learning_rate
        return ScheduleSpec("constant", lr=self.learning_rate)

    # -- dict / TOML
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field that is not ``None`` (specs as canonical text)."""
        out: dict[str, Any] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = _serialize(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "") -> TrainConfig:
        """Build from a dict (JSON values or CLI strings; ``-`` in keys means ``_``).

        Raises:
            ConfigError: unknown or missing keys (the message lists the valid ones), or an
                invalid value.
        """
        where = f"{source}: " if source else ""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{where}config must be a table of options, got {type(data).__name__}"
            )
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = str(key).replace("-", "_")
            if name not in FIELDS:
                close = difflib.get_close_matches(name, list(FIELDS), n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"{where}unknown option {key!r}{hint}; valid: {', '.join(sorted(FIELDS))}"
                )
            if name in kwargs:
                raise ConfigError(f"{where}option {name!r} given twice")
            kwargs[name] = value
        missing = [n for n in ("layers", "layer_sizes") if n not in kwargs]
        if missing:
            raise ConfigError(f"{where}missing required option(s): {', '.join(missing)}")
        try:
            return cls(**kwargs)
        except ConfigError as err:
            raise ConfigError(f"{where}{err}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        """Read a flat TOML file of ``key = value`` options."""
        path = Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: invalid TOML: {err}") from None
        return cls.from_dict(data, source=str(path))

    def to_toml(self) -> str:
        """Flat TOML text that :meth:`from_toml` reads back to an equal config."""
        lines = ["# sprig train configuration"]
        for key, value in self.to_dict().items():
            lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"

    def write_toml(self, path: str | Path) -> None:
        """Write :meth:`to_toml` to ``path``."""
        Path(path).write_text(self.to_toml(), encoding="utf-8")


def _toml_string(text: str) -> str:
    """A TOML basic string: escape quote, backslash and control characters only."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # "inf"/"nan" never occur: every float field is finite
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")
