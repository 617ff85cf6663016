"""The optimal-sparsity procedure of the paper's figure, on sprig's law (a cross-check).

    python experiments/scaling_paper_figure.py

Wu, Xiao et al. (arXiv 2606.01155), ``figures/optimal_sparsity.ipynb``: for each unique-token
budget UT, 18 FLOP budgets log-spaced between 6·base² and 75·base² (times 1.0 / 0.5 / 0.4),
``base = UT·log10(UT/1e7)``; per density S (120 values in [0.05, 1]) and budget F the best loss
over iso-FLOP shifts (N/r, D·r) and (N·r, D/r), r ∈ [1.0001, 10], around the compute-optimal
point, with unique tokens min(UT, D). The dense best over the grid is the target; the
"compute-optimal" density is the sparsest one meeting it at the first budget where any does;
the "loss-optimal" density is the global minimum. The notebook's hard-coded stage-4 constants
are used. Prints, per UT, both densities and the grid's range in units of C_U (the compute
whose dense optimum uses UT tokens once) — the law depends on C and U only through C/C_U.
"""

from __future__ import annotations

import numpy as np

from sprig.scaling.law import ScalingLaw

LAW = ScalingLaw(c11=1.90420893, c12=1.82159486, c21=2.79936732, c22=1.36557887)


def main() -> None:
    s_vals = np.linspace(0.05, 1.0, 120)
    scales = np.linspace(1.0001, 10, 400)
    for ut, k in ((1.3e9, 1.0), (1.3e10, 0.5), (1.3e11, 0.4)):
        base = ut * np.log10(ut / 1e7)
        F = np.logspace(np.log10(6 * base**2 * k), np.log10(75 * base**2 * k), 18)
        curves = np.empty((len(F), len(s_vals)))
        for j, s in enumerate(s_vals):
            d0 = LAW.optimal_tokens(F, s)[:, None]
            n0 = LAW.optimal_active_params(F, s)[:, None]  # active parameters
            cands = [
                LAW.loss(n0 / s, s, d0, np.minimum(ut, d0)),
                LAW.loss(n0 / scales / s, s, d0 * scales, np.minimum(ut, d0 * scales)),
                LAW.loss(n0 * scales / s, s, d0 / scales, np.minimum(ut, d0 / scales)),
            ]
            curves[:, j] = np.min(np.concatenate(cands, axis=1), axis=1)
        target = curves[:, -1].min()
        f_dense = F[np.argmin(curves[:, -1])]
        i_op = next(i for i in range(len(F)) if (curves[i] <= target).any())
        s_op = s_vals[curves[i_op] <= target].min()
        _, j = np.unravel_index(np.argmin(curves), curves.shape)
        c_u = float(LAW.compute_for_tokens(ut, 1.0))
        print(
            f"UT={ut:.2g}: compute-optimal density {s_op:.3f} (gain {f_dense / F[i_op]:.2f}x), "
            f"loss-optimal density {s_vals[j]:.3f}; grid {F[0] / c_u:.0f}-{F[-1] / c_u:.0f} C_U"
        )


if __name__ == "__main__":
    main()
