"""Close the loop on sprig's own engine: train a grid of sparse MLPs, write a runs file.

:func:`sweep` trains one MLP per point of sizes × densities × unique-data budgets × epochs ×
seeds through the public API (:func:`sprig.sparse_mlp`, :func:`sprig.fit`) and records each
run's final **validation** loss in a runs file (:mod:`sprig.scaling.runs`) that
:func:`sprig.scaling.fit` reads.

Choices (the paper trains LLaMA models on C4 tokens; these are the MLP analogues):

* **Validation split**: a fixed, seeded, class-stratified ``validation`` samples taken out of
  the dataset's *training* split; the unique-data subsets are drawn (stratified, nested: a
  larger budget contains every smaller one) from the rest. The dataset's test split is never
  touched.
* **Tokens**: one sample = one "token"; ``D = U × epochs``; ``params`` = weights of all
  linear layers of the dense network (biases excluded, as they are not sparsified);
  ``density`` = the nominal overall density, split **uniformly** over the layers (the paper's
  ``--sparse_init uniform``), so the stored weights are ``≈ params · density``.
* **Training**: one fresh run per epochs value, with a cosine learning-rate decay to zero over
  *that* run (the Chinchilla practice of matching the schedule to the run length), Adam,
  SET(0.3) for sparse runs (the paper's SET-style DST: magnitude prune, random growth),
  static dense for density 1. Loss: softmax cross-entropy (nats, mean over samples).
* **Unique-data subsets** are prefixes of one shuffled stratified pool of ``pool`` samples
  (default: the largest budget), so sweeps run in parts (``--resume``) with the same
  ``pool`` train on the same subsets.
* **Hold-out**: with ``holdout="largest"`` the runs of the largest network are marked
  ``split=heldout``: the law is fitted on the smaller ones and must extrapolate, as the
  paper's validation runs (larger models) do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

HOLDOUTS = ("largest", "none")


@dataclass(frozen=True)
class SweepConfig:
    """The grid and the training recipe of :func:`sweep` (see the module docstring)."""

    hidden: tuple[int, ...] = (32, 64, 128, 256)
    depth: int = 2
    densities: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)
    unique: tuple[int, ...] = (1000, 3000, 9000)
    epochs: tuple[int, ...] = (1, 4, 16)
    seeds: tuple[int, ...] = (0,)
    validation: int = 5000
    batch_size: int = 64
    lr: float = 2e-3
    optimizer: str = "Adam"
    dst: str = "SET(0.3)"
    holdout: str = "largest"
    data_seed: int = 1234
    pool: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def pos_ints(name: str, v: Sequence[int]) -> None:
            if not v or any(isinstance(x, bool) or int(x) != x or x < 1 for x in v):
                raise ConfigError(f"{name} must be positive integers, got {list(v)!r}")

        pos_ints("hidden", self.hidden)
        pos_ints("unique", self.unique)
        pos_ints("epochs", self.epochs)
        pos_ints("depth", [self.depth])
        pos_ints("batch_size", [self.batch_size])
        if not self.densities or any(not 0 < d <= 1 for d in self.densities):
            raise ConfigError(f"densities must be in (0, 1], got {list(self.densities)!r}")
        if not self.seeds:
            raise ConfigError("seeds must not be empty")
        if isinstance(self.validation, bool) or self.validation < 1:
            raise ConfigError(f"validation must be a positive integer, got {self.validation!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be > 0, got {self.lr!r}")
        if self.pool is not None and self.pool < max(self.unique):
            raise ConfigError(
                f"pool must be >= the largest unique budget {max(self.unique)}, got {self.pool}"
            )
        if self.holdout not in HOLDOUTS:
            raise ConfigError(f"holdout={self.holdout!r}; allowed: {', '.join(HOLDOUTS)}")


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        int(row["hidden"]),
        round(float(row["density"]), 9),
        int(row["unique"]),
        int(row["epochs"]),
        int(row["seed"]),
    )


def split_data(data: Any, cfg: SweepConfig) -> tuple[Any, Any, dict[int, np.ndarray]]:
    """``(x_val, y_val, {U: train indices})`` from ``data``'s training split (scaled to
    [0, 1] when ``pixel_max`` is known); nested stratified subsets, see the module doc."""
    from ..data.datasets import stratified_choice

    n = len(data.y_train)
    pool_size = cfg.pool if cfg.pool is not None else max(cfg.unique)
    need = cfg.validation + pool_size
    if need > n:
        raise ConfigError(
            f"validation {cfg.validation} + unique pool {pool_size} = {need} "
            f"samples, but {data.name} has only {n} training samples"
        )
    rng = np.random.default_rng(cfg.data_seed)
    val = stratified_choice(data.y_train, cfg.validation, rng)
    rest = np.setdiff1d(np.arange(n), val)
    # Nested budgets: a stratified pool (default: the largest budget), each budget a prefix
    # of its shuffle. The same pool size gives the same subsets whatever the budget list.
    pool = rng.permutation(rest[stratified_choice(data.y_train[rest], pool_size, rng)])
    subsets = {u: np.sort(pool[:u]) for u in sorted(cfg.unique)}
    scale = 1.0 / data.pixel_max if data.pixel_max else 1.0
    x = data.x_train
    x_val = (x[val] * scale).astype(np.float32)
    return x_val, data.y_train[val], subsets


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy in nats (float64, log-sum-exp)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))


def sweep(
    data: Any,
    cfg: SweepConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train the grid of ``cfg`` on ``data`` (a :class:`sprig.data.Dataset`) and return the
    runs as rows; with ``out``, rewrite the runs file atomically after every run (so an
    interrupted sweep keeps its finished runs), and with ``resume`` skip the runs already in
    ``out``.

    Raises:
        ConfigError: a bad grid, or not enough training samples for the splits.
    """
    import csv

    import sprig

    from ..data.datasets import Dataset
    from .runs import write_rows

    x_val, y_val, subsets = split_data(data, cfg)
    scale = 1.0 / data.pixel_max if data.pixel_max else 1.0
    rows: list[dict[str, Any]] = []
    done: set[tuple[Any, ...]] = set()
    if resume and out is not None and Path(out).exists():
        with open(out, encoding="utf-8", newline="") as f:
            rows = [dict(r) for r in csv.DictReader(f)]
        done = {_key(r) for r in rows}
    largest = max(cfg.hidden)
    layers = ";".join(["ReLU"] * cfg.depth + ["Linear"])
    grid = [
        (h, s, u, e, seed)
        for h in sorted(cfg.hidden)
        for s in cfg.densities
        for u in sorted(cfg.unique)
        for e in sorted(cfg.epochs)
        for seed in cfg.seeds
    ]
    for i, (h, s, u, e, seed) in enumerate(grid):
        row: dict[str, Any] = {"hidden": h, "density": s, "unique": u, "epochs": e, "seed": seed}
        if _key(row) in done:
            continue
        idx = subsets[u]
        train = Dataset.from_arrays(
            (data.x_train[idx] * scale).astype(np.float32),
            data.y_train[idx],
            x_val[:0],
            y_val[:0],
            num_classes=data.num_classes,
            name=f"{data.name}-U{u}",
        )
        sizes = [data.num_features] + [h] * cfg.depth + [data.num_classes]
        model = sprig.sparse_mlp(layers, sizes, density=s, density_method="uniform", seed=seed)
        t = time.perf_counter()
        hist = sprig.fit(
            model,
            train,
            epochs=e,
            batch_size=cfg.batch_size,
            optimizer=cfg.optimizer,
            lr=f"Cosine({cfg.lr!r})",
            dst=cfg.dst if s < 1 else None,
            seed=seed,
            progress=False,
            lines=False,
            evaluate=False,
            **cfg.extra,
        )
        seconds = time.perf_counter() - t
        logits = model.predict(x_val)
        count = model.count()
        row = {
            "params": count["weights_dense"],
            "density": s,
            "tokens": u * e,
            "unique": u,
            "loss": cross_entropy(logits, y_val),
            "split": "heldout" if cfg.holdout == "largest" and h == largest else "fit",
            **row,
            "density_actual": count["weights_nnz"] / count["weights_dense"],
            "val_accuracy": float(np.mean(np.argmax(logits, axis=1) == y_val)),
            "train_loss": float(hist[-1]["train_loss"]),
            "dataset": data.name,
            "seconds": round(seconds, 3),
        }
        rows.append(row)
        if out is not None:
            write_rows(out, rows)
        if log is not None:
            log(
                f"[{i + 1}/{len(grid)}] hidden={h} density={s} unique={u} epochs={e} "
                f"seed={seed}: val_loss={row['loss']:.4f} acc={row['val_accuracy']:.4f} "
                f"({seconds:.1f}s)"
            )
    return rows
