"""Batch-major products against feature-major products plus layout changes, side by side.

``sprig.torch.SparseLinear`` receives PyTorch's batch-major tensors (``X`` of shape
``(N, in)``, ``dY`` of shape ``(N, out)``) and runs sprig's feature-major kernels: ``X`` and
``dY`` are transposed by tiles on the way in, ``dXt`` on the way out
(``sprig.matrices.kernels_bm.transpose``). This script measures the alternative, kernels that
read and write the batch-major arrays themselves, so the design choice rests on a measurement.
The alternatives are prototypes written here (float32/float64, one thread), tested against
dense products before timing:

* ``bm forward``: ``Yt = W Xᵀ + b`` walking W by columns in blocks of ``CB`` input features:
  each block of ``X`` (``N x CB``, a column slice) is transposed into an L1 scratch by the same
  register tiles, and each stored weight adds its scratch row into its output row (a
  read-modify-write of a row of ``Yt``, which stays in L2) instead of gathering a row of a
  full ``Xt``;
* ``bm backward``: the fused backward pass (weight gradient and input gradient in one walk
  over the columns: ``kernels._backward_cols`` itself, block by block) reading each block of
  ``X`` through the same scratch and writing each block of ``dX`` batch-major from a second
  scratch, so neither the saved ``Xt`` nor a full ``dXt`` is needed (``dY`` is still
  transposed: its rows are gathered).

They are compared with what the layer does: ``fm forward`` = ``transpose(X)`` + spmm,
``fm backward`` = ``transpose(dY)`` + ``kernels.backward`` + ``transpose(dXt)``, and with the
native layer's products alone (feature-major operands given). Interleaved rounds; three
regimes: ``interleaved`` (each call after the others), ``flushed`` (a 32 MB array is swept
before each call, as between the layers of a training step) and ``hot`` (each call repeated).

    python benchmarks/batch_major.py
    python benchmarks/batch_major.py --densities 0.01 --rounds 100 --no-write
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

import sprig
from sprig.layers import SparseLinear
from sprig.matrices.kernels import _JIT, _backward_cols
from sprig.matrices.kernels import backward as fused_backward
from sprig.matrices.kernels import spmm as fm_spmm
from sprig.matrices.kernels_bm import TILE, _transpose_cols, transpose

IN, OUT, BATCH = 3072, 1024, 100
CB = TILE  # input features per block: one block of register tiles


@nb.njit(**_JIT)
def bm_forward(X, col_ptr, row_idx, perm, data, bias, Yt, S):  # pragma: no cover - jitted
    n, d = X.shape
    for i in range(Yt.shape[0]):
        for t in range(n):
            Yt[i, t] = bias[i]
    for c0 in range(0, d, CB):
        c1 = min(c0 + CB, d)
        _transpose_cols(X[:, c0:c1], S, 0, 1)  # S[j - c0, :] = X[:, j]
        for j in range(c0, c1):
            s = j - c0
            for p in range(col_ptr[j], col_ptr[j + 1]):
                i = row_idx[p]
                w = data[perm[p]]
                for t in range(n):
                    Yt[i, t] += w * S[s, t]


@nb.njit(**_JIT)
def bm_backward(X, dYt, col_ptr, row_idx, perm, data, grad, dX, S, D):  # pragma: no cover
    n, d = X.shape
    for c0 in range(0, d, CB):
        c1 = min(c0 + CB, d)
        _transpose_cols(X[:, c0:c1], S, 0, 1)
        # the fused backward's own column loop on the block: local column j - c0 reads its
        # input row from S and writes its input-gradient row to D (col_ptr shifted by c0;
        # entry positions stay absolute)
        _backward_cols(0, c1 - c0, col_ptr[c0 : c1 + 1], row_idx, perm, data, dYt, S, grad, D)
        _transpose_cols(D[: c1 - c0], dX[:, c0:c1], 0, (n + TILE - 1) // TILE)


def variants(density: float, dtype=np.float32, seed: int = 0):
    """{name: zero-argument callable}, each checked against dense products first."""
    rng = np.random.default_rng(seed)
    layer = SparseLinear(IN, OUT, density=density, rng=rng, dtype=dtype)
    W = layer.weight
    vals = W.data
    b = rng.standard_normal(OUT).astype(dtype)
    X = rng.standard_normal((BATCH, IN)).astype(dtype)
    dY = rng.standard_normal((BATCH, OUT)).astype(dtype)
    Xt, dYt = np.ascontiguousarray(X.T), np.ascontiguousarray(dY.T)
    col_ptr, row_idx, perm, col_blocks = W.csc
    S = np.zeros((CB, BATCH), dtype)
    D = np.zeros((CB, BATCH), dtype)
    sums = np.empty(OUT, dtype)

    def fm_fwd():
        return W.matmul_fm(transpose(X), b)

    def bm_fwd():
        Yt = np.empty((OUT, BATCH), dtype)
        bm_forward(X, col_ptr, row_idx, perm, vals, b, Yt, S)
        return Yt

    def fm_bwd():
        gW, dXt = fused_backward(
            col_blocks, W.row_blocks, col_ptr, row_idx, perm, vals, transpose(dY), Xt
        )
        return gW, transpose(dXt)

    def bm_bwd():
        grad = np.empty(W.nnz, dtype)
        dX = np.empty((BATCH, IN), dtype)
        bm_backward(X, transpose(dY), col_ptr, row_idx, perm, vals, grad, dX, S, D)
        return grad, dX

    def native_fwd():
        return fm_spmm(W.row_blocks, W.indptr, W.indices, vals, Xt, b)

    def native_bwd():
        return fused_backward(
            col_blocks, W.row_blocks, col_ptr, row_idx, perm, vals, dYt, Xt, None, None, sums
        )

    Wd = W.toarray()
    Y_ref = X @ Wd.T + b
    dX_ref, dW_ref = dY @ Wd, (dY.T @ X)[W.row_of, W.indices]
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}
    for f in (fm_fwd, bm_fwd):
        np.testing.assert_allclose(f().T, Y_ref, **tol)
    for f in (fm_bwd, bm_bwd):
        g, dX = f()
        np.testing.assert_allclose(g, dW_ref, **tol)
        np.testing.assert_allclose(dX, dX_ref, **tol)
    return {
        "fm forward": fm_fwd,
        "bm forward": bm_fwd,
        "fm backward": fm_bwd,
        "bm backward": bm_bwd,
        "native forward": native_fwd,
        "native backward": native_bwd,
    }


def measure(fns, rounds: int, regime: str, sweep: np.ndarray) -> dict[str, float]:
    for f in fns.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    if regime == "hot":
        for k, f in fns.items():
            for _ in range(rounds):
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    else:
        for _ in range(rounds):
            for k, f in fns.items():
                if regime == "flushed":
                    sweep += 1
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--densities", default="0.01,0.05,0.1")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load0 = _report.start_load()
    sprig.set_num_threads(1)
    sweep = np.zeros(8_000_000, np.float32)
    rows = []
    for d in (float(x) for x in args.densities.split(",")):
        fns = variants(d)
        for regime in ("interleaved", "flushed", "hot"):
            m = measure(fns, args.rounds, regime, sweep)
            rows.append((d, regime, m))
            print(
                f"density {d} {regime}: "
                + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in m.items()),
                flush=True,
            )
    lines = [
        "## Batch-major kernels vs feature-major kernels + layout changes (one 3072 -> 1024 "
        "layer, batch 100)",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}",
        f"- Machine: {_report.machine()}",
        _report.load_line(load0),
        f"- Versions: {_report.versions()}",
        f"- One thread, float32, median of {args.rounds} calls per regime (wall time). "
        "*fm*: what `sprig.torch.SparseLinear` does (tiled transposes + sprig's feature-major "
        "kernels); *bm*: prototype kernels that read and write the batch-major arrays "
        "(`benchmarks/batch_major.py`); *native*: the feature-major products alone.",
        "",
        "| density | regime | fm forward (ms) | bm forward (ms) | bm / fm | fm backward (ms) | "
        "bm backward (ms) | bm / fm | native forward + backward (ms) | fm / native | "
        "bm / native |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d, regime, m in rows:
        nat = m["native forward"] + m["native backward"]
        fm = m["fm forward"] + m["fm backward"]
        bm = m["bm forward"] + m["bm backward"]
        lines.append(
            f"| {d:g} | {regime} | {m['fm forward'] * 1e3:.3f} | {m['bm forward'] * 1e3:.3f} | "
            f"{m['bm forward'] / m['fm forward']:.2f} | {m['fm backward'] * 1e3:.3f} | "
            f"{m['bm backward'] * 1e3:.3f} | {m['bm backward'] / m['fm backward']:.2f} | "
            f"{nat * 1e3:.3f} | {fm / nat:.2f}x | {bm / nat:.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        _report.write_section("batch_major", text)
        print(f"written to {_report.DOC}")


if __name__ == "__main__":
    main()
