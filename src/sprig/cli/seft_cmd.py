"""``sprig seft``: prune a trained dense run and repair it by fine-tuning (SEFT or a baseline).

::

    sprig seft RUN_DIR --density 0.3 [--pruning wanda|magnitude]
        [--method seft|static|dense|lora] [--dst 'SEFT(fraction=0.1, every=20)']
        [--epochs 2] [--learning-rate LR] [--rank 8 --alpha 16] [--out OUT_DIR]

``RUN_DIR`` is a finished ``sprig train`` run of a dense MLP (its ``config.toml`` and
``weights.npz``; ``--weights FILE`` loads another weights file of the same architecture). Every
linear layer is pruned after training to ``--density`` (magnitude per layer, or Wanda per
output row calibrated on training samples; :func:`sprig.seft.pruning.prune_config_model`) into
truly sparse layers, then fine-tuned on the run's data and with its optimizer, loss and batch
size (``--learning-rate`` overrides the rate) by one of

* ``seft``: the ``seft`` DST algorithm (``--dst``): drop-and-grow at exactly the pruned nnz;
* ``static``: the pruned topology frozen;
* ``dense``: the pruned layers densified, every weight trained (the sparsity is lost);
* ``lora``: rank-``--rank`` adapters on the frozen pruned layers, merged at the end (the
  merged layers are dense).

``OUT_DIR`` (default ``runs/<time>-seft``) gets the trainer's ``metrics.jsonl`` (and
checkpoints), the repaired ``weights.npz`` (merged for LoRA) and ``seft.json``: the test loss
and accuracy before pruning, after pruning and after the repair, trainable parameters,
optimizer-state bytes, fine-tuning seconds and the density of the pruned layers after the
repair. The same pipeline is ``sprig train --load-weights W --post-pruning P --dst SEFT``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SprigError

METHODS = ("seft", "static", "dense", "lora")
PRUNING = ("magnitude", "wanda")


def add_parser(sub: Any) -> None:
    """Register ``seft`` on the ``sprig`` parser."""
    p = sub.add_parser(
        "seft",
        help="prune a trained dense run and repair it (SEFT, frozen mask, dense, LoRA)",
        description="Prune a trained dense sprig run to a density (magnitude or Wanda) and "
        "repair it by fine-tuning: SEFT (drop-and-grow at fixed sparsity), the frozen mask, "
        "dense fine-tuning or LoRA; writes a run directory with the losses before pruning, "
        "after pruning and after the repair.",
    )
    p.add_argument("run", metavar="RUN_DIR", help="a finished sprig train run of a dense model")
    p.add_argument("--density", required=True, help="density of every pruned layer, in (0, 1]")
    p.add_argument("--pruning", default="wanda", help="post-training pruning: wanda or magnitude")
    p.add_argument("--method", default="seft", help="repair: seft, static, dense or lora")
    p.add_argument(
        "--dst", default="SEFT", help="SEFT spec (method seft), e.g. 'SEFT(fraction=0.1, every=20)'"
    )
    p.add_argument("--epochs", default="2", help="fine-tuning epochs")
    p.add_argument("--learning-rate", help="fine-tuning learning rate (default: the run's)")
    p.add_argument("--rank", default="8", help="LoRA rank")
    p.add_argument("--alpha", default="16", help="LoRA alpha (scale alpha / rank)")
    p.add_argument("--weights", help="weights file to prune (default RUN_DIR/weights.npz)")
    p.add_argument("--seed", default="0", help="seed of calibration, LoRA and SEFT")
    p.add_argument("--threads", help="threads (default: the run's)")
    p.add_argument("--out", help="output run directory (default runs/<time>-seft)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_seft)


def _number(name: str, value: Any, kind: type, lo: float, *, open_lo: bool = False) -> Any:
    try:
        v = kind(str(value))
    except ValueError:
        v = None
    if v is None or not np.isfinite(v) or v < lo or (open_lo and v == lo):
        bound = f"> {lo}" if open_lo else f">= {lo}"
        what = "an integer" if kind is int else "a number"
        raise SprigError(f"--{name} must be {what} {bound}, got {value!r}")
    return v


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SprigError(f"--{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _nbytes(obj: Any) -> int:
    """Bytes of every array inside an optimizer state (dicts, sequences, dataclasses)."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(_nbytes(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    return 0


def _source(run_dir: Path, weights: str | None) -> tuple[Any, Path, Any]:
    """The run's resolved config, the weights file and its recorded normalization."""
    from ..data.normalization import Normalization
    from ..specs.config import TrainConfig

    if not run_dir.is_dir():
        raise SprigError(f"run directory {run_dir} not found")
    if not (run_dir / "config.toml").is_file():
        raise SprigError(f"{run_dir} is not a sprig run (no config.toml)")
    config = TrainConfig.from_toml(run_dir / "config.toml")
    path = Path(weights) if weights else run_dir / "weights.npz"
    if not path.is_file():
        raise SprigError(f"weights file {path} not found (train the run to the end first)")
    if config.heads > 1:
        raise SprigError(f"sprig seft prunes a sequential MLP; {run_dir} has {config.heads} heads")
    dens = list(config.densities or [])
    if any(d < 1.0 for d in dens) or (config.overall_density or 1.0) < 1.0:
        raise SprigError(
            f"sprig seft prunes a model trained dense; {run_dir} has densities {dens} "
            "(train it with --overall-density 1)"
        )
    norm = None
    if (run_dir / "normalization.json").is_file():
        try:
            norm = Normalization.from_dict(json.loads((run_dir / "normalization.json").read_text()))
        except (OSError, ValueError) as e:
            raise SprigError(f"{run_dir / 'normalization.json'} is not readable ({e})") from None
    return config, path, norm


def _trainable(model: Any) -> int:
    return int(sum(p.value.size for p in model.params().values()))


def _covered_density(model: Any, paths: list[str]) -> float:
    mods = model.named_modules()
    nz = size = 0
    for n in paths:
        m = mods[n]
        W = getattr(m, "weight", None)
        if W is None:
            continue
        if hasattr(W, "nnz"):
            nz += int(W.nnz)
            size += int(W.shape[0] * W.shape[1])
        else:
            nz += int(np.count_nonzero(W))
            size += int(np.asarray(W).size)
    return nz / size if size else float("nan")


def cmd_seft(args: argparse.Namespace) -> int:
    from ..rundir import hold_run_dir
    from ..seft import lora as L
    from ..seft.pruning import densify
    from ..training.assemble import assemble, resolve_config, resolve_data
    from ..training.loop import evaluate

    density = _number("density", args.density, float, 0.0, open_lo=True)
    if density > 1.0:
        raise SprigError(f"--density must be in (0, 1], got {args.density!r}")
    pruning = _choice("pruning", args.pruning, PRUNING)
    method = _choice("method", args.method, METHODS)
    epochs = _number("epochs", args.epochs, int, 1)
    rank = _number("rank", args.rank, int, 1)
    alpha = _number("alpha", args.alpha, float, 0.0, open_lo=True)
    seed = _number("seed", args.seed, int, 0)
    if method != "seft" and args.dst != "SEFT":
        raise SprigError(f"--dst is for --method seft, not {method!r}")
    run_dir = Path(args.run)
    source, weights, norm = _source(run_dir, args.weights)
    out = Path(args.out) if args.out else Path("runs") / time.strftime("%Y%m%d-%H%M%S-seft")
    if out.resolve() == run_dir.resolve():
        raise SprigError(f"--out {out} is the source run; give a new directory")

    over: dict[str, Any] = dict(
        load_weights=str(weights),
        epochs=epochs,
        seed=seed,
        run_dir=str(out),
        save_weights=None,
        save_dataset=None,
        keep_best=False,
        patience=None,
    )
    if args.learning_rate is not None:
        over["learning_rate"] = args.learning_rate
    if args.threads is not None:
        over["threads"] = args.threads
    try:
        dense_cfg = dataclasses.replace(source, **over, dst="static")
        pruned_cfg = dataclasses.replace(
            dense_cfg,
            densities=None,
            overall_density=density,
            density_method="uniform",
            dense_layers=(),
            post_pruning=pruning,
            dst=args.dst if method == "seft" else "static",
        )
    except (TypeError, ValueError) as e:
        raise SprigError(str(e).splitlines()[0]) from None
    if method == "seft" and pruned_cfg.dst is not None and pruned_cfg.dst.name != "seft":
        raise SprigError(
            f"--dst must be a SEFT spec, e.g. 'SEFT(fraction=0.1, every=20)', got {args.dst!r}"
        )
    data, norm = resolve_data(pruned_cfg, norm)
    pruned_cfg = resolve_config(
        pruned_cfg, data, sizes_given=True, density_given=True, normalization=norm
    )

    def metrics(model: Any, loss: Any) -> dict[str, float]:
        return {k: float(v) for k, v in evaluate(model, data.x_test, data.y_test, loss).items()}

    quiet: dict[str, Any] = {"progress": False, "lines": False, "resolve": False}
    dense = assemble(dense_cfg, data=data, normalization=norm, **quiet)
    before = metrics(dense.model, dense.trainer.loss)
    del dense
    pre = assemble(pruned_cfg, data=data, normalization=norm, **quiet)
    model = pre.model
    covered = list(model.sparse_modules())
    nnz = {n: int(W.nnz) for n, W in model.sparse_weights().items()}
    after_pruning = metrics(model, pre.trainer.loss)
    if method == "dense":
        densify(model)
    elif method == "lora":
        L.add_lora(model, rank, alpha, seed=seed)
    with hold_run_dir(out, fresh=True):
        run = assemble(
            pruned_cfg,
            data=data,
            normalization=norm,
            model=model,
            run_dir=out,
            resolve=False,
            progress=not args.no_progress,
        )
        trainable = _trainable(model)
        t0 = time.perf_counter()
        history = run.fit()
        seconds = time.perf_counter() - t0
        opt_bytes = _nbytes(run.trainer.state.opt_states)
        merged: dict[str, float] = {}
        if method == "lora":
            merged = L.merge_lora(model)
        if method == "seft":
            now = {n: int(W.nnz) for n, W in model.sparse_weights().items()}
            if now != nnz:  # the algorithm checks every update; this is the end-to-end check
                raise SprigError(f"SEFT changed the number of stored weights: {nnz} -> {now}")
        repaired = metrics(model, run.trainer.loss)
        model.save_weights(out / "weights.npz")
        summary = {
            "source": str(run_dir),
            "weights": str(weights),
            "pruning": pruning,
            "density": density,
            "method": method,
            "dst": args.dst if method == "seft" else None,
            "epochs": epochs,
            "steps": int(run.trainer.state.step),
            "seed": seed,
            "before_pruning": before,
            "after_pruning": after_pruning,
            "after_repair": repaired,
            "trainable_parameters": trainable,
            "optimizer_state_bytes": opt_bytes,
            "seconds": seconds,
            "pruned_layers": covered,
            "nnz": nnz,
            "density_after": _covered_density(model, covered),
            "merged_sparsity": merged,
            "topology_updates": sum(len(h.get("dst", [])) for h in history),
            "config": pruned_cfg.to_dict(),
        }
        from ..io import atomic_write

        text = json.dumps(summary, indent=1, default=str).encode()
        atomic_write(out / "seft.json", lambda f: f.write(text))

    def show(tag: str, m: dict[str, float]) -> str:
        acc = m.get("accuracy")
        return f"{tag} loss {m['loss']:.4f}" + (f" acc {acc:.4f}" if acc is not None else "")

    print(
        f"{show('dense', before)}; {pruning} to density {density}: "
        f"{show('pruned', after_pruning)}; {method}: {show('repaired', repaired)}; "
        f"{trainable:,} trainable, optimizer state {opt_bytes / 1024:.0f} KiB, "
        f"{seconds:.1f}s, density after {summary['density_after']:.3f}; run directory {out}",
        flush=True,
    )
    return 0
