"""``sprig train``: a :class:`~sprig.specs.config.TrainConfig` → a trained run directory.

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

from ..data.augmentation import RandomCropFlip
from ..data.datasets import Dataset
from ..data.loaders import load_dataset
from ..data.normalization import Normalization
from ..errors import ConfigError, DataError
from ..io import atomic_write
from ..models.mlp import MLP
from ..rundir import check_outputs, hold_run_dir
from ..runtime import cap_threads, set_num_threads
from ..sanity import check_labels, check_network
from ..sparsity import density as density_mod
from ..specs.config import TrainConfig
from ..specs.types import OptimizerSpec
from ..training.build import build_layers, build_loss, build_optimizer, build_schedule
from ..training.callbacks import Callback, EarlyStopping, KeepBest, MetricsLogger, ProgressBar
from ..training.checkpoint import Checkpoint, restore_checkpoint
from ..training.dst import TopologyUpdate, make_algorithm, nerva_prune_grow
from ..training.interrupt import InterruptCheckpoint, save_on_interrupt
from ..training.loop import Trainer

DEFAULT_HIDDEN = (256, 256)
DEFAULT_DENSITY = 0.1
DENSE_TO_SPARSE = ("gmp", "granet")


def resolve_data(config: TrainConfig) -> tuple[Dataset, Normalization]:
    """Load, subset and normalize the dataset the config names (default: digits)."""
    from ..data.generated import generate

    name = config.dataset or "digits"
    if config.dataset_kind == "generated" or name in ("checkerboard", "mini"):
        data = generate(name, config.dataset_size or 2000, seed=config.seed or 0)
    else:
        kind = None if config.dataset_kind == "auto" else config.dataset_kind
        data = load_dataset(name, kind=kind, root=config.data_dir)
    if config.train_size is not None or config.test_size is not None:
        if config.train_size is not None and config.train_size > len(data.y_train):
            raise ConfigError(
                f"train_size {config.train_size} exceeds the {len(data.y_train)} training samples"
            )
        data = data.subset(config.train_size, config.test_size, seed=config.seed or 0)
    method = config.normalize
    if method == "auto":
        method = "minmax" if data.image_shape is not None and data.pixel_max else "standardize"
    norm = Normalization.fit(
        method,
        data.x_train,
        pixel_max=data.pixel_max,
        channels=data.image_shape[0] if data.image_shape else None,
    )
    return norm.apply_dataset(data), norm


def resolve_config(
    config: TrainConfig, data: Dataset, *, sizes_given: bool, density_given: bool
) -> TrainConfig:
    """Fill what the user left open so the saved config reproduces the run exactly."""
    changes: dict[str, Any] = {}
    if config.dataset is None:
        changes["dataset"] = "digits"  # the embedded default, written out in config.toml
    sizes = list(config.layer_sizes)
    if not sizes_given:
        n_lin = config.num_linear_layers
        hidden = list(DEFAULT_HIDDEN)[: n_lin - 1] or []
        hidden += [DEFAULT_HIDDEN[-1]] * (n_lin - 1 - len(hidden))
        sizes = [data.num_features, *hidden, data.num_classes]
        changes["layer_sizes"] = tuple(sizes)
    if sizes[0] != data.num_features:
        raise ConfigError(
            f"the first layer size is {sizes[0]} but the dataset "
            f"{data.name!r} has {data.num_features} features"
        )
    if sizes[-1] < data.num_classes:
        raise ConfigError(
            f"the last layer size is {sizes[-1]} but the dataset "
            f"{data.name!r} has {data.num_classes} classes"
        )
    if config.densities is None:
        overall = config.overall_density
        if overall is None and not density_given:
            overall = DEFAULT_DENSITY
        if overall is None:
            dens: tuple[float, ...] = (1.0,) * (len(sizes) - 1)
        else:
            shapes = density_mod.shapes_from_sizes(sizes)
            dens = tuple(density_mod.densities(config.density_method, shapes, overall))
        changes["densities"] = dens
        changes["overall_density"] = None
    return dataclasses.replace(config, **changes)


def _optimizer_map(config: TrainConfig, owners: list[int]) -> dict[int, Any]:
    specs: list[OptimizerSpec] = list(config.optimizers)
    if config.weight_decay:
        specs = [
            s.replace(weight_decay=config.weight_decay) if s.get("weight_decay") == 0 else s
            for s in specs
        ]
    built = [build_optimizer(s) for s in specs]
    return {i: built[owner] for i, owner in enumerate(owners)}


def build_run(
    config: TrainConfig,
    data: Dataset,
    run_dir: Path,
    *,
    norm: Normalization | None = None,
    progress: bool = True,
) -> tuple[Trainer, TopologyUpdate | None]:
    """Model, optimizers, schedule and callbacks for a resolved config."""
    if config.threads is not None:
        set_num_threads(config.threads)
    seed = int(config.seed or 0)
    dtype = np.dtype(config.dtype)
    assert config.densities is not None
    densities = list(config.densities)
    dst_spec = config.dst
    dense_to_sparse = dst_spec is not None and dst_spec.name in DENSE_TO_SPARSE
    final_density = None
    if dense_to_sparse:
        assert dst_spec is not None
        final_density = float(np.sum(np.array(densities) * _sizes(config)) / np.sum(_sizes(config)))
        start_density = dst_spec.get("initial_density") or 1.0
        densities = [min(start_density, 0.999999)] * len(densities)
    if config.init_pruning is not None:  # score a dense initialisation, then prune it
        densities = [1.0] * len(densities)
    owners: list[int] = []
    layers = build_layers(
        config.layers,
        config.layer_sizes,
        densities,
        rng=np.random.default_rng([seed, 0x4D4F44]),
        dtype=dtype,
        inits=config.layer_weights,
        dropouts=config.dropouts,
        owners=owners,
        fan_in=config.fan_in,
    )
    if dense_to_sparse:  # dense-to-sparse algorithms start from full CSR layers
        from ..layers.linear import SparseLinear

        for k, layer in enumerate(layers):
            if isinstance(layer, SparseLinear) and layer.weight.density >= 0.999:
                layers[k] = _full_sparse(layer)
    model = MLP(layers)
    if config.init_pruning is not None:
        model = _prune_at_init(model, config, data, list(config.densities), seed)
    if config.load_weights:
        from ..models.nerva_io import load_any_weights

        load_any_weights(model, config.load_weights)
    steps = _steps_per_epoch(config, len(data.y_train))
    schedule = build_schedule(config.schedule, steps_per_epoch=steps, epochs=config.epochs)
    callbacks: list[Callback] = []
    topo: TopologyUpdate | None = None
    if dst_spec is not None and dst_spec.name != "static":
        alg = make_algorithm(
            dst_spec, epochs=config.epochs, steps_per_epoch=steps, final_density=final_density
        )
        if config.prune is not None:
            alg = nerva_prune_grow(config.prune, config.grow, config.grow_weights, base=alg)
        topo = TopologyUpdate(alg, seed=seed)
    elif config.prune is not None:
        topo = TopologyUpdate(
            nerva_prune_grow(config.prune, config.grow, config.grow_weights), seed=seed
        )
    if topo is not None:
        callbacks.append(topo)
    callbacks.append(
        Checkpoint(
            run_dir / "checkpoint.npz",
            every_steps=config.checkpoint_every * steps or None,
            config=config.to_dict(),
        )
    )
    callbacks.append(MetricsLogger(run_dir))
    if config.patience is not None:
        callbacks.append(EarlyStopping("test_loss", patience=config.patience))
    if config.keep_best:
        callbacks.append(KeepBest("test_accuracy", path=run_dir / "best.npz", restore=True))
    callbacks.append(ProgressBar(steps, disable=not progress))
    callbacks += _diagnostics(config, data, model)
    augment = None
    if config.augment:
        if data.image_shape is None:
            raise ConfigError(f"augment needs an image dataset; {data.name!r} has no image shape")
        c, h, w = data.image_shape
        augment = RandomCropFlip(c, h, w)
    trainer = Trainer(
        model,
        loss=build_loss(config.loss),
        optimizer=_optimizer_map(config, owners),
        schedule=schedule,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=seed,
        callbacks=callbacks,
        clip_norm=config.clip or None,
        shuffle=not config.no_shuffle,
        drop_last=config.drop_last,
        augment=augment,
        density_lr_power=config.density_lr_power,
        evaluate=not config.no_statistics,
        epoch_batches=(
            _preprocessed(config, norm, model, seed) if config.preprocessed and norm else None
        ),
    )
    return trainer, topo


def _diagnostics(config: TrainConfig, data: Dataset, model: MLP) -> list[Callback]:
    from ..data.batching import Batches
    from ..training.diagnostics import Debug, GradientCheck, TimerReport

    out: list[Callback] = []
    if config.timer != "disabled":
        out.append(TimerReport(config.timer))
    if config.debug:
        out.append(Debug(config.precision, config.edgeitems))
    if config.gradient_step > 0:
        first = next(
            Batches(
                data.x_train,
                data.y_train,
                config.batch_size,
                shuffle=False,
                num_classes=data.num_classes,
                dtype=model.dtype,
            ).epoch(0)
        )
        out.append(GradientCheck(config.gradient_step, build_loss(config.loss), first))
    return out


def _preprocessed(config: TrainConfig, norm: Normalization, model: MLP, seed: int) -> Any:
    """Nerva's ``--preprocessed DIR``: epoch ``e`` trains on ``DIR/epoch<e>.npz``."""
    from ..data.batching import Batches
    from ..data.loaders import load_npz

    folder = Path(config.preprocessed or ".")

    def batches(epoch: int) -> Batches:
        path = folder / f"epoch{epoch}.npz"
        if not path.exists():
            raise DataError(f"preprocessed data for epoch {epoch} not found: expected {path}")
        data = norm.apply_dataset(load_npz(path))
        return Batches(
            data.x_train,
            data.y_train,
            config.batch_size,
            shuffle=not config.no_shuffle,
            seed=seed,
            drop_last=config.drop_last,
            num_classes=model.out_features,
            dtype=model.dtype,
        )

    return batches


def _prune_at_init(
    model: MLP, config: TrainConfig, data: Dataset, densities: list[float], seed: int
) -> MLP:
    from ..data.batching import Batches
    from ..sparsity.init_pruning import prune_at_init

    batches = Batches(
        data.x_train,
        data.y_train,
        config.batch_size,
        seed=seed,
        num_classes=data.num_classes,
        dtype=model.dtype,
    )
    first = next(batches.epoch(0))
    pruned = prune_at_init(
        model,
        config.init_pruning or "random",
        densities,
        data=(first.Xt, first.Tt),
        loss=build_loss(config.loss),
        rng=np.random.default_rng([seed, 0x504149]),
    )
    if config.fan_in == "actual":
        # The kept values were drawn for the dense fan-in; rescale each row by
        # sqrt(dense / stored fan-in) so the network starts with the signal scale of
        # sprig's sparse initialisation (the choice of the topology is unchanged).
        for layer in pruned.sparse_layers().values():
            W = layer.weight
            row_nnz = np.maximum(np.diff(W.indptr), 1)[W.row_of]
            np.multiply(W.data, np.sqrt(W.shape[1] / row_nnz).astype(W.dtype), out=W.data)
    return pruned


def _sizes(config: TrainConfig) -> Any:
    s = config.layer_sizes
    return np.array([s[i] * s[i + 1] for i in range(len(s) - 1)], dtype=np.float64)


def _full_sparse(layer: Any) -> Any:
    from ..layers.linear import SparseLinear

    return SparseLinear(
        layer.in_features,
        layer.out_features,
        density=1.0,
        rng=layer.rng,
        dtype=layer.dtype,
        drop_connect=layer.drop_connect,
    )


def _steps_per_epoch(config: TrainConfig, n: int) -> int:
    b = config.batch_size
    if config.drop_last:
        if b > n:
            raise ConfigError(f"batch_size {b} exceeds the {n} training samples with drop_last")
        return n // b
    return -(-n // b)


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
    data, norm = resolve_data(config)
    check_labels(data)
    if resume is None:
        config = resolve_config(config, data, sizes_given=sizes_given, density_given=density_given)
        run_dir = Path(config.run_dir) if config.run_dir else default_run_dir(config)
        config = dataclasses.replace(config, run_dir=str(run_dir))
    else:
        run_dir = resume
    config = cap_threads(config, auto=resume is None)
    check_outputs(config, run_dir)
    # one writer per run directory; a failed start removes the directory it created
    with hold_run_dir(run_dir, fresh=resume is None):
        return _train(config, data, norm, run_dir, resume=resume, progress=progress)


def _train(
    config: TrainConfig,
    data: Dataset,
    norm: Normalization,
    run_dir: Path,
    *,
    resume: Path | None,
    progress: bool,
) -> dict[str, Any]:
    # everything that can fail on bad input (weights to load, ...) happens before the run
    # files are written, so a failed start leaves nothing behind
    trainer, _ = build_run(config, data, run_dir, norm=norm, progress=progress)
    model = trainer.state.model
    check_network(model)
    if resume is not None:  # checked (and restored) before anything is written
        steps = None if config.preprocessed else _steps_per_epoch(config, len(data.y_train))
        restore_checkpoint(trainer.state, run_dir / "checkpoint.npz", steps_per_epoch=steps)
        if trainer.state.epoch >= trainer.state.epochs:
            print(
                f"run {run_dir} already finished its {trainer.state.epoch} epochs; nothing "
                f"to do (to train further: sprig train --resume {run_dir} --epochs N with N > "
                f"{trainer.state.epoch})",
                flush=True,
            )
            return trainer.state.history[-1] if trainer.state.history else {}
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
