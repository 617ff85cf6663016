"""Plots of a training run (matplotlib, Agg backend; the optional ``sprig[plot]`` extra).

Every function takes plain data (metrics rows as written to ``metrics.jsonl``, arrays of
weight values) and writes one PNG; :func:`plot_run` writes them all. matplotlib is imported
lazily, so importing this module never needs it; a missing matplotlib is a
:class:`~sprig.errors.SprigError` telling how to install it.

Metrics rows (see :class:`sprig.training.callbacks.MetricsLogger`) carry ``epoch``, ``step``,
``lr``, ``train_loss``, ``train_accuracy``, ``val_*``/``test_*`` (when there is such a split),
``layers`` (``{path: {"nnz", "density"}}``) and, with dynamic sparse training, ``dst``: the
epoch's topology updates ``[{"t", "step", "explored", "layers": [{"layer", "pruned", "grown",
"unseen_grown", "explored", ...}]}]`` (runs of sprig 0.1.0 call ``unseen_grown``
``itop_rate``; both are read).

Every plotting function takes the rows of one run, or a mapping ``label → rows`` of several
runs to overlay (a paper figure comparing methods): :func:`plot_compare` draws the
learning curves, learning rate, overall density and explored fraction of several runs.
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
    "plot_compare",
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
    """Stored weight values per affine layer of a sprig state dict (or Nerva ``W1, b1, …``),
    by layer path: ``{"trunk.0": values}`` (the non-zeros of a sparse layer, every entry of
    a dense one)."""
    out: dict[str, np.ndarray] = {}
    for key in state:
        for suffix in (".weight.data", ".weight"):
            if key.endswith(suffix) and np.asarray(state[key]).dtype.kind == "f":
                out[key[: -len(suffix)]] = np.asarray(state[key]).reshape(-1)
                break
    k = 1
    while not out and f"W{k}" in state:
        W = np.asarray(state[f"W{k}"]).reshape(-1)
        out[f"W{k}"] = W[W != 0]
        k += 1
    return out


Runs = Mapping[str, Sequence[Mapping[str, Any]]]


def _runs(rows: Sequence[Mapping[str, Any]] | Runs) -> dict[str, Sequence[Mapping[str, Any]]]:
    """One run's rows or ``label → rows`` as a ``label → rows`` dict (one run: label "")."""
    if isinstance(rows, Mapping):
        return dict(rows)
    return {"": rows}


def _label(run: str, what: str) -> str:
    return f"{run}: {what}" if run else what


def _series(
    rows: Sequence[Mapping[str, Any]], key: str, x: str = "epoch"
) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, r in enumerate(rows):
        v = r.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            xs.append(float(r.get(x, i + 1) if x == "step" else r.get("epoch", i + 1)))
            ys.append(float(v))
    return xs, ys


def overall_density(row: Mapping[str, Any]) -> float | None:
    """Stored / dense weights over all affine layers of a metrics row."""
    layers = row.get("layers")
    if not isinstance(layers, Mapping):
        return None
    nnz = dense = 0.0
    for info in layers.values():
        if isinstance(info, Mapping) and info.get("density"):
            nnz += float(info["nnz"])
            dense += float(info["nnz"]) / float(info["density"])
    return nnz / dense if dense else None


def _integer_x(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=100)
    os.replace(tmp, path)
    return path


def plot_learning_curves(
    rows: Sequence[Mapping[str, Any]] | Runs, path: str | os.PathLike[str], *, x: str = "epoch"
) -> Path:
    """Loss, accuracy (when reported) and learning rate against the epoch (or ``x="step"``),
    for the train, validation and test splits of one run or several overlaid."""
    plt = require_matplotlib()
    runs = _runs(rows)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    try:
        styles = {"train": "-o", "val": ":^", "test": "--s"}
        for c, (run, rs) in enumerate(runs.items()):
            color = f"C{c % 10}" if len(runs) > 1 else None
            for ax, metric in ((axes[0], "loss"), (axes[1], "accuracy")):
                for part, style in styles.items():
                    xs, ys = _series(rs, f"{part}_{metric}", x)
                    if xs:
                        ax.plot(xs, ys, style, color=color, label=_label(run, part),
                                markersize=3)  # fmt: skip
            xs, ys = _series(rs, "lr", x)
            if xs:
                axes[2].plot(xs, ys, "-o", color=color, label=_label(run, "lr"), markersize=3)
        for ax, title in zip(axes, ("loss", "accuracy", "learning rate"), strict=True):
            ax.set_xlabel(x)
            _integer_x(ax)
            ax.set_title(title)
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(fontsize="small")
        fig.tight_layout()
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def plot_densities(
    rows: Sequence[Mapping[str, Any]] | Runs,
    path: str | os.PathLike[str],
    *,
    log: bool = False,
    x: str = "epoch",
) -> Path:
    """Density of each affine layer (by path) against the epoch (from the rows' ``layers``);
    ``log`` draws the density axis on a log scale (1 %, 10 %, 100 % equally spaced)."""
    plt = require_matplotlib()
    runs = _runs(rows)
    fig, ax = plt.subplots(figsize=(7, 4))
    try:
        for run, rs in runs.items():
            series: dict[str, tuple[list[float], list[float]]] = {}
            for i, r in enumerate(rs):
                layers = r.get("layers")
                if not isinstance(layers, Mapping):
                    continue
                for name, info in layers.items():
                    if isinstance(info, Mapping) and isinstance(info.get("density"), int | float):
                        xs, ys = series.setdefault(str(name), ([], []))
                        xs.append(float(r.get(x, i + 1) if x == "step" else r.get("epoch", i + 1)))
                        ys.append(float(info["density"]))
            for name, (xs, ys) in series.items():
                ax.plot(xs, ys, "-o", markersize=3, label=_label(run, f"layer {name}"))
        ax.set_xlabel(x)
        _integer_x(ax)
        if log:
            ax.set_yscale("log")
        ax.set_ylabel("density (stored / dense)")
        ax.set_title("per-layer density")
        ax.grid(True, alpha=0.3, which="both" if log else "major")
        if ax.lines:
            ax.legend(fontsize="small")
        fig.tight_layout()
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def dst_updates(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every topology update of the run, in order: ``{"update", "epoch", "step", "explored",
    "layers"}`` (``step``: the optimizer step of the update where recorded, else the step at
    the end of the epoch before; ``explored``: the network-wide ITOP rate where recorded)."""
    out: list[dict[str, Any]] = []
    prev_step = 0
    for i, r in enumerate(rows):
        dst = r.get("dst")
        if isinstance(dst, list):
            for u in dst:
                if isinstance(u, Mapping) and isinstance(u.get("layers"), list):
                    layers = [dict(x) for x in u["layers"] if isinstance(x, Mapping)]
                    for lay in layers:  # sprig 0.1.0 called unseen_grown itop_rate
                        if "unseen_grown" not in lay and "itop_rate" in lay:
                            lay["unseen_grown"] = lay["itop_rate"]
                    out.append(
                        {
                            "update": len(out) + 1,
                            "epoch": r.get("epoch", i + 1),
                            "step": u.get("step", prev_step),
                            "explored": u.get("explored"),
                            "layers": layers,
                        }
                    )
        if isinstance(r.get("step"), int):
            prev_step = r["step"]
    return out


def plot_dst(
    rows: Sequence[Mapping[str, Any]] | Runs,
    path: str | os.PathLike[str],
    *,
    x: str = "update",
) -> Path | None:
    """Per topology update and layer: pruned and grown counts, the fraction of grown
    positions that were never active before, and the fraction of all positions ever active
    (the ITOP rate), against the update index, the epoch or the optimizer step (``x``);
    ``None`` (no file) when no run has DST updates."""
    if x not in ("update", "epoch", "step"):
        raise DataError(f"x must be 'update', 'epoch' or 'step', got {x!r}")
    runs = {k: dst_updates(v) for k, v in _runs(rows).items()}
    if not any(runs.values()):
        return None
    plt = require_matplotlib()
    keys = ("pruned", "grown", "unseen_grown", "explored")
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    try:
        for run, updates in runs.items():
            per_layer: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
            for u in updates:
                for lay in u["layers"]:
                    name = str(lay.get("layer", "?"))
                    for key in keys:
                        v = lay.get(key)
                        if isinstance(v, int | float) and not isinstance(v, bool):
                            xs, ys = per_layer.setdefault(name, {}).setdefault(key, ([], []))
                            xs.append(float(u[x]))
                            ys.append(float(v))
            for ax, key in zip(axes, keys, strict=True):
                for name, d in per_layer.items():
                    if key in d:
                        ax.plot(*d[key], "-o", markersize=3, label=_label(run, f"layer {name}"))
            xs = [float(u[x]) for u in updates if isinstance(u.get("explored"), int | float)]
            ys = [
                float(u["explored"]) for u in updates if isinstance(u.get("explored"), int | float)
            ]
            if xs:
                axes[3].plot(xs, ys, "-k", linewidth=2, label=_label(run, "network"))
        titles = (
            "pruned per update",
            "grown per update",
            "never-active among the grown",
            "explored (ITOP rate): ever-active / all",
        )
        for ax, title in zip(axes, titles, strict=True):
            ax.set_xlabel("topology update" if x == "update" else x)
            _integer_x(ax)
            ax.set_title(title)
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(fontsize="small")
        fig.tight_layout()
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def plot_compare(
    runs: Runs, path: str | os.PathLike[str], *, log_density: bool = False, x: str = "epoch"
) -> Path:
    """Several runs overlaid (one color each): test (else validation, else train) loss and
    accuracy, the learning rate, the overall density and the network's explored fraction."""
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, 5, figsize=(22, 4))
    try:
        for c, (run, rs) in enumerate(runs.items()):
            color = f"C{c % 10}"
            for ax, metric in ((axes[0], "loss"), (axes[1], "accuracy")):
                for part in ("test", "val", "train"):
                    xs, ys = _series(rs, f"{part}_{metric}", x)
                    if xs:
                        ax.plot(xs, ys, "-o", color=color, markersize=3, label=f"{run} ({part})")
                        break
            xs, ys = _series(rs, "lr", x)
            axes[2].plot(xs, ys, "-o", color=color, markersize=3, label=run)
            dens = [(float(r.get(x, i + 1) if x == "step" else r.get("epoch", i + 1)),
                     overall_density(r)) for i, r in enumerate(rs)]  # fmt: skip
            pts = [(a, b) for a, b in dens if b is not None]
            if pts:
                axes[3].plot(*zip(*pts, strict=True), "-o", color=color, markersize=3, label=run)
            ups = [u for u in dst_updates(rs) if isinstance(u.get("explored"), int | float)]
            if ups:
                key = "epoch" if x == "epoch" else "step"
                axes[4].plot([u[key] for u in ups], [u["explored"] for u in ups], "-o",
                             color=color, markersize=3, label=run)  # fmt: skip
        titles = ("loss", "accuracy", "learning rate", "overall density", "explored (ITOP rate)")
        for ax, title in zip(axes, titles, strict=True):
            ax.set_xlabel(x)
            _integer_x(ax)
            ax.set_title(title)
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(fontsize="small")
        if log_density:
            axes[3].set_yscale("log")
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
    *,
    log_density: bool = False,
    x: str = "epoch",
) -> list[Path]:
    """Every plot of a run into ``out_dir``: ``learning_curves.png`` (with the learning
    rate), ``density.png``, ``dst.png`` (with DST) and ``weights.png`` (when ``weights`` is
    non-empty)."""
    out = Path(out_dir)
    written = [
        plot_learning_curves(rows, out / "learning_curves.png", x=x),
        plot_densities(rows, out / "density.png", log=log_density, x=x),
    ]
    dst = plot_dst(rows, out / "dst.png", x="update" if x == "epoch" else x)
    if dst is not None:
        written.append(dst)
    if weights:
        written.append(plot_weight_histograms(weights, out / "weights.png"))
    return written
