"""``sprig scaling predict | optimal | fit | sweep``: the sparse data-constrained scaling law.

Numbers are parsed here (not by argparse) so that every bad value is one line
``sprig: error: …`` with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def _number(
    name: str,
    text: str | None,
    *,
    low: float | None = 0.0,
    closed: bool = False,
    high: float | None = None,
) -> float:
    if text is None:
        raise ConfigError(f"--{name} is required")
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"--{name} must be a number, got {text!r}") from None
    bad = not math.isfinite(v)
    if low is not None:
        bad |= v < low if closed else v <= low
    if high is not None:
        bad |= v > high
    if bad:
        lo = "" if low is None else (f">= {low:g}" if closed else f"> {low:g}")
        hi = "" if high is None else f"<= {high:g}"
        allowed = " and ".join(x for x in (lo, hi) if x) or "finite"
        raise ConfigError(f"--{name} must be {allowed}, got {text!r}")
    return v


def _numbers(
    name: str, text: str, *, integer: bool = False, low: float = 0.0, high: float | None = None
) -> tuple[Any, ...]:
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise ConfigError(f"--{name} must list at least one number, got {text!r}")
    out = []
    for p in parts:
        v = _number(name, p.strip(), low=low, high=high)
        if integer:
            if v != int(v):
                raise ConfigError(f"--{name} must list integers, got {p.strip()!r}")
            v = int(v)
        out.append(v)
    return tuple(out)


# ------------------------------------------------------------------------------ sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..data.loaders import load_dataset
    from ..runtime import set_num_threads
    from ..scaling.sweep import SweepConfig, sweep

    if args.out is None:
        raise ConfigError("--out FILE (the runs CSV to write) is required")
    kw: dict[str, Any] = {}
    if args.hidden is not None:
        kw["hidden"] = _numbers("hidden", args.hidden, integer=True)
    if args.depth is not None:
        kw["depth"] = int(_numbers("depth", args.depth, integer=True)[0])
    if args.densities is not None:
        kw["densities"] = _numbers("densities", args.densities, high=1.0)
    if args.unique is not None:
        kw["unique"] = _numbers("unique", args.unique, integer=True)
    if args.epochs is not None:
        kw["epochs"] = _numbers("epochs", args.epochs, integer=True)
    if args.seeds is not None:
        kw["seeds"] = _numbers("seeds", args.seeds, integer=True, low=-1)
    if args.validation is not None:
        kw["validation"] = int(_numbers("validation", args.validation, integer=True)[0])
    if args.pool is not None:
        kw["pool"] = int(_numbers("pool", args.pool, integer=True)[0])
    if args.batch_size is not None:
        kw["batch_size"] = int(_numbers("batch-size", args.batch_size, integer=True)[0])
    if args.lr is not None:
        kw["lr"] = _number("lr", args.lr)
    for name in ("optimizer", "dst", "holdout"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    cfg = SweepConfig(**kw)
    if args.threads is not None:
        set_num_threads(int(_numbers("threads", args.threads, integer=True)[0]))
    data = load_dataset(args.dataset, root=args.data_dir)
    rows = sweep(
        data,
        cfg,
        args.out,
        resume=args.resume,
        log=None if args.quiet else (lambda m: print(m, flush=True)),
    )
    print(f"wrote {len(rows)} runs to {args.out}")
    return 0


# ------------------------------------------------------------------------------ law


def _law(path: str | None) -> Any:
    from ..scaling.law import PUBLISHED, law_from_constants

    if path is None:
        return PUBLISHED
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"law file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read law file {path}: {e}") from None
    consts = data.get("constants", data) if isinstance(data, dict) else None
    if not isinstance(consts, dict):
        raise ConfigError(f"law file {path} must hold a JSON object of constants")
    try:
        return law_from_constants({k: (math.nan if v is None else v) for k, v in consts.items()})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"law file {path}: bad constant ({e})") from None


def _fmt_format(text: str) -> str:
    if text not in ("text", "json"):
        raise ConfigError(f"--format must be text or json, got {text!r}")
    return text


def cmd_predict(args: argparse.Namespace) -> int:
    fmt = _fmt_format(args.format)
    n = _number("params", args.params)
    s = _number("density", args.density, high=1.0)
    d = _number("tokens", args.tokens)
    u = d if args.unique is None else _number("unique", args.unique)
    law = _law(args.law)
    loss = float(law.loss(n, s, d, u))
    n_eff, d_eff = (float(v) for v in law.effective_sizes(n, s, d, u))
    out = {
        "loss": loss,
        "params": n,
        "density": s,
        "tokens": d,
        "unique": u,
        "active_params": n * s,
        "effective_params": n_eff,
        "effective_tokens": d_eff,
    }
    if fmt == "json":
        print(json.dumps(out))
    else:
        print(
            f"predicted loss {loss:.6g}  (N={n:.4g} dense-equivalent, density {s:g}, "
            f"active {n * s:.4g}; D={d:.4g} tokens over U={u:.4g} unique: "
            f"{d / min(u, d):.3g} epochs; effective N'={n_eff:.4g}, D'={d_eff:.4g})"
        )
    return 0


def cmd_optimal(args: argparse.Namespace) -> int:
    from ..scaling.law import ScalingLaw

    fmt = _fmt_format(args.format)
    law: ScalingLaw = _law(args.law)
    densities = _numbers("densities", args.densities, high=1.0)
    uniques = _numbers("unique", args.unique) if args.unique is not None else ()
    compute = _number("compute", args.compute) if args.compute is not None else None
    mult = _number("compute-multiple", args.compute_multiple)
    s_min = _number("s-min", args.s_min, high=1.0)
    if s_min >= 1:
        raise ConfigError(f"--s-min must be < 1, got {args.s_min!r}")
    if compute is None and not uniques:
        raise ConfigError("give --compute C (allocation table) and/or --unique U (densities)")
    out: dict[str, Any] = {"allocation": [], "densities": []}
    if compute is not None:
        for s in densities:
            n_act = float(law.optimal_active_params(compute, s))
            d_opt = float(law.optimal_tokens(compute, s))
            out["allocation"].append(
                {
                    "compute": compute,
                    "density": s,
                    "params": n_act / s,
                    "active_params": n_act,
                    "tokens": d_opt,
                    "loss": float(law.one_epoch_loss(n_act / s, s, d_opt)),
                }
            )
    for u in uniques:
        c = compute if compute is not None else mult * float(law.compute_for_tokens(u, 1.0))
        s_inf, l_inf = law.loss_optimal_density(u, None, s_min=s_min)
        s_c, l_c = law.loss_optimal_density(u, c, s_min=s_min)
        co = law.compute_optimal_density(u, c, s_min=s_min, points=args.points)
        out["densities"].append(
            {
                "unique": u,
                "compute": c,
                "compute_multiple": c / float(law.compute_for_tokens(u, 1.0)),
                "loss_optimal_density": s_c,
                "loss_optimal_loss": l_c,
                "loss_optimal_density_unlimited": s_inf,
                "loss_floor": l_inf,
                "dense_loss": co["target"],
                "compute_optimal_density": co["density"],
                "compute_optimal_compute": co["compute"],
                "compute_saving": co["saving"],
            }
        )
    if args.plot is not None:
        _plot_optimal(law, out["densities"], Path(args.plot), s_min=s_min)
    if fmt == "json":
        print(json.dumps(out))
        return 0
    if out["allocation"]:
        print(f"compute-optimal allocation for C = {compute:.4g} FLOPs (C = 6 * N * density * D)")
        print(f"{'density':>8} {'N* (dense-eq.)':>15} {'active N*':>12} {'D*':>12} {'loss':>8}")
        for r in out["allocation"]:
            print(
                f"{r['density']:>8g} {r['params']:>15.4g} {r['active_params']:>12.4g} "
                f"{r['tokens']:>12.4g} {r['loss']:>8.4f}"
            )
    if out["densities"]:
        if out["allocation"]:
            print()
        print(
            "optimal density for a unique-data budget U at compute C "
            "(C/C_U: C over the compute whose dense optimum uses U tokens once)"
        )
        print(
            f"{'U':>10} {'C':>10} {'C/C_U':>8} {'loss-opt s':>11} {'loss':>8} "
            f"{'(C=inf) s':>10} {'floor':>8} {'compute-opt s':>14} {'saving':>7}"
        )
        for r in out["densities"]:
            print(
                f"{r['unique']:>10.4g} {r['compute']:>10.3g} {r['compute_multiple']:>8.3g} "
                f"{r['loss_optimal_density']:>11.3f} {r['loss_optimal_loss']:>8.4f} "
                f"{r['loss_optimal_density_unlimited']:>10.3f} {r['loss_floor']:>8.4f} "
                f"{r['compute_optimal_density']:>14.3f} {r['compute_saving']:>6.2f}x"
            )
    if args.plot is not None:
        print(f"wrote {args.plot}")
    return 0


def _plot_optimal(law: Any, rows: list[dict[str, Any]], path: Path, *, s_min: float) -> None:
    import numpy as np

    from ..plotting import _save, require_matplotlib

    if not rows:
        raise ConfigError("--plot needs --unique")
    if path.suffix.lower() != ".png":
        raise ConfigError(f"--plot must name a .png file, got {str(path)!r}")
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, len(rows), figsize=(5 * len(rows), 4), squeeze=False)
    s = np.linspace(s_min, 1.0, 60)
    for ax, r in zip(axes[0], rows, strict=True):
        u, c = r["unique"], r["compute"]
        cu = c / r["compute_multiple"]
        for k in (0.1, 0.3, 1.0):
            ax.plot(1 - s, law.best_loss(s, u, c * k), "--", label=f"C = {c * k / cu:.3g} C_U")
        ax.plot(1 - s, law.loss_floor(s, u), "k-", label="unlimited compute")
        ax.axhline(r["dense_loss"], color="grey", lw=0.8)
        ax.plot(
            [1 - r["loss_optimal_density"]],
            [r["loss_optimal_loss"]],
            "*",
            ms=12,
            color="gold",
            mec="k",
            label="loss-optimal",
        )
        ax.plot(
            [1 - r["compute_optimal_density"]],
            [r["dense_loss"]],
            "*",
            ms=12,
            color="red",
            mec="k",
            label="compute-optimal",
        )
        ax.set_title(f"U = {u:.3g}")
        ax.set_xlabel("sparsity (1 - density)")
        ax.set_ylabel("predicted loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def cmd_fit(args: argparse.Namespace) -> int:
    from ..scaling.fit import fit
    from ..scaling.runs import read_runs

    fmt = _fmt_format(args.format)
    runs = read_runs(args.runs)
    if args.heldout_above is not None:
        cut = _number("heldout-above", args.heldout_above)
        runs = runs.__class__(
            runs.params,
            runs.density,
            runs.tokens,
            runs.unique,
            runs.loss,
            runs.heldout | (runs.params > cut),
        )
    fix: dict[str, float] = {}
    for item in args.fix or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--fix takes NAME=VALUE, got {item!r}")
        fix[name.strip()] = _number(f"fix {name.strip()}", value, low=None)
    stages = {"1": (1,), "1-2": (1, 2), "1-3": (1, 2, 3), "1-4": (1, 2, 3, 4)}.get(args.stages)
    if stages is None:
        raise ConfigError(f"--stages must be 1, 1-2, 1-3 or 1-4, got {args.stages!r}")
    res = fit(runs, fix=fix, grid=args.grid, stages=stages)
    summary = res.as_dict()
    if args.out is not None:
        from ..io import atomic_write

        data = (json.dumps(summary, indent=1, allow_nan=True) + "\n").encode()
        atomic_write(args.out, lambda f: f.write(data))
    if fmt == "json":
        print(json.dumps(summary))
        return 0
    n_fit = int((~runs.heldout).sum())
    print(
        f"fitted {n_fit} runs ({int(runs.heldout.sum())} held out), stages "
        f"{args.stages}, grid {args.grid}; R^2 on the fit runs {res.r2:.4f}"
    )
    for st in res.stages:
        consts = ", ".join(f"{k}={v:.6g}" for k, v in st.fitted.items())
        print(
            f"  stage {st.stage}: {st.runs} runs, {st.starts} starts, Huber {st.objective:.4g}, "
            f"R^2 {st.r2:.4f}: {consts}"
        )
    if res.fixed:
        print("  fixed: " + ", ".join(f"{k}={v:g}" for k, v in res.fixed.items()))
    c = res.law.constants()
    print("law: " + ", ".join(f"{k}={c[k]:.6g}" for k in ("A", "B", "E", "alpha", "beta")))
    if res.heldout:
        errs = [abs(h["error"]) for h in res.heldout if math.isfinite(h["error"])]
        print(
            f"held-out runs: {len(res.heldout)}, R^2 {res.heldout_r2:.4f}, mean |error| "
            f"{(sum(errs) / len(errs)) if errs else math.nan:.4f}"
        )
        print(
            f"{'params':>10} {'density':>8} {'tokens':>10} {'unique':>10} {'loss':>8} "
            f"{'predicted':>10} {'error':>8}"
        )
        for h in res.heldout:
            print(
                f"{h['params']:>10.4g} {h['density']:>8g} {h['tokens']:>10.4g} "
                f"{h['unique']:>10.4g} {h['loss']:>8.4f} {h['predicted']:>10.4f} "
                f"{h['error']:>+8.4f}"
            )
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0


# ------------------------------------------------------------------------------ parsers


def add_parser(sub: Any) -> None:
    """Register ``sprig scaling`` and its subcommands."""
    p = sub.add_parser(
        "scaling",
        help="the sparse data-constrained scaling law: predict, optimal, fit, sweep",
        description="The scaling law of sparse training with repeated data (Wu, Xiao et al., "
        "ICML 2026, arXiv 2606.01155): L(N, s, D, U) with N the dense-equivalent parameter "
        "count, s the density (active parameters N*s), D the training tokens and U the "
        "unique tokens.",
    )
    ssub = p.add_subparsers(dest="scaling_command", required=True)

    q = ssub.add_parser(
        "predict",
        help="predicted loss of one configuration",
        description="Predicted loss L(N, s, D, U) of the law (default: the published "
        "constants; --law FILE: a law written by 'sprig scaling fit --out').",
    )
    q.add_argument("--params", metavar="N", help="dense-equivalent parameter count")
    q.add_argument("--density", metavar="S", default="1", help="density in (0, 1] (default 1)")
    q.add_argument("--tokens", metavar="D", help="total training tokens (or samples)")
    q.add_argument("--unique", metavar="U", help="unique tokens (default: D, one epoch)")
    q.add_argument("--law", metavar="FILE", help="JSON constants (from 'scaling fit --out')")
    q.add_argument("--format", default="text", help="text (default) or json")
    q.set_defaults(func=cmd_predict)

    q = ssub.add_parser(
        "optimal",
        help="compute-optimal N*, D*; loss- and compute-optimal density",
        description="With --compute C: the compute-optimal dense-equivalent size N*, active "
        "size and tokens D* per density (C = 6 * N * density * D). With --unique U (a list): "
        "the loss-optimal density (lowest loss reachable with U unique tokens at compute C, "
        "and with unlimited compute) and the compute-optimal density (the one reaching the "
        "dense model's best loss at C with the least compute). C defaults to "
        "--compute-multiple times C_U, the budget whose dense optimum uses U tokens once.",
    )
    q.add_argument("--compute", metavar="C", help="compute budget in FLOPs")
    q.add_argument("--unique", metavar="U", help="unique-token budgets, comma-separated")
    q.add_argument(
        "--densities", default="1,0.5,0.25,0.125,0.0625", help="densities of the allocation table"
    )
    q.add_argument("--compute-multiple", default="1000", help="C / C_U when --compute is absent")
    q.add_argument("--s-min", default="0.01", help="lowest density searched (default 0.01)")
    q.add_argument("--points", type=int, default=100, help=argparse.SUPPRESS)
    q.add_argument("--plot", metavar="FILE", help="PNG of loss vs sparsity per U")
    q.add_argument("--law", metavar="FILE", help="JSON constants (from 'scaling fit --out')")
    q.add_argument("--format", default="text", help="text (default) or json")
    q.set_defaults(func=cmd_optimal)

    q = ssub.add_parser(
        "fit",
        help="fit the law to a runs CSV",
        description="Fit the law in the paper's four stages (Huber loss on log-loss, L-BFGS "
        "from a grid of starts, float64) to the runs of a CSV file with columns params "
        "(dense-equivalent N), density, tokens (D), unique (U), loss (final validation loss) "
        "and optionally split (fit or heldout); report constants, R^2 and held-out "
        "predictions.",
    )
    q.add_argument("runs", help="runs CSV file")
    q.add_argument(
        "--fix",
        action="append",
        metavar="NAME=VALUE",
        help="do not fit constant NAME (repeatable), e.g. --fix gamma1=11.0876",
    )
    q.add_argument("--stages", default="1-4", help="1, 1-2, 1-3 or 1-4 (default)")
    q.add_argument("--grid", default="paper", help="start grid: paper (default) or coarse")
    q.add_argument("--heldout-above", metavar="N", help="also hold out the runs with params > N")
    q.add_argument("--out", metavar="FILE", help="write the fit (JSON) for --law")
    q.add_argument("--format", default="text", help="text (default) or json")
    q.set_defaults(func=cmd_fit)

    q = ssub.add_parser(
        "sweep",
        help="train a grid of sparse MLPs and write their validation losses",
        description="Train sparse MLPs over hidden sizes x densities x unique-data budgets x "
        "epochs x seeds on a subset of a dataset's training split (a stratified validation "
        "split is held out; the test split is never used) and write the runs CSV that "
        "'sprig scaling fit' reads. Lists are comma-separated.",
    )
    q.add_argument("--dataset", default="fashion_mnist", help="dataset name or path")
    q.add_argument("--data-dir", help="folder holding named datasets (default $SPRIG_DATA)")
    q.add_argument("--out", metavar="FILE", help="runs CSV to write (rewritten after each run)")
    q.add_argument("--hidden", help="hidden-layer widths (default 32,64,128,256)")
    q.add_argument("--depth", help="hidden layers per network (default 2)")
    q.add_argument("--densities", help="overall densities (default 1,0.5,0.25,0.125)")
    q.add_argument("--unique", help="unique training samples U (default 1000,3000,9000)")
    q.add_argument("--epochs", help="passes over the U samples (default 1,4,16)")
    q.add_argument("--seeds", help="seeds (default 0)")
    q.add_argument("--validation", help="validation samples held out (default 5000)")
    q.add_argument(
        "--pool", help="size of the shuffled pool the budgets are prefixes of (default: max U)"
    )
    q.add_argument("--batch-size", help="mini-batch size (default 64)")
    q.add_argument("--lr", help="peak learning rate, cosine-decayed to 0 (default 0.002)")
    q.add_argument("--optimizer", help="optimizer spec (default Adam)")
    q.add_argument("--dst", help="DST spec of the sparse runs (default SET(0.3))")
    q.add_argument(
        "--holdout", help="largest: mark the largest network's runs heldout (default); none"
    )
    q.add_argument("--threads", help="kernel threads (default: sprig's default)")
    q.add_argument("--resume", action="store_true", help="skip the runs already in --out")
    q.add_argument("--quiet", action="store_true", help="no line per run")
    q.set_defaults(func=cmd_sweep)


def main_scaling(argv: list[str]) -> int:  # pragma: no cover - convenience for python -m
    from .main import main

    return main(["scaling", *argv])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_scaling(sys.argv[1:]))
