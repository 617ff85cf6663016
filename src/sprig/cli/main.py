"""The ``sprig`` command: argv → typed config → run. No math here.

Errors sprig knows about (bad specs, bad data, bad checkpoints, divergence) are printed as one
line ``sprig: error: …`` with exit status 2 (3 for divergence), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DivergenceError, SprigError
from ..specs.config import FIELDS, TrainConfig

#: Options that are plain flags (``--info``) rather than ``--key VALUE``.
_FLAGS = (
    "no_shuffle",
    "no_statistics",
    "keep_best",
    "drop_last",
    "info",
    "debug",
    "verbose",
    "augment",
)
#: Defaults of ``sprig train`` when no option says otherwise (the README's demo run).
DEMO = {
    "layers": "ReLU;ReLU;Linear",
    "epochs": "30",
    "batch_size": "32",
    "optimizers": "Momentum(0.9)",
    "learning_rate": "0.05",
}
#: DST algorithm when neither --dst nor Nerva's --prune is given.
DEFAULT_DST = "SET(0.3)"


def _train_parser(sub: Any) -> argparse.ArgumentParser:
    from ..specs.registry import help_text

    p = sub.add_parser(
        "train",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(help_text(kind) for kind in ("dst", "prune", "grow"))
        + "\n\n"
        + textwrap.fill(
            "DST parameters left out take the default shown (auto: the whole run, or chosen "
            "from its length); every is in epochs for set/magran/snfs/mest and in optimizer "
            "steps for rigl/granet/gmp; start and end are fractions of the run.",
            100,
        ),
        help="train a sparse MLP",
        description="Train a truly sparse MLP. With no options: a 64-256-256-10 ReLU network at "
        "overall density 0.1 (ERK) with SET on the embedded digits dataset. Options mirror "
        "Nerva's mlp tool; specs use one grammar, e.g. --layers 'ReLU;ReLU;Linear' "
        "--optimizers 'Nesterov(0.9)' --learning-rate 'MultiStepLR(0.1; 50,75; 0.1)'.",
    )
    p.add_argument("--config", type=Path, help="TOML file of options (flags override it)")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last checkpoint",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    for name, f in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        if name in _FLAGS:
            p.add_argument(flag, dest=name, action="store_const", const="true", help=f.help)
        else:
            p.add_argument(flag, dest=name, metavar="VALUE", help=f.help)
    # Nerva's dataset flags
    p.add_argument("--mnist", metavar="DIR", help="MNIST from DIR (idx files or mnist.npz)")
    p.add_argument("--cifar10", metavar="DIR", help="CIFAR-10 from DIR (binary version or npz)")
    p.add_argument("--load-dataset", metavar="FILE", help="dataset .npz (Nerva or generic keys)")
    p.add_argument("--generate-dataset", metavar="NAME", help="checkerboard or mini")
    p.add_argument(
        "--learning-rate-scheduler",
        dest="lr_scheduler_alias",
        metavar="SPEC",
        help="alias of --lr-scheduler",
    )
    p.add_argument(
        "--augmented",
        action="store_const",
        const="true",
        dest="augment_alias",
        help="alias of --augment",
    )
    p.add_argument("--manual", action="store_true", help="accepted for Nerva compatibility")
    return p


def _options(args: argparse.Namespace) -> dict[str, Any]:
    opts = {name: getattr(args, name) for name in FIELDS if getattr(args, name) is not None}
    if args.mnist:
        opts.update(dataset=args.mnist, dataset_kind="mnist")
    if args.cifar10:
        opts.update(dataset=args.cifar10, dataset_kind="cifar10")
    if args.load_dataset:
        opts["dataset"] = args.load_dataset
    if args.generate_dataset:
        opts.update(dataset=args.generate_dataset, dataset_kind="generated")
    if args.lr_scheduler_alias:
        opts["lr_scheduler"] = args.lr_scheduler_alias
    if args.augment_alias:
        opts["augment"] = "true"
    return opts


def _toml_options(path: Path) -> dict[str, Any]:
    """The options a TOML file sets (keys with ``-`` read as ``_``), validated."""
    import tomllib

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise SprigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise SprigError(f"config file {path} is a directory") from None
    except tomllib.TOMLDecodeError as err:
        raise SprigError(f"{path}: invalid TOML: {err}") from None
    opts = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(opts) - set(FIELDS))
    if unknown:
        TrainConfig.from_dict({k: data[k] for k in data}, source=str(path))  # names them
    return opts


def cmd_train(args: argparse.Namespace) -> int:
    from .train import run_train

    if args.resume is not None:
        cfg_path = args.resume / "config.toml"
        if not (args.resume / "checkpoint.npz").exists():
            raise SprigError(f"cannot resume {args.resume}: no checkpoint.npz there")
        config = TrainConfig.from_toml(cfg_path)
        extra = _options(args)
        if set(extra) - {"epochs", "threads"}:
            raise SprigError(
                "--resume takes only --epochs and --threads besides the run "
                f"directory (got {', '.join(sorted(extra))})"
            )
        if extra:
            import dataclasses

            config = dataclasses.replace(config, **extra)
        run_train(
            config,
            sizes_given=True,
            density_given=True,
            resume=args.resume,
            progress=not args.no_progress,
        )
        return 0
    base: dict[str, Any] = {}
    if args.config is not None:
        # the file's own keys only: what it leaves out gets the CLI's defaults, and flags
        # override it (TrainConfig.from_toml would fill in the dataclass defaults)
        base = _toml_options(args.config)
    opts = {**base, **_options(args)}
    user_keys = set(opts)
    for key, value in DEMO.items():
        opts.setdefault(key, value)
    if not user_keys & {"dst", "prune"}:
        opts["dst"] = DEFAULT_DST
    sizes_given = "layer_sizes" in user_keys
    if not sizes_given:
        n_lin = (
            sum(1 for _ in str(opts["layers"]).split(";"))
            if isinstance(opts["layers"], str)
            else len(opts["layers"])
        )
        opts["layer_sizes"] = ";".join(["1"] * (n_lin + 1))  # placeholder, resolved from data
    config = TrainConfig.from_dict(opts, source="sprig train")
    density_given = bool(user_keys & {"densities", "overall_density"})
    run_train(
        config, sizes_given=sizes_given, density_given=density_given, progress=not args.no_progress
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sprig", description="Truly sparse neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub).set_defaults(func=cmd_train)
    from . import inspect_cmds, select_cmd

    inspect_cmds.add_parsers(sub)
    from . import scaling_cmd

    scaling_cmd.add_parser(sub)
    select_cmd.add_parser(sub)
    from . import neurotrails_cmd, seft_cmd

    neurotrails_cmd.add_parser(sub)
    seft_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sprig`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `sprig info RUN | head`
        sys.stderr.close()
        return 0
    except DivergenceError as e:
        print(f"sprig: error: {e}", file=sys.stderr)
        return 3
    except (SprigError, ValueError, OSError) as e:
        if getattr(args, "debug", None):
            raise
        print(f"sprig: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # training says where it stopped and how to resume
        print(f"sprig: {e}" if str(e) else "sprig: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
