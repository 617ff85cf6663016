"""``sprig info``, ``sprig evaluate``, ``sprig plot`` and ``sprig export``: look at runs.

Each command takes a *source*: a run directory (``RUN_DIR/checkpoint.npz`` if present, else
``RUN_DIR/weights.npz``), a checkpoint (``sprig-checkpoint-1``), a weights file
(``sprig-weights-1``) or, where only the arrays matter, a Nerva ``W1, b1, …`` file. The
network is rebuilt from the configuration stored with it (the checkpoint's metadata, else
``config.toml`` beside the file, else ``--config``) and the weights are loaded on top, with
every check of :meth:`sprig.models.mlp.MLP.load_state_dict`. Nothing here writes to a source:
the only file written is ``export``'s output and ``plot``'s PNGs.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, ConfigError, DataError

CHECKPOINT = "checkpoint.npz"
WEIGHTS = "weights.npz"


# ------------------------------------------------------------------------------ sources


@dataclass
class Source:
    """What a path given on the command line holds."""

    path: Path  # the file read
    kind: str  # "checkpoint", "weights" or "nerva"
    state: dict[str, Any]  # model state_dict (sprig) or W1, b1, … (nerva)
    meta: dict[str, Any]
    run_dir: Path | None  # the run directory the file belongs to, if any
    config: Any  # TrainConfig or None
    config_from: str | None  # where the config came from

    @property
    def history(self) -> list[dict[str, Any]]:
        hist = self.meta.get("history") if self.kind == "checkpoint" else None
        if isinstance(hist, list) and hist:
            return [r for r in hist if isinstance(r, dict)]
        if self.run_dir is not None and (self.run_dir / "metrics.jsonl").is_file():
            from ..plotting import read_metrics

            try:
                return read_metrics(self.run_dir / "metrics.jsonl")
            except DataError:
                return []
        return []


def load_source(path: str | Path, *, config: str | Path | None = None) -> Source:
    """Read a run directory, checkpoint, weights file or Nerva weights file.

    Raises:
        CheckpointError: missing, empty, corrupt, or none of the known formats.
        ConfigError: the stored configuration is invalid.
    """
    from ..io import load_npz
    from ..models.model import WEIGHTS_FORMATS
    from ..specs.config import TrainConfig
    from ..training.checkpoint import FORMATS, model_state_of

    p = Path(path)
    run_dir: Path | None = None
    if p.is_dir():
        run_dir = p
        for name in (CHECKPOINT, WEIGHTS):
            if (p / name).is_file():
                p = p / name
                break
        else:
            raise CheckpointError(f"run directory {run_dir} has neither {CHECKPOINT} nor {WEIGHTS}")
    elif not p.exists():
        raise CheckpointError(f"no such checkpoint, weights file or run directory: {p}")
    arrays, meta = load_npz(p, what="checkpoint or weights file")
    meta = meta if isinstance(meta, dict) else {}
    fmt = meta.get("format")
    if fmt in FORMATS:
        kind = "checkpoint"
        state = model_state_of(arrays)
        if not state:
            raise CheckpointError(f"checkpoint {p} holds no model weights")
    elif fmt in WEIGHTS_FORMATS:
        kind, state = "weights", arrays
    elif "W1" in arrays:
        kind, state = "nerva", arrays
    else:
        raise CheckpointError(
            f"{p} is neither a sprig checkpoint, a sprig weights file nor Nerva's W1, b1, … layout"
        )
    if kind != "nerva":
        from ..io import check_state_arrays

        check_state_arrays(state, str(p))
    if kind == "checkpoint":
        from ..training.checkpoint import check_meta

        check_meta(meta, p)  # counters and metadata must be valid too
    for key, value in state.items():
        a = np.asarray(value)
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise CheckpointError(f"{p}: {key} contains NaN or infinite values")
    if run_dir is None and (p.parent / "config.toml").is_file():
        run_dir = p.parent
    cfg = None
    cfg_from = None
    if config is not None:
        cfg, cfg_from = TrainConfig.from_toml(config), str(config)
    elif kind == "checkpoint" and isinstance(meta.get("config"), dict):
        cfg = TrainConfig.from_dict(meta["config"], source=f"{p} (stored config)")
        cfg_from = f"{p} (stored config)"
    elif run_dir is not None and (run_dir / "config.toml").is_file():
        cfg, cfg_from = TrainConfig.from_toml(run_dir / "config.toml"), str(run_dir / "config.toml")
    return Source(p, kind, state, meta, run_dir, cfg, cfg_from)


def build_model(config: Any) -> Any:
    """A freshly initialised network of ``config``, built as ``sprig train`` builds it."""
    from ..training.assemble import build_model as assemble_model

    return assemble_model(config)


def rebuild_model(config: Any, state: Mapping[str, Any]) -> Any:
    """The network of ``config`` with ``state`` (a sprig state dict) loaded.

    Layers are built as ``sprig train`` builds them; an affine layer is sparse or dense as
    stored, whatever its configured density (dense-to-sparse algorithms change that).

    Raises:
        CheckpointError: the weights do not fit the configured architecture.
    """
    from ..models.mlp import MLP
    from ..training.checkpoint import match_stored_kinds

    built = build_model(config)
    # a model tree (heads) has its layers' kinds fixed by the config
    model = MLP(match_stored_kinds(list(built.net), state)) if isinstance(built, MLP) else built
    model.load_state_dict(state)
    return model


def linear_only_model(state: Mapping[str, Any]) -> Any:
    """A model of just the affine layers of a sprig state dict (for ``export`` with no
    configuration; activations do not enter Nerva's layout)."""
    from ..training.checkpoint import linear_model_from_state

    return linear_model_from_state(state)


def model_of(src: Source, *, need_config: str | None = None) -> Any:
    """The network of a source: rebuilt from its config, or (for ``need_config=None``) the
    bare affine layers when no config is known.

    Raises:
        ConfigError: ``need_config`` names the command that cannot work without one.
    """
    if src.kind == "nerva":
        if src.config is None:
            raise ConfigError(
                f"{src.path} is a Nerva weights file; give --config CONFIG.toml to describe "
                "its network"
            )
        from ..models.nerva_io import load_nerva_weights

        model = build_model(src.config)
        load_nerva_weights(model, src.path)
        return model
    if src.config is not None:
        model = rebuild_model(src.config, src.state)
        # the file's recorded architecture (layers, widths, activations) must be this one
        model.check_architecture(src.meta.get("architecture"), str(src.path))
        return model
    if need_config:
        raise ConfigError(
            f"{need_config} needs the run's configuration: {src.path} stores none and there is "
            "no config.toml beside it; pass --config CONFIG.toml"
        )
    return linear_only_model(src.state)


# ------------------------------------------------------------------------------ info


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _array_table(state: Mapping[str, Any], kind: str) -> tuple[list[str], int, int]:
    """Per-layer lines for weights without a config: shapes, nnz, density."""
    lines = []
    params = nbytes = 0
    for arr in state.values():
        nbytes += int(np.asarray(arr).nbytes)
    if kind == "nerva":
        k = 1
        while f"W{k}" in state:
            W = np.asarray(state[f"W{k}"])
            b = np.asarray(state.get(f"b{k}", np.zeros(0)))
            nnz = int(np.count_nonzero(W))
            params += nnz + b.size
            lines.append(
                f"W{k}  shape {'x'.join(map(str, W.shape))}  nnz {nnz}  "
                f"density {nnz / max(W.size, 1):.4%}  b{k} {b.size}"
            )
            k += 1
        return lines, params, nbytes
    from ..training.checkpoint import stored_linear_layers

    stored = stored_linear_layers(state)
    for i, layer in stored.items():
        dense = max(int(np.prod(layer.shape)), 1)
        params += layer.nnz + layer.bias
        lines.append(
            f"layer {i}  {layer.kind}  shape {'x'.join(map(str, layer.shape))}  nnz "
            f"{layer.nnz}  density {layer.nnz / dense:.4%}  bias {layer.bias}"
        )
    known = {k for layer in stored.values() for k in layer.keys}
    for key in sorted(k for k in state if k not in known):
        a = np.asarray(state[key])
        lines.append(f"{key}  shape {a.shape}  dtype {a.dtype}")
    return lines, params, nbytes


def cmd_info(args: argparse.Namespace) -> int:
    src = load_source(args.path, config=args.config)
    what = {
        "checkpoint": "sprig checkpoint",
        "weights": "sprig weights file",
        "nerva": "Nerva weights file (W1, b1, …)",
    }[src.kind]
    print(f"file: {src.path} ({what})")
    if src.run_dir is not None:
        print(f"run directory: {src.run_dir}")
    cfg = src.config
    if cfg is not None:
        print(f"config: {src.config_from}")
        print(
            f"architecture: layers {';'.join(str(s) for s in cfg.layers)}; "
            f"sizes {';'.join(map(str, cfg.layer_sizes))}; loss {cfg.loss}; "
            f"optimizers {';'.join(dict.fromkeys(str(o) for o in cfg.optimizers))}; "
            f"dst {cfg.dst if cfg.dst is not None else 'none'}; dataset "
            f"{cfg.dataset or 'digits'}"
        )
    if cfg is not None:
        model = model_of(src)
        print(model.summary())
        c = model.count()
        print(
            f"parameters: {c['parameters']}; stored weights: {c['weights_nnz']} of "
            f"{c['weights_dense']} (density {c['weights_nnz'] / c['weights_dense']:.6g}); "
            f"memory: {c['bytes']} bytes"
        )
        for path, layer in model.affine_modules().items():
            dense = layer.in_features * layer.out_features
            print(f"layer {path}: nnz {layer.nnz} density {layer.nnz / dense:.6g}")
    else:
        if src.kind != "nerva":
            linear_only_model(src.state)  # validates the arrays (shapes, topology)
        lines, params, nbytes = _array_table(src.state, src.kind)
        print("architecture: unknown (no config stored; pass --config); arrays per layer:")
        print("\n".join(lines))
        print(f"parameters: {params}; memory: {nbytes} bytes")
    if src.kind == "checkpoint":
        m = src.meta
        print(
            f"epoch: {m.get('epoch')}/{m.get('epochs')}; step: {m.get('step')}; "
            f"batch in epoch: {m.get('batch_in_epoch')}"
        )
    hist = src.history
    if hist:
        last = hist[-1]
        items = [
            f"{k} {_fmt(v)}"
            for k, v in last.items()
            if isinstance(v, int | float) and not k.startswith("time_")
        ]
        print("last metrics: " + "; ".join(items))
    return 0


# ------------------------------------------------------------------------------ evaluate


def _positive_int(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{what} must be a positive integer, got {text!r}") from None
    if value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {text!r}")
    return value


def _load_normalization(src: Source, data: Any, config: Any) -> Any:
    from ..data.normalization import Normalization

    if src.run_dir is not None and (src.run_dir / "normalization.json").is_file():
        path = src.run_dir / "normalization.json"
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path} is not valid JSON ({e})") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{path} must hold a JSON object, got {type(record).__name__}")
        return Normalization.from_dict(record)
    # no record: refit as `sprig train` does (same data and subset give the same numbers)
    from ..training.assemble import fit_normalization

    return fit_normalization(config, data)


def _evaluation_data(args: argparse.Namespace, config: Any) -> tuple[Any, str]:
    from ..data.generated import generate
    from ..data.loaders import load_dataset

    test_size = (
        None if args.test_size in (None, "all") else _positive_int(args.test_size, "--test-size")
    )
    if args.data is None:
        from ..training.assemble import load_data

        name = config.dataset or "digits"
        try:  # the very test set of the run, unless --test-size asks for another
            data = load_data(config, data_dir=args.data_dir, subset=args.test_size is None)
        except ConfigError as e:
            raise DataError(f"cannot rebuild the run's data: {e}") from None
        if test_size is not None:
            data = data.subset(None, test_size, seed=config.seed or 0)
        return data, name
    kind = args.kind if args.kind not in (None, "auto") else None
    if args.data in ("checkerboard", "mini") or args.kind == "generated":
        data = generate(args.data, config.dataset_size or 2000, seed=config.seed or 0)
    else:
        data = load_dataset(args.data, kind=kind, root=args.data_dir)
    if test_size is not None:
        data = data.subset(None, test_size, seed=config.seed or 0)
    return data, args.data


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..training.build import build_loss
    from ..training.loop import evaluate

    batch_size = _positive_int(args.batch_size, "--batch-size") or 1024
    src = load_source(args.path, config=args.config)
    model = model_of(src, need_config="sprig evaluate")
    config = src.config
    data, name = _evaluation_data(args, config)
    if data.num_features != model.in_features:
        raise DataError(
            f"dataset {name!r} has {data.num_features} features but the network "
            f"expects {model.in_features}"
        )
    if data.num_classes > model.output_features:
        raise DataError(
            f"dataset {name!r} has {data.num_classes} classes but the network has "
            f"{model.output_features} outputs"
        )
    if len(data.y_test) == 0:
        raise DataError(f"dataset {name!r} has an empty test split")
    norm = _load_normalization(src, data, config)
    x_test = norm.apply(data.x_test, dtype=model.dtype) if norm.method != "none" else data.x_test
    result = evaluate(model, x_test, data.y_test, build_loss(config.loss), batch_size=batch_size)
    if not (math.isfinite(result["loss"]) and math.isfinite(result["accuracy"])):
        raise DataError(f"evaluation of {src.path} on {name!r} gave a non-finite loss")
    print(
        f"evaluated {src.path} on the test split of {name} ({len(data.y_test)} samples, "
        f"normalization {norm.method})"
    )
    print(f"test_loss: {result['loss']:.6f}")
    print(f"test_accuracy: {result['accuracy']:.6f}")
    return 0


# ------------------------------------------------------------------------------ plot


def _run_rows(run_dir: Path) -> list[dict[str, Any]]:
    from .. import plotting

    if not run_dir.is_dir():
        raise DataError(f"run directory {run_dir} does not exist")
    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file():
        raise DataError(f"{run_dir} has no metrics.jsonl (is it a sprig run directory?)")
    rows = plotting.read_metrics(metrics)
    if not rows:
        raise DataError(f"{metrics} holds no epochs yet")
    return rows


def cmd_plot(args: argparse.Namespace) -> int:
    from .. import plotting

    dirs = [Path(d) for d in args.run_dir]
    plotting.require_matplotlib()
    runs = {str(d): _run_rows(d) for d in dirs}
    if len(runs) != len(dirs):
        raise ConfigError("the same run directory is given twice")
    out = Path(args.out) if args.out else (dirs[0] / "plots" if len(dirs) == 1 else None)
    if out is None:
        raise ConfigError("several runs need --out DIR (where the comparison plots go)")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    if len(dirs) == 1:
        weights: dict[str, Any] = {}
        for name in (WEIGHTS, CHECKPOINT):
            if (dirs[0] / name).is_file():
                src = load_source(dirs[0] / name)
                weights = plotting.weight_values(src.state)
                break
        written = plotting.plot_run(
            runs[str(dirs[0])], weights, out, log_density=args.log_density, x=args.x
        )
    else:  # a paper figure: the runs overlaid
        labels = {_label(d, dirs): rows for d, rows in zip(dirs, runs.values(), strict=True)}
        written = [
            plotting.plot_compare(
                labels, out / "compare.png", log_density=args.log_density, x=args.x
            ),
            plotting.plot_learning_curves(labels, out / "learning_curves.png", x=args.x),
            plotting.plot_densities(labels, out / "density.png", log=args.log_density, x=args.x),
        ]
        dst = plotting.plot_dst(labels, out / "dst.png", x="step" if args.x == "step" else "epoch")
        if dst is not None:
            written.append(dst)
    for path in written:
        print(path)
    return 0


def _label(d: Path, dirs: list[Path]) -> str:
    """The shortest distinct label of a run directory: its name, or its path if names clash."""
    names = [x.name for x in dirs]
    return d.name if names.count(d.name) == 1 else str(d)


# ------------------------------------------------------------------------------ export


def _refuse_overwrite(out: Path, src: Source) -> None:
    """``export`` replaces only an earlier Nerva export: never a file of the source's run
    directory, and never an existing file that is not a Nerva ``W1, b1, …`` archive."""
    from ..io import load_npz
    from ..rundir import RUN_FILES

    if src.run_dir is not None:
        for name in RUN_FILES:
            if out.resolve() == (src.run_dir / name).resolve():
                raise ConfigError(
                    f"--nerva {out} is the run's own {name}; choose a file outside the run's "
                    f"files ({', '.join(RUN_FILES)})"
                )
    if out.is_file():
        try:
            arrays, meta = load_npz(out, what="existing output")
        except CheckpointError:
            arrays, meta = {}, None
        if meta is not None or "W1" not in arrays:
            raise ConfigError(
                f"--nerva {out} exists and is not a Nerva weights file (W1, b1, …); "
                "export replaces only an earlier export, choose another output file"
            )


def cmd_export(args: argparse.Namespace) -> int:
    from ..models.nerva_io import save_nerva_weights

    if args.nerva is None:
        raise ConfigError("sprig export needs an output format: --nerva OUT.npz")
    out = Path(args.nerva)
    src = load_source(args.path, config=args.config)
    if out.exists() and (out.resolve() == src.path.resolve() or out.is_dir()):
        raise ConfigError(
            f"--nerva {out} would overwrite the source or a directory; choose another output file"
        )
    _refuse_overwrite(out, src)
    if out.suffix != ".npz":
        raise ConfigError(f"--nerva {out}: the output file must end in .npz")
    model = model_of(src)
    if not hasattr(model, "linear_layers"):
        raise ConfigError(
            f"{src.path} holds a model with several heads; Nerva's W1, b1, … layout holds "
            "sequential networks only"
        )
    save_nerva_weights(model, out)
    n = len(model.linear_layers())
    print(f"wrote {out}: W1, b1 … W{n}, b{n} (Nerva layout, dense)")
    return 0


# ------------------------------------------------------------------------------ parsers


def add_parsers(sub: Any) -> None:
    """Register ``info``, ``evaluate``, ``plot`` and ``export`` on the ``sprig`` parser."""
    p = sub.add_parser(
        "info",
        help="describe a checkpoint, weights file or run directory",
        description="Architecture, nnz and density per layer, parameters, memory, "
        "epoch/step and the last metrics of a run, checkpoint or weights file.",
    )
    p.add_argument("path", help="checkpoint.npz, weights.npz or run directory")
    p.add_argument("--config", help="config TOML describing the network (when none is stored)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "evaluate",
        help="test loss and accuracy of a trained network",
        description="Rebuild the run's network, load its weights, apply the "
        "run's normalization and evaluate on a dataset's test split (default: "
        "the run's own test set).",
    )
    p.add_argument("path", help="run directory, checkpoint.npz or weights.npz")
    p.add_argument(
        "--data", help="dataset name or path (default: the run's dataset and test subset)"
    )
    p.add_argument(
        "--kind",
        help="dataset kind (mnist, fashion_mnist, cifar10, npz, nerva, csv, "
        "generated); default: inferred",
    )
    p.add_argument("--data-dir", help="folder holding named datasets")
    p.add_argument("--batch-size", help="evaluation batch size (default 1024)")
    p.add_argument(
        "--test-size",
        help="evaluate on a stratified subset of N test samples, or "
        "'all' (default: the run's test subset for its own dataset, else all)",
    )
    p.add_argument("--config", help="config TOML describing the network (when none is stored)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "plot",
        help="plot learning curves, densities, DST and weights",
        description="Write PNGs of a run: learning curves with the learning rate, per-layer "
        "density, DST statistics (when present) and weight-magnitude histograms; of several "
        "runs: the same overlaid (compare.png). Needs "
        "matplotlib (pip install 'sprig[plot]').",
    )
    p.add_argument("run_dir", nargs="+", help="run directory (several: overlaid for comparison)")
    p.add_argument("--out", help="output folder (default RUN_DIR/plots; needed for several runs)")
    p.add_argument("--log-density", action="store_true", help="density axis on a log scale")
    p.add_argument(
        "--x", choices=("epoch", "step"), default="epoch", help="x axis: epoch or optimizer step"
    )
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "export",
        help="write weights in another format",
        description="Export a checkpoint's or run's weights in Nerva's .npz "
        "layout (W1, b1, …; dense matrices).",
    )
    p.add_argument("path", help="checkpoint.npz, weights.npz or run directory")
    p.add_argument("--nerva", metavar="OUT.npz", help="write Nerva's W1, b1, … layout")
    p.add_argument("--config", help="config TOML describing the network (when none is stored)")
    p.set_defaults(func=cmd_export)
