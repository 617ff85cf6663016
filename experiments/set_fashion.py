"""The SET tutorial setting on Fashion-MNIST: SET vs static sparse vs dense.

2,000 training / 1,000 test samples (stratified subsets, ``--train-size/--test-size``),
784-1000-1000-1000-10, ReLU hidden layers each followed by activation dropout 0.2
(``Dropout(0.2)`` layers), softmax cross-entropy, SET ε = 13 per-layer densities from
``sprig.sparsity.density.set_epsilon`` (the 1000→10 layer comes out dense), SET ζ = 0.3 every
epoch (regrown weights Xavier, Nerva's ``--prune 'SET(0.3)'``), SGD
momentum 0.9, constant lr 0.05, batch 40, no weight decay, min-max normalization.
Published (reference/dst.md §3 item 3, 400 epochs, last epoch): SET 82.6 %, static 81.1 %,
dense 82.3 %.

Usage::

    .venv/bin/python experiments/set_fashion.py --epochs 400 --parallel 2
    .venv/bin/python experiments/set_fashion.py --epochs 400 --summary
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _runs import DATA, ROOT, command, print_summary, run_all

from sprig.sparsity.density import set_epsilon, shapes_from_sizes

SIZES = [784, 1000, 1000, 1000, 10]
LAYERS = "ReLU;Dropout(0.2);ReLU;Dropout(0.2);ReLU;Dropout(0.2);Linear"


def jobs(epochs: int, out: Path, seed: int) -> list[tuple[str, list[str]]]:
    dens = set_epsilon(shapes_from_sizes(SIZES), 13)
    base = {
        "dataset": DATA / "fashion_mnist" / "fashion_mnist.npz",
        "train_size": 2000,
        "test_size": 1000,
        "layers": LAYERS,
        "layer_sizes": ";".join(map(str, SIZES)),
        "optimizers": "Momentum(0.9)",
        "learning_rate": 0.05,
        "batch_size": 40,
        "epochs": epochs,
        "seed": seed,
        "threads": 1,
    }
    sparse = {**base, "densities": ";".join(repr(d) for d in dens)}
    return [
        # SET with Xavier-initialised regrowth (Nerva's --prune; before library commit
        # dd08742 --dst 'SET(0.3)' regrew zeros and collapsed, see lenet_mnist.py)
        ("set", command(out / "set", {**sparse, "prune": "SET(0.3)"})),
        ("static", command(out / "static", {**sparse, "dst": "static"})),
        ("dense", command(out / "dense", {**base, "densities": "1", "dst": "static"})),
    ]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "set_fashion")
    p.add_argument("--only", nargs="*")
    p.add_argument("--summary", action="store_true")
    a = p.parse_args()
    js = jobs(a.epochs, a.out, a.seed)
    if a.only:
        js = [j for j in js if j[0] in a.only]
    if not a.summary:
        run_all(js, a.out, a.parallel)
    print_summary(js, a.out)


if __name__ == "__main__":
    main()
