"""The short Python API: build a sparse MLP from spec strings and fit it in one call.

>>> import sprig
>>> from sprig.data import load_digits
>>> model = sprig.sparse_mlp("ReLU;ReLU;Linear", [64, 128, 64, 10], density=0.2, seed=0)
>>> history = sprig.fit(model, load_digits(), epochs=2, optimizer="Momentum(0.9)", lr=0.05,
...                     dst="SET(0.3)", normalize="standardize", progress=False, lines=False)
>>> len(history), history[-1]["test_accuracy"] > 0.8
(2, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .data.datasets import Dataset
from .data.normalization import Normalization
from .errors import ConfigError
from .models.mlp import MLP
from .sanity import check_network
from .sparsity import density as density_mod
from .specs.types import parse_layers
from .training.assemble import Run
from .training.build import build_mlp
from .training.callbacks import Callback


def sparse_mlp(
    layers: str,
    sizes: Sequence[int],
    *,
    density: float | Sequence[float] = 0.1,
    density_method: str = "erk",
    seed: int = 0,
    dtype: Any = np.float32,
    fan_in: str = "actual",
) -> MLP:
    """An MLP from Nerva-style specs: ``sparse_mlp("ReLU;ReLU;Linear", [784, 300, 100, 10])``.

    ``density`` is one overall density (split over the layers by ``density_method``: erk, er
    or uniform) or one density per linear layer; layers at density 1 are dense.
    """
    specs = parse_layers(layers)
    if isinstance(density, int | float):
        shapes = density_mod.shapes_from_sizes(list(sizes))
        try:
            per_layer = density_mod.densities(density_method, shapes, float(density))
        except ValueError as e:
            raise ConfigError(str(e)) from None
    else:
        per_layer = [float(d) for d in density]
    model = build_mlp(
        specs, list(sizes), per_layer, rng=np.random.default_rng(seed), dtype=dtype, fan_in=fan_in
    )
    check_network(model)
    return model


def as_dataset(data: Any) -> Dataset:
    """``data`` as a :class:`Dataset`: a Dataset as is, ``(X, y)`` (training only) or
    ``(X, y, X_test, y_test)``.

    Raises:
        ConfigError: anything else (named by its type).
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple | list) and len(data) in (2, 4):
        X, y = data[0], data[1]
        X_test, y_test = (data[2], data[3]) if len(data) == 4 else (np.asarray(X)[:0], None)
        y_test = np.asarray(y)[:0] if y_test is None else y_test
        return Dataset.from_arrays(X, y, X_test, y_test, name="data")
    raise ConfigError(
        f"data must be a sprig Dataset, (X, y) or (X, y, X_test, y_test); got "
        f"{type(data).__name__}"
        + (f" of length {len(data)}" if isinstance(data, tuple | list) else "")
    )


def fit(
    model: MLP,
    data: Dataset | tuple[Any, ...],
    *,
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: str = "Momentum(0.9)",
    lr: float | str = 0.01,
    loss: str = "softmax_cross_entropy",
    dst: str | None = None,
    prune: str | None = None,
    grow: str | None = None,
    density: float | None = None,
    normalize: str = "none",
    seed: int = 0,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    lines: bool = True,
    **trainer_options: Any,
) -> list[dict[str, Any]]:
    """Train ``model`` on ``data`` and return the history (one metrics dict per epoch).

    ``data`` is a :class:`Dataset`, ``(X, y)`` or ``(X, y, X_test, y_test)`` (see
    :func:`as_dataset`). ``optimizer``, ``lr`` (a number or a schedule spec, parameters in
    epochs), ``loss``, ``dst``, ``prune`` and ``grow`` are spec strings, as for ``sprig
    train``; ``normalize`` is fitted on the training split. ``density`` is the final density
    of a dense-to-sparse algorithm (GMP, GraNet: build the model dense and give the target
    here).
    ``trainer_options`` go to :class:`~sprig.training.loop.Trainer` (``clip_norm``,
    ``density_lr_power``, ``augment``...). The run is put together by the same assembler as
    ``sprig train`` (:func:`sprig.training.assemble.assemble`); use :func:`train` for every
    option of a :class:`~sprig.specs.config.TrainConfig`.
    """
    from .specs.config import TrainConfig
    from .training.assemble import assemble

    data = as_dataset(data)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    if normalize != "none":
        data = Normalization.fit(normalize, data.x_train, pixel_max=data.pixel_max).apply_dataset(
            data
        )
    linear = list(model.linear_layers().values())
    if not linear:
        raise ConfigError("fit needs a model with at least one linear layer")
    sizes = [linear[0].in_features, *(layer.out_features for layer in linear)]
    if density is None:
        densities = [layer.nnz / (layer.in_features * layer.out_features) for layer in linear]
    else:
        densities = [density]
    config = TrainConfig.from_dict(
        {
            "layers": ("linear",) * len(linear),
            "layer_sizes": tuple(sizes),
            "densities": tuple(densities),
            "optimizers": optimizer,
            "learning_rate": lr,
            "loss": loss,
            "dst": dst,
            "prune": prune,
            "grow": grow,
            "epochs": epochs,
            "batch_size": batch_size,
            "seed": seed,
            "dtype": np.dtype(model.dtype).name,
            "normalize": "none",
        }
    )
    run = assemble(
        config,
        data=data,
        model=model,
        resolve=False,
        progress=progress,
        lines=lines,
        callbacks=callbacks,
        trainer_options=trainer_options,
    )
    return run.fit()


def train(
    config: Any,
    *,
    run_dir: str | Path | None = None,
    progress: bool = True,
    **options: Any,
) -> Run:
    """Everything ``sprig train`` does, from Python: assemble the run of ``config`` and train it.

    ``config`` is a :class:`~sprig.specs.config.TrainConfig`, a dict of options (the CLI's
    names, spec strings or typed values), or the path of a TOML file; ``options`` override it.
    As with ``sprig train``, layer sizes left out come from the dataset (default: digits) and
    a density left out is 0.1.
    Returns the trained :class:`~sprig.training.assemble.Run` (``run.model``,
    ``run.history``). Checkpoints and metrics go to ``run_dir`` when given.

    >>> run = train({"layers": "ReLU;Linear", "epochs": 1, "dst": "RigL(every=10)", "seed": 0},
    ...             progress=False)
    >>> len(run.history), run.topology is not None
    (1, True)
    """
    import dataclasses

    from .specs.config import TrainConfig
    from .training.assemble import assemble

    if isinstance(config, str | Path):
        config = TrainConfig.from_toml(config)
    given = dict(config.to_dict() if isinstance(config, TrainConfig) else config) | options
    keys = {str(k).replace("-", "_") for k in given}
    sizes_given = "layer_sizes" in keys
    if not sizes_given:  # resolved from the data, as sprig train does
        layers = given.get("layers", "")
        n = len(str(layers).split(";")) if isinstance(layers, str) else len(layers)
        given["layer_sizes"] = ";".join(["1"] * (n + 1))
    config = TrainConfig.from_dict(given)
    if run_dir is not None:
        config = dataclasses.replace(config, run_dir=str(run_dir))
    if run_dir is not None:
        from .io import atomic_write

        Path(run_dir).mkdir(parents=True, exist_ok=True)
    run = assemble(
        config,
        run_dir=run_dir,
        sizes_given=sizes_given,
        density_given=bool(keys & {"densities", "overall_density"}),
        progress=progress,
        lines=progress,
    )
    if run_dir is not None:  # the resolved config, as sprig train writes it
        text = run.config.to_toml().encode()
        atomic_write(Path(run_dir) / "config.toml", lambda f: f.write(text))
    run.fit()
    return run
