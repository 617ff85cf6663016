"""Counter-check of smet_spikes.py in a deterministic full-batch setting (embedded digits).

64-128-10 ReLU MLP at density 0.2 (ERK), Adam, full-batch steps (no mini-batch noise), a single
MagRan update (drop 50 % smallest |w|, regrow as many at random, new weights 0) after step 200,
then 30 more steps. Prints the mean and max loss increase over the 20 steps after the update
relative to the loss at step 200, for plain Adam (shared counter), per-entry counters and SMET.

Usage: ``.venv/bin/python experiments/smet_fullbatch.py``
"""

from __future__ import annotations

import numpy as np
import smet_spikes as S

from sprig.data.loaders import load_dataset
from sprig.data.normalization import Normalization
from sprig.runtime import set_num_threads


def main() -> None:
    set_num_threads(1)
    d = load_dataset("digits")
    d = Normalization.fit("standardize", d.x_train).apply_dataset(d)
    for lr in (3e-3, 1e-2):
        for seed in (1, 2, 3, 4):
            setting = dict(
                sizes=[64, 128, 10],
                layers="ReLU;Linear",
                density=0.2,
                batch=len(d.y_train),
                epochs=230,
                seed=seed,
                dst="magran_step",
                fraction=0.5,
                every=200,
                lr=lr,
            )
            out = []
            for opt in S.OPTIMIZERS:
                r = S.run(setting, opt, d)
                L = np.array(r["losses"])
                u = r["updates"][0]
                out.append(
                    f"{opt}: mean+={L[u : u + 20].mean() - L[u - 1]:.4f} "
                    f"max+={L[u : u + 20].max() - L[u - 1]:.4f}"
                )
            print(f"lr={lr} seed={seed} " + " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
