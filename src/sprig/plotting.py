"""Plots of a training run (matplotlib, Agg backend; the optional ``sprig[plot]`` extra).

Every function takes plain data (metrics rows as written to ``metrics.jsonl``, arrays of
weight values) and writes one PNG; :func:`plot_run` writes them all. matplotlib is imported
lazily, so importing this module never needs it; a missing matplotlib is a
:class:`~sprig.errors.SprigError` telling how to install it.

Metrics rows (see :class:`sprig.training.callbacks.MetricsLogger`) carry ``epoch``,
``train_loss``, ``train_accuracy``, ``test_loss``/``test_accuracy`` (when there is a test set),
``layers`` (``{index: {"nnz", "density"}}``) and, with dynamic sparse training, ``dst``: the
epoch's topology updates ``[{"t": update, "layers": [{"layer", "pruned", "grown",
"itop_rate", ...}]}]``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, SprigError

__all__ = [
    "plot_densities",
    "plot_dst",
    "plot_learning_curves",
    "plot_run",
    "plot_weight_histograms",
    "read_metrics",
    "require_matplotlib",
    "weight_values",
]


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the Agg backend.

    Raises:
        SprigError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise SprigError(
            f"plotting needs matplotlib ({e}); install sprig[plot] (pip install 'sprig[plot]')"
        ) from None
    return plt


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` file. A torn last line (a killed run) is skipped.

    Raises:
        DataError: the file is missing or a line other than the last is not a JSON object.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"metrics file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    rows = []
    for k, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            if k == len(lines) and not text.endswith("\n"):
                break  # torn last line of a run killed mid-write
            raise DataError(f"{path} line {k} is not valid JSON ({e})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path} line {k} is not a JSON object")
        rows.append(row)
    return rows


def weight_values(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Stored weight values per affine layer of a sprig state dict (or Nerva ``W1, b1, …``):
    ``{"layer <i>": values}`` (the non-zeros of a sparse layer, every entry of a dense one)."""
    out: dict[str, np.ndarray] = {}
    found = []
    for key in state:
        head, _, rest = key.partition(".")
        if head.isdigit() and rest in ("weight", "weight.data"):
            found.append((int(head), key))
    for i, key in sorted(found):
        out[f"layer {i}"] = np.asarray(state[key]).reshape(-1)
    k = 1
    while not found and f"W{k}" in state:
        W = np.asarray(state[f"W{k}"]).reshape(-1)
        out[f"W{k}"] = W[W != 0]
        k += 1
    return out


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, r in enumerate(rows):
        v = r.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            xs.append(float(r.get("epoch", i + 1)))
            ys.append(float(v))
    return xs, ys


def _integer_x(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=100)
    os.replace(tmp, path)
    return path


def plot_learning_curves(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Train/test loss and accuracy against the epoch."""
    plt = require_matplotlib()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    try:
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "accuracy")):
            for part, style in (("train", "-o"), ("test", "--s")):
                xs, ys = _series(rows, f"{part}_{metric}")
                if xs:
                    ax.plot(xs, ys, style, label=part, markersize=3)
            ax.set_xlabel("epoch")
            _integer_x(ax)
            ax.set_ylabel(metric)
            ax.set_title(metric)
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend()
        fig.tight_layout()
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def plot_densities(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Density of each affine layer against the epoch (from the rows' ``layers``)."""
    plt = require_matplotlib()
    series: dict[str, tuple[list[float], list[float]]] = {}
    for i, r in enumerate(rows):
        layers = r.get("layers")
        if not isinstance(layers, Mapping):
            continue
        for name, info in layers.items():
            if isinstance(info, Mapping) and isinstance(info.get("density"), int | float):
                xs, ys = series.setdefault(str(name), ([], []))
                xs.append(float(r.get("epoch", i + 1)))
                ys.append(float(info["density"]))
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        for name, (xs, ys) in sorted(
            series.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0
        ):
            ax.plot(xs, ys, "-o", markersize=3, label=f"layer {name}")
        ax.set_xlabel("epoch")
        _integer_x(ax)
        ax.set_ylabel("density (stored / dense)")
        ax.set_title("per-layer density")
        ax.grid(True, alpha=0.3)
        if series:
            ax.legend()
        fig.tight_layout()
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def dst_updates(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every topology update of the run, in order: ``{"update", "epoch", "layers"}``."""
    out: list[dict[str, Any]] = []
    for i, r in enumerate(rows):
        dst = r.get("dst")
        if not isinstance(dst, list):
            continue
        for u in dst:
            if isinstance(u, Mapping) and isinstance(u.get("layers"), list):
                out.append(
                    {
                        "update": len(out) + 1,
                        "epoch": r.get("epoch", i + 1),
                        "layers": [x for x in u["layers"] if isinstance(x, Mapping)],
                    }
                )
    return out


def plot_dst(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path | None:
    """Per topology update and layer: pruned and grown counts, the fraction of grown
    positions that were never active before, and the fraction of all positions ever active
    (ITOP's exploration rate); ``None`` (no file) when the run has no DST updates."""
    updates = dst_updates(rows)
    if not updates:
        return None
    plt = require_matplotlib()
    per_layer: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for u in updates:
        for lay in u["layers"]:
            name = str(lay.get("layer", "?"))
            for key in ("pruned", "grown", "itop_rate", "explored"):
                v = lay.get(key)
                if isinstance(v, int | float) and not isinstance(v, bool):
                    xs, ys = per_layer.setdefault(name, {}).setdefault(key, ([], []))
                    xs.append(float(u["update"]))
                    ys.append(float(v))
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    try:
        for ax, key, title in zip(
            axes,
            ("pruned", "grown", "itop_rate", "explored"),
            (
                "pruned per update",
                "grown per update",
                "new positions among the grown",
                "explored: ever-active / all positions",
            ),
            strict=True,
        ):
            for name, d in per_layer.items():
                if key in d:
                    xs, ys = d[key]
                    ax.plot(xs, ys, "-o", markersize=3, label=f"layer {name}")
            ax.set_xlabel("topology update")
            _integer_x(ax)
            ax.set_title(title)
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend()
        fig.tight_layout()
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def plot_weight_histograms(
    weights: Mapping[str, np.ndarray], path: str | os.PathLike[str], *, bins: int = 50
) -> Path:
    """One histogram of ``|w|`` (stored weights) per layer."""
    plt = require_matplotlib()
    n = max(len(weights), 1)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.5), squeeze=False)
    try:
        for ax, (name, values) in zip(axes[0], weights.items(), strict=False):
            v = np.abs(np.asarray(values, dtype=np.float64).reshape(-1))
            v = v[np.isfinite(v)]
            if v.size:
                ax.hist(v, bins=bins, color="C0")
            ax.set_title(f"{name} ({v.size} weights)")
            ax.set_xlabel("|w|")
            ax.set_ylabel("count")
        if not weights:
            axes[0][0].set_title("no weights")
        fig.tight_layout()
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def plot_run(
    rows: Sequence[Mapping[str, Any]],
    weights: Mapping[str, np.ndarray],
    out_dir: str | os.PathLike[str],
) -> list[Path]:
    """Every plot of a run into ``out_dir``: ``learning_curves.png``, ``density.png``,
    ``dst.png`` (with DST) and ``weights.png`` (when ``weights`` is non-empty)."""
    out = Path(out_dir)
    written = [
        plot_learning_curves(rows, out / "learning_curves.png"),
        plot_densities(rows, out / "density.png"),
    ]
    dst = plot_dst(rows, out / "dst.png")
    if dst is not None:
        written.append(dst)
    if weights:
        written.append(plot_weight_histograms(weights, out / "weights.png"))
    return written
