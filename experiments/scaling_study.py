"""Model-free tables of a ``sprig scaling sweep`` runs file (the paper's qualitative checks).

    python experiments/scaling_study.py experiments/scaling/fashion_mnist_runs.csv

1. Repetition gain per density: validation loss after 16 epochs over the loss after 4 (and 1)
   epochs at each (hidden, U); a lower ratio at lower density = later data saturation.
2. Loss-optimal density per unique-data budget U: the best loss over sizes and epochs at each
   density (the empirical analogue of the law's unlimited-compute optimum).
3. Compute to reach the dense model's best loss per U: the least ``C = 6·N·s·D`` among the
   runs of each density whose loss is at or below it (inf: never reached in the grid).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict


def main(path: str) -> None:
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f)]
    for r in rows:
        for k in ("params", "density", "tokens", "unique", "loss"):
            r[k] = float(r[k])
        r["hidden"], r["epochs"] = int(r["hidden"]), int(r["epochs"])
    loss = {(r["hidden"], r["density"], int(r["unique"]), r["epochs"]): r["loss"] for r in rows}
    hidden = sorted({r["hidden"] for r in rows})
    dens = sorted({r["density"] for r in rows}, reverse=True)
    uniq = sorted({int(r["unique"]) for r in rows})

    print("1. repetition gain L(16 ep) / L(4 ep)  [L(16) / L(1)], by density")
    print(f"{'hidden':>6} {'U':>6} " + " ".join(f"{'s=' + format(d, 'g'):>16}" for d in dens))
    for h in hidden:
        for u in uniq:
            cells = []
            for d in dens:
                a, b, c = (loss.get((h, d, u, e)) for e in (1, 4, 16))
                cells.append(f"{c / b:.3f} [{c / a:.3f}]" if a and b and c else "-")
            print(f"{h:>6} {u:>6} " + " ".join(f"{x:>16}" for x in cells))

    # Tables 2 and 3 compare densities over the same sizes: those trained at every density.
    full = {h for h in hidden if all((h, d, uniq[0], 1) in loss for d in dens)}
    print(
        f"\n2. best validation loss over sizes {sorted(full)} and epochs, by density "
        "(loss-optimal marked *)"
    )
    print(f"{'U':>6} " + " ".join(f"{'s=' + format(d, 'g'):>10}" for d in dens))
    best: dict[tuple[int, float], float] = defaultdict(lambda: float("inf"))
    for (h, d, u, _e), v in loss.items():
        if h in full:
            best[u, d] = min(best[u, d], v)
    for u in uniq:
        vals = [best[u, d] for d in dens]
        m = min(vals)
        print(f"{u:>6} " + " ".join(f"{v:>9.4f}{'*' if v == m else ' '}" for v in vals))

    print("\n3. least compute C = 6*N*s*D reaching the dense best loss of each U, by density")
    print(f"{'U':>6} {'dense best':>10} " + " ".join(f"{'s=' + format(d, 'g'):>10}" for d in dens))
    for u in uniq:
        target = best[u, 1.0]
        cells = []
        for d in dens:
            cs = [
                6 * r["params"] * d * r["tokens"]
                for r in rows
                if int(r["unique"]) == u
                and r["density"] == d
                and r["hidden"] in full
                and r["loss"] <= target
            ]
            cells.append(f"{min(cs):.3g}" if cs else "never")
        print(f"{u:>6} {target:>10.4f} " + " ".join(f"{c:>10}" for c in cells))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "experiments/scaling/fashion_mnist_runs.csv")
