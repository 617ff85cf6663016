"""``sprig select``: rank a dataset's features with a truly sparse network.

Output (``--out FILE``), chosen by the file's suffix:

* ``.csv`` — a header line ``rank,feature,score`` then one line per feature, most important
  first (``rank`` 1..d, ``feature`` the 0-based column index of the flattened input, ``score``
  the importance); the first ``K`` lines are the selection.
* ``.npz`` — arrays ``ranking`` (int64, all feature indices best first), ``scores`` (float64,
  indexed by feature), ``selected`` (int64, the first ``K`` of ``ranking``) and ``__meta__`` (a
  JSON string: dataset, method, ranking, k, epochs, seed).

Both are written atomically. Without ``--out`` the selected features and scores are printed.
``--plot PNG`` draws the selected pixels over the mean training image (image datasets only).
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SprigError

METHODS = ("quickselection", "attribution")


def add_parser(sub: Any) -> None:
    """Register ``select`` on the ``sprig`` parser."""
    p = sub.add_parser(
        "select",
        help="select features with a sparse network (QuickSelection, neuron attribution)",
        description="Train QuickSelection's sparse denoising autoencoder (unsupervised) or a "
        "sparse MLP with neuron attribution (supervised) on a dataset's training split and "
        "write the feature ranking.",
    )
    p.add_argument("--dataset", help="dataset name (in --data-dir or $SPRIG_DATA) or path")
    p.add_argument("--data-dir", help="folder holding named datasets (<dir>/<name>/<name>.npz)")
    p.add_argument("--k", help="number of features to select")
    p.add_argument("--method", default="quickselection", help="quickselection or attribution")
    p.add_argument("--ranking", help="ranking (quickselection) or variant (attribution)")
    p.add_argument("--epochs", help="training epochs (default 100 / 200)")
    p.add_argument("--dst", default="set", help="set or rigl (attribution only)")
    p.add_argument("--seed", default="0", help="random seed")
    p.add_argument("--out", help="output file: .csv or .npz (format in the module docs)")
    p.add_argument("--plot", help="PNG of the selected pixels (image datasets)")
    p.set_defaults(func=cmd_select)


def _int(name: str, value: str | None, lo: int) -> int:
    try:
        v = int(str(value))
    except ValueError:
        raise SprigError(f"--{name} must be an integer >= {lo}, got {value!r}") from None
    if v < lo:
        raise SprigError(f"--{name} must be an integer >= {lo}, got {value!r}")
    return v


def _write_csv(path: Path, ranking: np.ndarray, scores: np.ndarray) -> None:
    from ..io import atomic_write

    buf = io.StringIO()
    buf.write("rank,feature,score\n")
    for r, j in enumerate(ranking, start=1):
        buf.write(f"{r},{int(j)},{float(scores[j])!r}\n")
    data = buf.getvalue().encode()
    atomic_write(path, lambda f: f.write(data))


def _plot(path: Path, mean_image: np.ndarray, selected: np.ndarray, title: str) -> None:
    from ..plotting import require_matplotlib

    plt = require_matplotlib()
    H, W = mean_image.shape
    mask = np.zeros(H * W, dtype=bool)
    mask[selected] = True
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    axes[0].imshow(mean_image, cmap="gray")
    axes[0].set_title("mean training image")
    axes[1].imshow(mean_image, cmap="gray", alpha=0.5)
    overlay = np.zeros((H, W, 4))
    overlay[mask.reshape(H, W)] = (1.0, 0.1, 0.1, 0.9)
    axes[1].imshow(overlay)
    axes[1].set_title(f"{selected.size} selected pixels")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    from ..io import atomic_write

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def cmd_select(args: argparse.Namespace) -> int:
    from ..data.loaders import load_dataset
    from ..selection import RANKINGS, VARIANTS, top_k, train_attribution, train_sparse_dae

    if not args.dataset:
        raise SprigError("--dataset is required (a dataset name or path)")
    if args.k is None:
        raise SprigError("--k is required (the number of features to select)")
    if args.method not in METHODS:
        raise SprigError(f"--method must be one of {', '.join(METHODS)}, got {args.method!r}")
    allowed = tuple(RANKINGS) if args.method == "quickselection" else VARIANTS
    ranking = args.ranking or allowed[0]
    if ranking not in allowed:
        raise SprigError(
            f"--ranking {ranking!r} is not one of {args.method}'s: {', '.join(allowed)}"
        )
    if args.dst not in ("set", "rigl"):
        raise SprigError(f"--dst must be set or rigl, got {args.dst!r}")
    k = _int("k", args.k, 1)
    seed = _int("seed", args.seed, 0)
    epochs = None if args.epochs is None else _int("epochs", args.epochs, 1)
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix not in (".csv", ".npz"):
        raise SprigError(f"--out must end in .csv or .npz, got {str(out)!r}")
    plot = Path(args.plot) if args.plot else None
    if plot is not None and plot.suffix != ".png":
        raise SprigError(f"--plot must end in .png, got {str(plot)!r}")

    ds = load_dataset(args.dataset, root=args.data_dir)
    X = np.asarray(ds.x_train, dtype=np.float64)
    d = X.shape[1]
    if k > d:
        raise SprigError(f"--k {k} is larger than the {d} features of dataset {ds.name!r}")
    if plot is not None and (ds.image_shape is None or ds.image_shape[0] != 1):
        raise SprigError(
            f"--plot needs a single-channel image dataset; {ds.name!r} has image shape "
            f"{ds.image_shape}"
        )
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[~(std > 1e-12)] = 1.0
    Xs = (X - mean) / std
    kw: dict[str, Any] = {"seed": seed} | ({} if epochs is None else {"epochs": epochs})
    if args.method == "quickselection":
        scores = train_sparse_dae(Xs, **kw).scores(ranking)
    else:
        res = train_attribution(Xs, ds.y_train, dst=args.dst, **kw)
        scores = res.importances[ranking]
    order = top_k(scores, d)
    selected = order[:k]
    meta = {
        "dataset": ds.name,
        "method": args.method,
        "ranking": ranking,
        "k": k,
        "epochs": epochs,
        "seed": seed,
    }
    if out is None:
        print(f"# {json.dumps(meta)}")
        print("rank,feature,score")
        for r, j in enumerate(selected, start=1):
            print(f"{r},{int(j)},{float(scores[j]):.6g}")
    elif out.suffix == ".csv":
        _write_csv(out, order, scores)
    else:
        from ..io import save_npz

        save_npz(
            out,
            {"ranking": order, "scores": np.asarray(scores, np.float64), "selected": selected},
            meta,
        )
    if plot is not None:
        assert ds.image_shape is not None
        _, H, W = ds.image_shape
        _plot(plot, X.mean(axis=0).reshape(H, W), selected, f"{ds.name}: {args.method} ({ranking})")
    return 0
