"""``python -m sprig.neurotrails`` (and ``sprig neurotrails``): train NeuroTrails (or a
baseline) on a sprig MLP backbone.

Options may also come from a TOML file (``--config run.toml``; keys are the long option names
with ``_`` for ``-``, at the top level or in a ``[neurotrails]`` table; the command line wins)::

    python -m sprig.neurotrails --data fashion_mnist --layers "ReLU;ReLU;ReLU;Linear" \\
        --sizes 784,256,256,256,10 --heads 3 --head-blocks 2 --density 0.1 --epochs 10

prints the metrics (accuracy, NLL, ECE, disagreement, parameters, FLOPs) as JSON and writes them
to ``--out`` (atomically). Bad input ends with one ``sprig: error: ...`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Callable
from typing import Any

from ..errors import SprigError
from .algorithm import PRUNE_RULES
from .models import METHODS, Recipe, run

#: Every option: ``name -> (default, kind, help)``; ``kind`` is a type or a tuple of choices.
OPTIONS: dict[str, tuple[Any, Any, str]] = {
    "data": ("digits", str, "dataset name (digits, fashion_mnist...) or path"),
    "data_root": (None, str, "folder of named datasets (default $SPRIG_DATA)"),
    "layers": ("ReLU;ReLU;Linear", str, 'Nerva layer spec of the backbone ("ReLU;ReLU;Linear")'),
    "sizes": (None, str, "layer sizes, e.g. 784,256,256,10 (default: 128-wide hidden layers)"),
    "method": ("neurotrails", METHODS, "the method or a baseline"),
    "heads": (3, int, "number of heads M"),
    "head_blocks": (1, int, "blocks per head k (1 = only the classifier; B = no shared trunk)"),
    "density": (0.2, float, "overall density of the tree (ERK over trunk and heads)"),
    "distribution": ("erk", ("erk", "er", "uniform"), "how the density is split over layers"),
    "combine": (None, ("mean", "sum"), "heads' losses (default: the method's)"),
    "init": (None, str, "initializer of the linear layers, e.g. He (default: Nerva's Xavier)"),
    "epochs": (10, int, "training epochs"),
    "batch_size": (64, int, "batch size"),
    "lr": (0.05, float, "peak learning rate (cosine decay)"),
    "momentum": (0.9, float, "SGD momentum"),
    "prune": ("magnitude", PRUNE_RULES, "DST prune rule"),
    "temperature": (3.0, float, "soft-magnitude temperature"),
    "drop_rate": (0.5, float, "initial DST drop rate (cosine-decayed)"),
    "every": (100, int, "DST update interval in optimizer steps"),
    "train_subset": (None, int, "use this many training rows (stratified)"),
    "test_subset": (None, int, "use this many test rows (stratified)"),
    "normalize": ("standardize", str, "standardize (default), scale, none..."),
    "seed": (0, int, "random seed"),
    "out": (None, str, "write the metrics as JSON here (atomically)"),
}
#: Defaults of every option.
DEFAULTS: dict[str, Any] = {name: spec[0] for name, spec in OPTIONS.items()}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--config`` and every option of :data:`OPTIONS` (as strings, checked later)."""
    p.add_argument("--config", help="TOML file with any of these options")
    for name, (default, kind, text) in OPTIONS.items():
        shown = f"{text} (default {default})" if default is not None else text
        if isinstance(kind, tuple):
            shown += f"; one of {', '.join(kind)}"
        p.add_argument("--" + name.replace("_", "-"), dest=name, metavar="VALUE", help=shown)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sprig.neurotrails",
        description="NeuroTrails: sparse multi-head ensembles (reference/dst.md §5.3).",
    )
    add_arguments(p)
    return p


def _convert(name: str, value: Any) -> Any:
    """``value`` of option ``name`` as its kind, or a one-line :class:`SprigError`."""
    kind = OPTIONS[name][1]
    flag = "--" + name.replace("_", "-")
    if isinstance(kind, tuple):
        if value not in kind:
            raise SprigError(f"{flag} must be one of {', '.join(kind)}, got {value!r}")
        return value
    if kind is str:
        if name == "sizes" and isinstance(value, list):
            return value
        if not isinstance(value, str):
            raise SprigError(f"{flag} must be a string, got {value!r}")
        return value
    what = "an integer" if kind is int else "a number"
    if isinstance(value, bool):
        raise SprigError(f"{flag} must be {what}, got {value!r}")
    try:
        if kind is int and not isinstance(value, str | int):
            raise TypeError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise SprigError(f"{flag} must be {what}, got {value!r}") from None


def options(given: dict[str, Any]) -> dict[str, Any]:
    """The run's options: :data:`DEFAULTS`, then ``given["config"]``'s keys, then the other
    keys of ``given`` that are not ``None`` (e.g. ``vars()`` of parsed arguments), converted
    and checked."""
    given = dict(given)
    opts = dict(DEFAULTS)
    path = given.pop("config", None)
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SprigError(f"cannot read config {str(path)!r}: {e}") from None
        data = data.get("neurotrails", data)
        unknown = sorted(set(data) - set(DEFAULTS))
        if unknown:
            raise SprigError(f"unknown config keys {unknown}; allowed: {sorted(DEFAULTS)}")
        opts.update({k: _convert(k, v) for k, v in data.items()})
    opts.update({k: _convert(k, v) for k, v in given.items() if k in OPTIONS and v is not None})
    return opts


def _sizes(text: Any) -> list[int]:
    if isinstance(text, list):
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in text):
            raise SprigError(f"sizes must be integers, got {text!r}")
        return list(text)
    try:
        return [int(x) for x in str(text).split(",")]
    except ValueError:
        raise SprigError(f"sizes must be comma-separated integers, got {text!r}") from None


def execute(o: dict[str, Any], echo: Callable[[str], Any] = print) -> dict[str, Any]:
    """Load the data, train and evaluate as the options ``o`` (:func:`options`) say; print the
    metrics to ``o["out"]`` if given, print them as JSON with ``echo`` and return them.

    Raises:
        SprigError: on bad input (one line).
    """
    from ..data.loaders import load_dataset
    from ..data.normalization import normalize
    from ..io import atomic_write

    try:
        data = load_dataset(o["data"], root=o["data_root"])
        if o["train_subset"] is not None or o["test_subset"] is not None:
            data = data.subset(o["train_subset"], o["test_subset"], seed=o["seed"])
        if o["normalize"] != "none":
            data = normalize(data, o["normalize"])[0]
        n_layers = len([s for s in str(o["layers"]).split(";") if s.strip()])
        if o["sizes"] is None:
            hidden = [128] * (n_layers - 1)
            sizes = [data.x_train.shape[1], *hidden, data.num_classes]
        else:
            sizes = _sizes(o["sizes"])
        recipe = Recipe(
            epochs=o["epochs"], batch_size=o["batch_size"], lr=o["lr"], momentum=o["momentum"],
            prune=o["prune"], temperature=o["temperature"], drop_rate=o["drop_rate"],
            every=o["every"],
        )  # fmt: skip
        result = run(
            data, o["layers"], sizes, method=o["method"], heads=o["heads"],
            head_blocks=o["head_blocks"], density=o["density"], distribution=o["distribution"],
            recipe=recipe, seed=o["seed"], combine=o["combine"], init=o["init"],
        )  # fmt: skip
    except (SprigError, ValueError) as e:
        raise SprigError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    text = json.dumps(result, indent=1)
    if o["out"]:
        try:
            atomic_write(o["out"], lambda f: f.write((text + "\n").encode()))
        except OSError as e:
            raise SprigError(f"cannot write {o['out']!r}: {e.strerror or e}") from None
    echo(text)
    return result


def main(argv: list[str] | None = None) -> int:
    try:
        execute(options(vars(_parser().parse_args(argv))))
    except SprigError as e:
        print(f"sprig: error: {str(e).splitlines()[0] if str(e) else 'bad input'}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
