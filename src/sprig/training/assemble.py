"""One assembler: a :class:`~sprig.specs.config.TrainConfig` → a ready :class:`Run`.

Everything that turns a configuration into a training run lives here, once: data (loading,
subsetting, normalization), the model (density split, dense-to-sparse start, pruning at
initialization, loaded weights), optimizers, the learning-rate schedule, the DST algorithm and
its callback, checkpoints, metrics, early stopping, diagnostics and the :class:`Trainer`.
``sprig train`` (:mod:`sprig.cli.train`), the Python API (:func:`sprig.fit`,
:func:`sprig.train`), :class:`~sprig.estimator.SparseMLPClassifier` and the inspect commands
(``sprig info/evaluate/export``: :func:`build_model`) all call it, so whatever one of them can
do, the others can.

>>> from sprig.specs.config import TrainConfig
>>> run = assemble(TrainConfig(layers="ReLU;Linear", layer_sizes="64;32;10", epochs=1,
...                            dst="GMP", overall_density=0.3, seed=0),
...                progress=False, lines=False)
>>> history = run.fit()
>>> round(run.model.count()["weights_nnz"] / run.model.count()["weights_dense"], 2)
0.3
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.augmentation import RandomCropFlip
from ..data.datasets import Dataset
from ..data.loaders import load_dataset
from ..data.normalization import Normalization
from ..errors import ConfigError, DataError
from ..layers.tree import leaves
from ..losses.heads import HeadsLoss
from ..models.mlp import MLP
from ..models.model import Model
from ..models.multihead import blocks, from_backbones
from ..runtime import set_num_threads
from ..sparsity import density as density_mod
from ..specs.config import TrainConfig, dense_layer_indices
from ..specs.types import OptimizerSpec
from .build import build_layers, build_loss, build_optimizer, build_schedule
from .callbacks import Callback, EarlyStopping, KeepBest, MetricsLogger, ProgressBar
from .checkpoint import Checkpoint
from .dst import TopologyUpdate, algorithm_from_config, check_inputs
from .loop import Trainer

__all__ = [
    "Run",
    "assemble",
    "build_model",
    "fit_normalization",
    "load_data",
    "resolve_config",
    "resolve_data",
]

DEFAULT_HIDDEN = (256, 256)
DEFAULT_DENSITY = 0.1
#: Model seed word (ASCII "MOD"): layers draw from ``default_rng([seed, MODEL_TAG])``.
MODEL_TAG = 0x4D4F44


@dataclass
class Run:
    """A ready training run: everything :func:`assemble` built.

    Attributes:
        config: the resolved configuration (what ``config.toml`` records).
        data: the (normalized) dataset.
        normalization: the normalization fitted on the training split (``None`` if the data
            came in already prepared).
        model: the network.
        trainer: the trainer holding model, optimizers, schedule and callbacks.
        topology: the DST callback, if any.
        steps_per_epoch: optimizer steps per epoch.
        run_dir: where checkpoints and metrics go (``None``: nowhere).
    """

    config: TrainConfig
    data: Dataset
    normalization: Normalization | None
    model: Model
    trainer: Trainer
    topology: TopologyUpdate | None
    steps_per_epoch: int
    run_dir: Path | None = None

    def fit(self) -> list[dict[str, Any]]:
        """Train; the history (one metrics dict per epoch)."""
        return self.trainer.fit(self.data)

    @property
    def history(self) -> list[dict[str, Any]]:
        """The metrics of every epoch trained so far."""
        return list(self.trainer.state.history)


def assemble(
    config: TrainConfig,
    *,
    data: Dataset | None = None,
    normalization: Normalization | None = None,
    model: Model | None = None,
    run_dir: str | Path | None = None,
    resolve: bool = True,
    sizes_given: bool = True,
    density_given: bool = True,
    progress: bool = True,
    lines: bool = True,
    callbacks: Sequence[Callback] = (),
    trainer_options: dict[str, Any] | None = None,
) -> Run:
    """Turn ``config`` into a ready :class:`Run` (see the module docstring).

    Args:
        config: the options.
        data: the dataset, already normalized (default: load and normalize what ``config``
            names, :func:`resolve_data`).
        normalization: the normalization ``data`` went through (recorded in :class:`Run`).
        model: a network to train instead of building one from ``config`` (``config``'s
            model options must describe its shape). Dense linear layers of it are converted to
            full CSR layers when the DST algorithm prunes a dense start (GMP, GraNet).
        run_dir: directory for checkpoints, metrics and ``best.npz`` (``None``: none).
        resolve: fill what ``config`` leaves open (dataset, layer sizes, densities) from the
            data (:func:`resolve_config`); ``False`` for a config that is already resolved.
        sizes_given, density_given: whether the user gave layer sizes / a density (else
            the defaults of ``sprig train`` are used).
        progress, lines: progress bar and per-epoch lines.
        callbacks: more callbacks, after the assembled ones.
        trainer_options: more :class:`Trainer` keywords (override the config's).

    Raises:
        ConfigError: an option combination that cannot work (refused before anything runs).
    """
    if config.threads is not None:
        set_num_threads(config.threads)
    if config.seed is None:
        config = dataclasses.replace(
            config, seed=int(np.random.SeedSequence().generate_state(1)[0] % 2**31)
        )
    if data is None:
        data, normalization = resolve_data(config)
    if resolve:
        config = resolve_config(
            config,
            data,
            sizes_given=sizes_given,
            density_given=density_given,
            normalization=normalization,
        )
    seed = int(config.seed or 0)
    steps = _steps_per_epoch(config, len(data.y_train))
    final_density = None
    owners: list[int] = []
    if model is None:
        model, final_density, owners = _build_model(config, data, seed)
        optimizer: Any = _optimizer_map(config, owners)
    else:
        final_density = _prepare_given_model(model, config)
        optimizer = _single_optimizer(config)
    schedule = build_schedule(config.schedule, steps_per_epoch=steps, epochs=config.epochs)
    cbs: list[Callback] = []
    topo: TopologyUpdate | None = None
    alg = algorithm_from_config(
        config, epochs=config.epochs, steps_per_epoch=steps, final_density=final_density
    )
    if alg is not None:
        check_inputs(alg, optimizer, model)
        topo = TopologyUpdate(alg, seed=seed)
        cbs.append(topo)
    path = None if run_dir is None else Path(run_dir)
    if path is not None:
        cbs.append(
            Checkpoint(
                path / "checkpoint.npz",
                every_steps=config.checkpoint_every * steps or None,
                config=config.to_dict(),
            )
        )
        cbs.append(MetricsLogger(path))
    # model choice uses the validation split when there is one, never the test set then
    split = "val" if config.validation_split > 0 else "test"
    if config.patience is not None:
        cbs.append(EarlyStopping(f"{split}_loss", patience=config.patience))
    if config.keep_best:
        cbs.append(
            KeepBest(
                f"{split}_accuracy", path=None if path is None else path / "best.npz", restore=True
            )
        )
    cbs += list(callbacks)
    cbs.append(ProgressBar(steps, disable=not progress, lines=lines))
    cbs += _diagnostics(config, data, model)
    augment = None
    if config.augment:
        if data.image_shape is None:
            raise ConfigError(f"augment needs an image dataset; {data.name!r} has no image shape")
        c, h, w = data.image_shape
        augment = RandomCropFlip(c, h, w)
    options: dict[str, Any] = {
        "seed": seed,
        "clip_norm": config.clip or None,
        "shuffle": not config.no_shuffle,
        "drop_last": config.drop_last,
        "augment": augment,
        "density_lr_power": config.density_lr_power,
        "evaluate": not config.no_statistics,
        "micro_batches": config.micro_batches,
        "epoch_batches": (
            _preprocessed(config, normalization, model, seed)
            if config.preprocessed and normalization
            else None
        ),
        **(trainer_options or {}),
    }
    loss: Any = build_loss(config.loss)
    if model.num_outputs > 1:
        loss = HeadsLoss(loss, config.heads_loss)  # type: ignore[arg-type]
    trainer = Trainer(
        model,
        loss=loss,
        optimizer=optimizer,
        schedule=schedule,
        epochs=config.epochs,
        batch_size=config.batch_size,
        callbacks=cbs,
        **options,
    )
    return Run(config, data, normalization, model, trainer, topo, steps, path)


def _dense_to_sparse(config: TrainConfig) -> bool:
    """Does the DST algorithm prune a dense (or denser) start to the configured density?"""
    spec = config.dst
    return spec is not None and "initial_density" in dict(spec.params)


def _build_model(config: TrainConfig, data: Dataset, seed: int) -> tuple[Model, Any, Any]:
    """The network of a resolved config; its final density (dense-to-sparse) and the spec
    index each layer came from (per-layer optimizers)."""
    assert config.densities is not None
    densities = list(config.densities)
    final_density = None
    dense_to_sparse = _dense_to_sparse(config)
    if dense_to_sparse:
        assert config.dst is not None
        final_density = float(np.sum(np.array(densities) * _sizes(config)) / np.sum(_sizes(config)))
        start_density = config.dst.get("initial_density") or 1.0
        densities = [min(start_density, 0.999999)] * len(densities)
    if config.init_pruning is not None or config.post_pruning is not None:
        densities = [1.0] * len(densities)  # score dense weights, then prune them
    copies = _copies(config, densities, seed, full_sparse=dense_to_sparse)
    if config.heads > 1:
        if config.init_pruning is not None or config.load_weights or config.post_pruning:
            raise ConfigError(
                "heads > 1 cannot be combined with init_pruning, post_pruning or load_weights"
            )
        tree, paths = _trunk_heads(config, copies)
        return tree, final_density, paths
    layers, owners = copies[0]
    model = MLP(layers)
    if config.init_pruning is not None:
        model = _prune_at_init(model, config, data, list(config.densities), seed)
    if config.load_weights:
        from ..models.nerva_io import load_any_weights

        load_any_weights(model, config.load_weights)
    if config.post_pruning is not None:
        from ..seft.pruning import prune_config_model

        prune_config_model(model, config, data, seed)
    return model, final_density, owners


def _copies(
    config: TrainConfig, densities: Sequence[float], seed: int, *, full_sparse: bool = False
) -> list[tuple[list[Any], list[int]]]:
    """``config.heads`` independently initialised copies of the layer list with each layer's
    spec index; copy 0 draws from ``[seed, MODEL_TAG]`` (the single network), copy ``m`` from
    ``[seed, MODEL_TAG, m]``."""
    copies = []
    for m in range(config.heads):
        owners: list[int] = []
        layers = build_layers(
            config.layers,
            config.layer_sizes,
            densities,
            rng=np.random.default_rng([seed, MODEL_TAG] + ([m] if m else [])),
            dtype=np.dtype(config.dtype),
            inits=config.layer_weights,
            dropouts=config.dropouts,
            owners=owners,
            fan_in=config.fan_in,
        )
        if full_sparse:  # dense-to-sparse algorithms start from full CSR layers
            from ..layers.linear import SparseLinear

            for k, layer in enumerate(layers):
                if isinstance(layer, SparseLinear) and layer.weight.density >= 0.999:
                    layers[k] = _full_sparse(layer)
        copies.append((layers, owners))
    return copies


def _trunk_heads(
    config: TrainConfig, copies: list[tuple[list[Any], list[int]]]
) -> tuple[Model, dict[str, int]]:
    """The trunk + heads model of the copies, and each layer path's spec index."""
    is_linear = [spec.is_linear for spec in config.layers]
    tree = from_backbones([blocks(la, ow, is_linear) for la, ow in copies], config.head_blocks)
    owner_of = {id(la): o for layers, ow in copies for la, o in zip(layers, ow, strict=True)}
    paths = {p: owner_of[id(la)] for p, la in leaves(tree.net) if id(la) in owner_of}
    return tree, paths


def _prepare_given_model(model: Model, config: TrainConfig) -> float | None:
    """For a dense-to-sparse algorithm: convert the given model's dense linear layers to full
    CSR layers (same weights) and return the final density (``config``'s densities)."""
    if not _dense_to_sparse(config):
        return None
    if not isinstance(model, MLP):
        raise ConfigError("a dense-to-sparse start (GMP, GraNet) needs a sequential model")
    from ..layers.linear import Linear, SparseLinear
    from ..matrices.csr import CSRMatrix

    assert config.densities is not None and config.dst is not None
    linear = model.linear_layers()
    sizes = np.array([lyr.in_features * lyr.out_features for lyr in linear.values()], float)
    target = float(np.sum(np.array(config.densities) * sizes) / np.sum(sizes))
    current = sum(lyr.nnz for lyr in linear.values()) / float(np.sum(sizes))
    if target >= current:
        raise ConfigError(
            f"{config.dst.name} prunes the model to a lower density, but the model's density "
            f"{current:.4g} is not above the target {target:.4g}: build the model dense "
            "(density 1) and give the target density"
        )
    for i, layer in linear.items():
        if isinstance(layer, Linear) and not isinstance(layer, SparseLinear):
            W = CSRMatrix.from_dense(
                np.ones((layer.out_features, layer.in_features)), dtype=layer.dtype
            )
            W.data[...] = np.asarray(layer.weight, dtype=layer.dtype).reshape(-1)
            sparse = SparseLinear(
                layer.in_features,
                layer.out_features,
                weight=W,
                bias=layer.bias is not None,
                dtype=layer.dtype,
            )
            if layer.bias is not None and sparse.bias is not None:
                sparse.bias[...] = layer.bias
            model.net.layers[i] = sparse
    return target


def _optimizer_map(config: TrainConfig, owners: Any) -> dict[Any, Any]:
    """Rule per layer: ``owners`` maps each built layer (its index in a sequential network,
    or its path in a model tree) to the spec it came from; Nerva gives one optimizer per
    spec. Tree paths become name patterns (``"heads.1.0.*"``)."""
    specs: list[OptimizerSpec] = list(config.optimizers)
    if config.weight_decay:
        specs = [
            s.replace(weight_decay=config.weight_decay) if s.get("weight_decay") == 0 else s
            for s in specs
        ]
    built = [build_optimizer(s) for s in specs]
    if isinstance(owners, dict):
        return {f"{path}.*": built[owner] for path, owner in owners.items()}
    return {i: built[owner] for i, owner in enumerate(owners)}


def _single_optimizer(config: TrainConfig) -> Any:
    """One update rule for a given model (whose layers no config spec describes one by one)."""
    specs = set(config.optimizers)
    if len(specs) != 1:
        raise ConfigError(
            "a given model takes one optimizer for all its layers, got "
            + "; ".join(str(s) for s in config.optimizers)
        )
    spec = config.optimizers[0]
    if config.weight_decay and spec.get("weight_decay") == 0:
        spec = spec.replace(weight_decay=config.weight_decay)
    return build_optimizer(spec)


def build_model(config: TrainConfig) -> Model:
    """A freshly initialised network of a resolved ``config``, built as :func:`assemble`
    builds it (the inspect commands load stored weights on top)."""
    seed = int(config.seed or 0)
    densities = (
        list(config.densities) if config.densities is not None else [config.overall_density or 1.0]
    )
    copies = _copies(config, densities, seed)
    if config.heads > 1:
        return _trunk_heads(config, copies)[0]
    return MLP(copies[0][0])


def load_data(config: TrainConfig, *, data_dir: str | None = None, subset: bool = True) -> Dataset:
    """The dataset the config names (default: digits), with the run's train/test subset
    unless ``subset=False``; ``data_dir`` overrides the config's."""
    from ..data.generated import generate

    name = config.dataset or "digits"
    if config.dataset_kind == "generated" or name in ("checkerboard", "mini"):
        data = generate(name, config.dataset_size or 2000, seed=config.seed or 0)
    else:
        kind = None if config.dataset_kind == "auto" else config.dataset_kind
        data = load_dataset(name, kind=kind, root=data_dir or config.data_dir)
    if subset and (config.train_size is not None or config.test_size is not None):
        if config.train_size is not None and config.train_size > len(data.y_train):
            raise ConfigError(
                f"train_size {config.train_size} exceeds the {len(data.y_train)} training samples"
            )
        data = data.subset(config.train_size, config.test_size, seed=config.seed or 0)
    return data


def fit_normalization(config: TrainConfig, data: Dataset) -> Normalization:
    """The config's normalization fitted on ``data``'s training split (``auto``: what the
    field uses — ``scale`` to [0, 1] for grayscale images with a known pixel range (MNIST,
    Fashion-MNIST), per-channel standardization for colour images (CIFAR-10), per-feature
    standardization otherwise)."""
    method = config.normalize
    if method == "auto":
        if data.image_shape is not None and data.image_shape[0] > 1:
            method = "channel"
        elif data.image_shape is not None and data.pixel_max:
            method = "scale"
        else:
            method = "standardize"
    return Normalization.fit(
        method,
        data.x_train,
        pixel_max=data.pixel_max,
        channels=data.image_shape[0] if data.image_shape else None,
    )


def resolve_data(
    config: TrainConfig, normalization: Normalization | None = None
) -> tuple[Dataset, Normalization]:
    """Load, subset, split and normalize the dataset the config names (default: digits);
    ``normalization`` (e.g. the one a run recorded) is applied instead of fitting one."""
    data = load_data(config)
    if config.validation_split > 0:  # before normalization: it is fitted on training rows only
        data = data.split_validation(config.validation_split, seed=int(config.seed or 0))
    norm = normalization or fit_normalization(config, data)
    return norm.apply_dataset(data), norm


def resolve_config(
    config: TrainConfig,
    data: Dataset,
    *,
    sizes_given: bool,
    density_given: bool,
    normalization: Normalization | None = None,
) -> TrainConfig:
    """Fill what the user left open so the saved config reproduces the run exactly: the
    dataset, layer sizes, densities, the normalization ``auto`` resolved to, and the global
    weight decay written into each optimizer it applies to."""
    changes: dict[str, Any] = {}
    if normalization is not None and config.normalize == "auto":
        changes["normalize"] = normalization.method
    if config.weight_decay:  # write back what is in force: inside each optimizer
        changes["optimizers"] = tuple(
            s.replace(weight_decay=config.weight_decay) if s.get("weight_decay") == 0 else s
            for s in config.optimizers
        )
        changes["weight_decay"] = 0.0
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
            exempt = dense_layer_indices(config.dense_layers, len(shapes))
            if len(exempt) == len(shapes):
                raise ConfigError(
                    f"dense_layers {','.join(config.dense_layers)} exempts every linear layer; "
                    "nothing is left to sparsify"
                )
            dens = tuple(
                density_mod.densities(config.density_method, shapes, overall, dense=exempt)
            )
        changes["densities"] = dens
        changes["overall_density"] = None
    return dataclasses.replace(config, **changes)


def _diagnostics(config: TrainConfig, data: Dataset, model: Model) -> list[Callback]:
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


def _preprocessed(config: TrainConfig, norm: Normalization, model: Model, seed: int) -> Any:
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
            num_classes=model.output_features,
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
