r"""NeuroTrails on sprig's own models: build a trunk + heads tree from a Nerva-style layer
spec, train it (or one of the baselines) and measure it.

A backbone is a Nerva layer list (``"ReLU;ReLU;ReLU;Linear"`` with sizes
``[784, 256, 256, 256, 10]``); its *blocks* are its linear-type entries with the extra layers
that follow them (:func:`sprig.models.multihead.blocks`). ``M`` independently initialised
copies are built; the trunk is copy 0's first ``B − k`` blocks and head ``m`` is the last ``k``
blocks of copy ``m`` (:func:`sprig.models.multihead.from_backbones`), so every head has its
own classifier and the trunk exists once (its gradient is the sum of the heads' gradients).

Methods (:data:`METHODS`), all built and trained by the same code:

=============  ======  =============  ========  ======================================
method         copies  head blocks    density   loss over outputs
=============  ======  =============  ========  ======================================
neurotrails    M       k              d (DST)   mean of heads (``combine="mean"``)
treenet        M       k              1         mean of heads
ensemble       M       B (no trunk)   1         **sum** (each member trains as alone)
dense          1       —              1         —
sparse         1       —              d (DST)   —
=============  ======  =============  ========  ======================================

Sparse runs split ``d`` over all linear layers of the tree by ERK (the trunk counted once, every
head's layers counted) and train with :func:`~sprig.neurotrails.algorithm.neurotrails_dst`.
The prediction of a multi-output model is the mean of its outputs' logits.

Counts per prediction (one input row): ``parameters`` = stored weights (nnz) + biases +
other trainable parameters of the whole tree (the trunk once); ``flops`` =
``Σ_affine 2·nnz`` (one multiply and one add per stored weight; biases, activations and the
averaging of the heads are not counted).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.datasets import Dataset
from ..errors import ConfigError, SprigError
from ..losses import HeadsLoss, SoftmaxCrossEntropy
from ..models.model import Model
from ..models.multihead import blocks, from_backbones
from ..sparsity import density as density_mod
from ..specs.types import LayerSpec, parse_inits, parse_layers
from ..training.build import build_layers
from .algorithm import neurotrails_dst
from .metrics import ECE_BINS, evaluate_heads

__all__ = ["METHODS", "Recipe", "build", "count", "run"]

#: The method and its baselines.
METHODS = ("neurotrails", "treenet", "ensemble", "dense", "sparse")


def _specs(layers: str | Sequence[LayerSpec]) -> tuple[LayerSpec, ...]:
    return parse_layers(layers) if isinstance(layers, str) else tuple(layers)


def plan(
    method: str, n_blocks: int, heads: int, head_blocks: int, density: float
) -> dict[str, Any]:
    """``copies``, ``head_blocks``, ``density`` and ``combine`` of ``method`` (module table).

    Raises:
        ConfigError: on an unknown method or a bad number.
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise ConfigError(f"heads must be a positive integer, got {heads!r}")
    if not (isinstance(density, int | float) and 0.0 < density <= 1.0):
        raise ConfigError(f"density must be in (0, 1], got {density!r}")
    if method == "neurotrails":
        return {"copies": heads, "head_blocks": head_blocks, "density": float(density),
                "combine": "mean"}  # fmt: skip
    if method == "treenet":
        return {"copies": heads, "head_blocks": head_blocks, "density": 1.0, "combine": "mean"}
    if method == "ensemble":
        return {"copies": heads, "head_blocks": n_blocks, "density": 1.0, "combine": "sum"}
    if method == "dense":
        return {"copies": 1, "head_blocks": n_blocks, "density": 1.0, "combine": "mean"}
    return {"copies": 1, "head_blocks": n_blocks, "density": float(density), "combine": "mean"}


def tree_densities(
    shapes: Sequence[tuple[int, int]], copies: int, head_blocks: int, density: float, rule: str
) -> list[float]:
    """Per-linear-layer densities of a backbone copy when ``density`` is split by ``rule``
    over the whole tree: the trunk's ``B − k`` layers once and the last ``k`` layers
    ``copies`` times. Layers of the same shape get the same density (ERK depends on the
    shape and one common factor), so one list serves every copy.

    >>> [round(d, 4) for d in tree_densities([(100, 50), (10, 100)], 3, 1, 0.5, "erk")]
    [0.25, 0.9167]
    """
    n = len(shapes)
    trunk = list(shapes[: n - head_blocks])
    head = list(shapes[n - head_blocks :])
    try:
        ds = density_mod.densities(rule, trunk + head * copies, float(density))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return ds[: len(trunk)] + ds[len(trunk) : len(trunk) + len(head)]


def build(
    layers: str | Sequence[LayerSpec],
    sizes: Sequence[int],
    *,
    method: str = "neurotrails",
    heads: int = 3,
    head_blocks: int = 1,
    density: float = 0.2,
    distribution: str = "erk",
    seed: int = 0,
    dtype: Any = np.float32,
    init: str | None = None,
) -> Model:
    """The model of ``method`` (module table) for the backbone ``layers``/``sizes``.

    Copy ``m`` is built from ``np.random.default_rng([seed, m])``, so the copies (and the
    heads) are independently initialised, and a baseline with the same ``seed`` shares copy 0
    with NeuroTrails. ``init`` is a Nerva initializer spec for the linear layers (``"He"``,
    ``"Xavier"``, one per layer separated by ``;``...; default: the layers' own, Nerva's
    Xavier ``U(±1/√fan_in)``, which shrinks the signal of deep ReLU backbones).

    Examples:
        >>> m = build("ReLU;ReLU;Linear", [64, 32, 32, 10], heads=3, head_blocks=2, density=0.5)
        >>> list(m.sparse_weights())  # doctest: +NORMALIZE_WHITESPACE
        ['trunk.0.weight', 'heads.0.0.weight', 'heads.0.2.weight', 'heads.1.0.weight',
         'heads.1.2.weight', 'heads.2.0.weight', 'heads.2.2.weight']
        >>> m.predict(np.zeros((2, 64))).shape
        (2, 10)
    """
    specs = _specs(layers)
    n_blocks = sum(1 for s in specs if s.is_linear)
    if (
        isinstance(head_blocks, bool)
        or not isinstance(head_blocks, int)
        or not (1 <= head_blocks <= n_blocks)
    ):
        raise ConfigError(
            f"head_blocks must be an integer in 1..{n_blocks} (the backbone has {n_blocks} "
            f"blocks), got {head_blocks!r}"
        )
    p = plan(method, n_blocks, heads, head_blocks, density)
    shapes = density_mod.shapes_from_sizes(list(sizes)) if len(sizes) >= 2 else []
    if len(shapes) != n_blocks:
        raise ConfigError(
            f"{len(sizes)} sizes need {len(sizes) - 1} linear-type layers, got {n_blocks}"
        )
    ds = tree_densities(shapes, p["copies"], p["head_blocks"], p["density"], distribution)
    linear = [s.is_linear for s in specs]
    inits = _inits(init)
    copies = []
    for m in range(p["copies"]):
        owners: list[int] = []
        built = build_layers(
            specs, list(sizes), ds, rng=np.random.default_rng([seed, m]), dtype=dtype,
            owners=owners, inits=inits,
        )  # fmt: skip
        copies.append(blocks(built, owners, linear))
    return from_backbones(copies, p["head_blocks"])


def _inits(init: str | None) -> tuple[Any, ...]:
    if init is None:
        return (None,)
    if not isinstance(init, str):
        raise ConfigError(f"init must be an initializer spec such as 'He', got {init!r}")
    try:
        return parse_inits(init)
    except (SprigError, ValueError) as e:
        raise ConfigError(f"bad init {init!r}: {str(e).splitlines()[0]}") from None


def count(model: Model) -> dict[str, int]:
    """``parameters`` and ``flops`` per prediction (module docstring), ``weights_nnz``."""
    c = model.count()
    nnz = sum(int(layer.nnz) for layer in model.affine_modules().values())
    return {"parameters": c["parameters"], "weights_nnz": nnz, "flops": 2 * nnz}


@dataclass(frozen=True)
class Recipe:
    """How to train: SGD with momentum, a cosine learning rate, NeuroTrails' DST settings.

    ``every`` is the DST update interval in optimizer steps (the paper: 1000 for CV, 50 for
    LLMs; shorter runs need a shorter one); ``prune`` ``"magnitude"`` or ``"soft_magnitude"``.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    prune: str = "magnitude"
    temperature: float = 3.0
    drop_rate: float = 0.5
    every: int = 100
    end: float = 1.0


def run(
    data: Dataset,
    layers: str | Sequence[LayerSpec],
    sizes: Sequence[int],
    *,
    method: str = "neurotrails",
    heads: int = 3,
    head_blocks: int = 1,
    density: float = 0.2,
    distribution: str = "erk",
    recipe: Recipe = Recipe(),
    seed: int = 0,
    bins: int = ECE_BINS,
    combine: str | None = None,
    init: str | None = None,
) -> dict[str, Any]:
    """Build, train and evaluate ``method`` on ``data``; returns the metrics of
    :func:`~sprig.neurotrails.metrics.evaluate_heads` on the test split plus
    :func:`count`, the settings, the number of topology updates (``dst_updates``) and the
    training time in seconds. ``combine`` overrides the
    method's rule for the heads' losses (``"mean"`` or ``"sum"``); ``init`` as in
    :func:`build`."""
    from ..optimizers import Momentum
    from ..schedules import Cosine
    from ..training.dst import TopologyUpdate
    from ..training.loop import Trainer

    model = build(
        layers, sizes, method=method, heads=heads, head_blocks=head_blocks, density=density,
        distribution=distribution, seed=seed, init=init,
    )  # fmt: skip
    n_blocks = sum(1 for s in _specs(layers) if s.is_linear)
    p = plan(method, n_blocks, heads, head_blocks, density)
    steps_per_epoch = -(-len(data.y_train) // recipe.batch_size)
    total = recipe.epochs * steps_per_epoch
    callbacks = []
    if model.sparse_modules():
        alg = neurotrails_dst(
            total, prune=recipe.prune, temperature=recipe.temperature,
            drop_rate=recipe.drop_rate, every=recipe.every, end=recipe.end,
        )  # fmt: skip
        callbacks.append(TopologyUpdate(alg, seed=seed))
    loss: Any = SoftmaxCrossEntropy()
    if model.num_outputs > 1:
        loss = HeadsLoss(loss, combine or p["combine"])  # type: ignore[arg-type]
    trainer = Trainer(
        model,
        loss=loss,
        optimizer=Momentum(recipe.momentum, weight_decay=recipe.weight_decay),
        schedule=Cosine(recipe.lr, total),
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        seed=seed,
        callbacks=callbacks,
        evaluate=False,
    )
    t0 = time.perf_counter()
    trainer.fit(data)
    seconds = time.perf_counter() - t0
    out = model.predict_outputs(data.x_test)
    logits = list(out) if isinstance(out, tuple) else [out]
    result = evaluate_heads(logits, data.y_test, bins=bins)
    result.update(count(model))
    result.update(
        method=method, heads=p["copies"], head_blocks=p["head_blocks"] if p["copies"] > 1 else 0,
        density=p["density"], seed=seed, seconds=seconds,
        dst_updates=int(trainer.state.extra.get("dst", {}).get("updates", 0)),
    )  # fmt: skip
    return result
