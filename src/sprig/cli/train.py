"""``sprig train``: a :class:`~sprig.specs.config.TrainConfig` → a trained run directory.

The run itself is built by :func:`sprig.training.assemble.assemble` (the one assembler the
Python API, the estimator and the inspect commands use too); this module adds the run
directory, its files and the printed report.

Everything a run needs is resolved first (seed, layer sizes, per-layer densities, the data),
written to ``RUN_DIR/config.toml``, and that file alone rebuilds the run: ``sprig train
--resume RUN_DIR`` reads it, rebuilds model and optimizers identically and loads the last
checkpoint on top.

Run directory::

    config.toml      resolved configuration (reproduces the run exactly)
    checkpoint.npz   latest full training state (atomic; see sprig.training.checkpoint)
    metrics.jsonl    one JSON object per epoch (also metrics.csv)
    weights.npz      final weights (sprig format, no pickle)
    best.npz         weights of the best epoch (with keep_best)
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data.datasets import Dataset
from ..data.normalization import Normalization
from ..errors import ConfigError, DataError
from ..io import atomic_write
from ..models.mlp import MLP
from ..rundir import check_outputs, hold_run_dir
from ..runtime import cap_threads
from ..sanity import check_labels, check_network
from ..specs.config import TrainConfig
from ..training.assemble import _steps_per_epoch, assemble, resolve_config, resolve_data
from ..training.callbacks import BlockAtStep
from ..training.checkpoint import restore_checkpoint
from ..training.distributed import DataParallel, init_from_env
from ..training.interrupt import InterruptCheckpoint, save_on_interrupt


def default_run_dir(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = Path(config.dataset or "digits").stem
    return Path("runs") / f"{stamp}-{name}"


def run_train(
    config: TrainConfig,
    *,
    sizes_given: bool,
    density_given: bool,
    resume: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or resume) a run; returns the last epoch's metrics."""
    if config.seed is None:  # fixed first: the data subset and everything else derive from it
        config = dataclasses.replace(
            config, seed=int(np.random.SeedSequence().generate_state(1)[0] % 2**31)
        )
    recorded = None
    if resume is not None and (resume / "normalization.json").is_file():
        # the run's own normalization, not a re-fit (whose rules may have changed since)
        import json

        try:
            recorded = Normalization.from_dict(
                json.loads((resume / "normalization.json").read_text())
            )
        except (OSError, ValueError) as e:
            raise ConfigError(f"{resume / 'normalization.json'} is not readable ({e})") from None
    data, norm = resolve_data(config, recorded)
    check_labels(data)
    if resume is None:
        config = resolve_config(
            config, data, sizes_given=sizes_given, density_given=density_given, normalization=norm
        )
        run_dir = Path(config.run_dir) if config.run_dir else default_run_dir(config)
        config = dataclasses.replace(config, run_dir=str(run_dir))
    else:
        run_dir = resume
    # data-parallel under torchrun (WORLD_SIZE > 1): every rank trains its slice of each
    # batch; only rank 0 holds the run directory, writes files and prints
    rank, size = init_from_env()
    config = cap_threads(config, auto=resume is None)
    if rank != 0:
        shard = (rank, size)
        return _train(config, data, norm, run_dir, resume=resume, progress=False, shard=shard)
    check_outputs(config, run_dir)
    # one writer per run directory; a failed start removes the directory it created
    with hold_run_dir(run_dir, fresh=resume is None):
        return _train(
            config,
            data,
            norm,
            run_dir,
            resume=resume,
            progress=progress,
            shard=(rank, size) if size > 1 else None,
        )


def _train(
    config: TrainConfig,
    data: Dataset,
    norm: Normalization,
    run_dir: Path,
    *,
    resume: Path | None,
    progress: bool,
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    lead = shard is None or shard[0] == 0
    # everything that can fail on bad input (weights to load, ...) happens before the run
    # files are written, so a failed start leaves nothing behind
    run = assemble(
        config,
        data=data,
        normalization=norm,
        run_dir=run_dir if lead else None,
        resolve=False,
        progress=progress and lead,
        lines=lead,
        trainer_options={"shard": shard} if shard is not None else None,
    )
    trainer, model = run.trainer, run.model
    check_network(model)
    if shard is not None:
        trainer.callbacks.insert(0, DataParallel())  # first: before the topology update
    if resume is not None:  # checked (and restored) before anything is written
        steps = None if config.preprocessed else _steps_per_epoch(config, len(data.y_train))
        restore_checkpoint(trainer.state, run_dir / "checkpoint.npz", steps_per_epoch=steps)
        if trainer.state.epoch >= trainer.state.epochs:
            if lead:
                print(
                    f"run {run_dir} already finished its {trainer.state.epoch} epochs; nothing "
                    f"to do (to train further: sprig train --resume {run_dir} --epochs N with "
                    f"N > {trainer.state.epoch})",
                    flush=True,
                )
            return trainer.state.history[-1] if trainer.state.history else {}
    if not lead:  # the same run, read-only: rank 0 writes everything
        history = trainer.fit(data)
        return history[-1] if history else {}
    block = BlockAtStep.from_env()  # crash tests: stop at an exact step until killed
    if block is not None:
        trainer.callbacks.append(block)
    if resume is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / "config.toml", lambda f: f.write(config.to_toml().encode()))
    if config.save_dataset:
        from ..io import save_npz

        save_npz(
            config.save_dataset,
            {
                "x_train": data.x_train,
                "y_train": data.y_train,
                "x_test": data.x_test,
                "y_test": data.y_test,
            },
        )
    if resume is not None:
        print(
            f"resuming {run_dir} at epoch {trainer.state.epoch + 1}, batch "
            f"{trainer.state.batch_in_epoch + 1} (step {trainer.state.step})",
            flush=True,
        )
    else:
        print(config.to_toml(), flush=True)
        print(model.summary(), flush=True)
    if config.info:
        print(data, flush=True)
    atomic_write(run_dir / "normalization.json", lambda f: f.write(_json(norm.to_dict()).encode()))
    t0 = time.perf_counter()
    stop = InterruptCheckpoint(run_dir / "checkpoint.npz", run_dir, config.to_dict())
    trainer.callbacks.append(stop)
    with save_on_interrupt(stop):
        history = trainer.fit(data)
    seconds = time.perf_counter() - t0
    model.save_weights(run_dir / "weights.npz")
    if config.save_weights:
        from ..models.nerva_io import save_nerva_weights

        if not isinstance(model, MLP):
            raise ConfigError("Nerva weight files hold sequential networks; this run has heads")
        save_nerva_weights(model, config.save_weights)
    if config.info:
        print(model.summary(), flush=True)
    last = history[-1] if history else {}
    acc = last.get("test_accuracy")
    print(
        f"done: {len(history)} epochs in {seconds:.1f}s; "
        + (f"test accuracy {acc:.4f}; " if acc is not None else "")
        + f"run directory {run_dir}",
        flush=True,
    )
    return last


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, indent=1)


__all__ = ["DataError", "run_train"]
