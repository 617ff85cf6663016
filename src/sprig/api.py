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
from typing import Any

import numpy as np

from .data.datasets import Dataset
from .data.normalization import Normalization
from .errors import ConfigError
from .models.mlp import MLP
from .sanity import check_network
from .sparsity import density as density_mod
from .specs.types import parse_dst, parse_layers, parse_learning_rate, parse_loss, parse_optimizer
from .training.build import build_loss, build_mlp, build_optimizer, build_schedule
from .training.callbacks import Callback, ProgressBar
from .training.dst import TopologyUpdate, make_algorithm
from .training.loop import Trainer


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
    epochs), ``loss`` and
    ``dst`` are spec strings; ``normalize`` is fitted on the training split.
    ``trainer_options`` go to :class:`~sprig.training.loop.Trainer` (``clip_norm``,
    ``density_lr_power``, ``augment``...).
    """
    data = as_dataset(data)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    if normalize != "none":
        data = Normalization.fit(normalize, data.x_train, pixel_max=data.pixel_max).apply_dataset(
            data
        )
    steps = -(-len(data.y_train) // batch_size)
    cbs: list[Callback] = []
    if dst is not None:
        algorithm = make_algorithm(parse_dst(dst), epochs=epochs, steps_per_epoch=steps)
        cbs.append(TopologyUpdate(algorithm, seed=seed))
    cbs += list(callbacks)
    cbs.append(ProgressBar(steps, disable=not progress, lines=lines))
    trainer = Trainer(
        model,
        loss=build_loss(parse_loss(loss)),
        optimizer=build_optimizer(parse_optimizer(optimizer)),
        schedule=build_schedule(parse_learning_rate(lr), steps_per_epoch=steps, epochs=epochs),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        callbacks=cbs,
        **trainer_options,
    )
    return trainer.fit(data)
