"""``python -m sprig.neurotrails``: train NeuroTrails (or a baseline) on a sprig MLP backbone.

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
import os
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from ..errors import SprigError
from .algorithm import PRUNE_RULES
from .models import METHODS, Recipe, run


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sprig.neurotrails",
        description="NeuroTrails: sparse multi-head ensembles (reference/dst.md §5.3).",
    )
    add = p.add_argument
    add("--config", help="TOML file with any of these options")
    add("--data", help="dataset name (digits, fashion_mnist...) or path")
    add("--data-root", help="folder of named datasets (default $SPRIG_DATA)")
    add("--layers", help='Nerva layer spec, e.g. "ReLU;ReLU;Linear"')
    add("--sizes", help="layer sizes, e.g. 784,256,256,10")
    add("--method", choices=METHODS)
    add("--heads", type=int, help="number of heads M (default 3)")
    add("--head-blocks", type=int, help="blocks per head k (default 1)")
    add("--density", type=float, help="overall density of the tree (default 0.2)")
    add("--distribution", choices=("erk", "er", "uniform"))
    add("--combine", choices=("mean", "sum"), help="heads' losses (default: the method's)")
    add("--epochs", type=int)
    add("--batch-size", type=int)
    add("--lr", type=float)
    add("--momentum", type=float)
    add("--prune", choices=PRUNE_RULES)
    add("--temperature", type=float)
    add("--drop-rate", type=float)
    add("--every", type=int, help="DST update interval in optimizer steps")
    add("--train-subset", type=int)
    add("--test-subset", type=int)
    add("--normalize", help="standardize (default), scale, none...")
    add("--seed", type=int)
    add("--out", help="write the metrics as JSON here")
    return p


DEFAULTS: dict[str, Any] = {
    "data": "digits", "data_root": None, "layers": "ReLU;ReLU;Linear", "sizes": None,
    "method": "neurotrails", "heads": 3, "head_blocks": 1, "density": 0.2,
    "distribution": "erk", "combine": None, "epochs": 10, "batch_size": 64, "lr": 0.05,
    "momentum": 0.9, "prune": "magnitude", "temperature": 3.0, "drop_rate": 0.5, "every": 100,
    "train_subset": None, "test_subset": None, "normalize": "standardize", "seed": 0, "out": None,
}  # fmt: skip


def _options(argv: list[str] | None) -> dict[str, Any]:
    p = _parser()
    ns = vars(p.parse_args(argv))
    opts = dict(DEFAULTS)
    path = ns.pop("config")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SprigError(f"cannot read config {path!r}: {e}") from None
        data = data.get("neurotrails", data)
        unknown = sorted(set(data) - set(DEFAULTS))
        if unknown:
            raise SprigError(f"unknown config keys {unknown}; allowed: {sorted(DEFAULTS)}")
        opts.update(data)
    opts.update({k: v for k, v in ns.items() if v is not None})
    return opts


def _sizes(text: Any) -> list[int]:
    if isinstance(text, list):
        return [int(x) for x in text]
    try:
        return [int(x) for x in str(text).split(",")]
    except ValueError:
        raise SprigError(f"sizes must be comma-separated integers, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    from ..data.loaders import load_dataset
    from ..data.normalization import normalize

    try:
        o = _options(argv)
        data = load_dataset(o["data"], root=o["data_root"])
        if o["train_subset"] or o["test_subset"]:
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
            recipe=recipe, seed=o["seed"], combine=o["combine"],
        )  # fmt: skip
    except (SprigError, ValueError) as e:
        print(f"sprig: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
              file=sys.stderr)  # fmt: skip
        return 2
    text = json.dumps(result, indent=1)
    print(text)
    if o["out"]:
        out = Path(o["out"])
        fd, tmp = tempfile.mkstemp(dir=out.parent or ".", prefix=".nt-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            fh.write(text + "\n")
        os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
