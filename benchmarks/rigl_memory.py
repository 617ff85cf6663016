"""Peak extra memory of streamed RigL growth, and accuracy of sampled RigL growth.

    .venv/bin/python benchmarks/rigl_memory.py            # memory, 16384 x 16384 layer
    .venv/bin/python benchmarks/rigl_memory.py --sampled  # sampled-vs-exact accuracy (MNIST)

Memory: a 16384 x 16384 float32 layer at 1 % density, N = 128, k = 0.3 nnz. The dense
gradient would be 16384² x 4 B = 1 GiB; ``tracemalloc`` (which tracks numpy allocations)
measures the peak of everything ``gradient_grow`` allocates. Measured on the development
machine (2 shared cores): peak 59.3 MiB (5.8 % of the dense gradient), 14.6 s.

Sampled accuracy: gradients of the first layer of a 784-1000-10 ReLU MLP (first layer 10 %
dense, He-initialised, untrained) on one MNIST batch of N = 128; k = 0.3 nnz. For candidates
factor c the script prints the overlap |sampled ∩ exact| / k and the captured gradient mass
Σ|g|(sampled) / Σ|g|(exact). Measured (seed 0):

    c:         1      2      5      10     20
    overlap:   0.035  0.063  0.171  0.335  0.665
    mass:      0.126  0.241  0.480  0.676  0.878
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from sprig.matrices import CSRMatrix
from sprig.sparsity.grow import gradient_grow, sampled_gradient_grow
from sprig.sparsity.info import GradientSample, LayerInfo


def memory(n: int = 16384, density: float = 0.01, batch: int = 128) -> None:
    rng = np.random.default_rng(0)
    W = CSRMatrix.random((n, n), density=density, rng=rng)
    _ = W.keys  # cached index, part of the model, not of the growth step
    sample = GradientSample(
        rng.standard_normal((n, batch), dtype=np.float32),
        rng.standard_normal((n, batch), dtype=np.float32),
    )
    k = int(0.3 * W.nnz)
    tracemalloc.start()
    t0 = time.perf_counter()
    r, _c = gradient_grow(W, k, None, LayerInfo(sample=sample))
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    dense = n * n * 4
    print(
        f"{n}x{n} density {density} N={batch} k={k}: grew {r.size}, {dt:.1f} s, "
        f"peak {peak / 2**20:.1f} MiB = {100 * peak / dense:.1f} % of the dense gradient"
    )
    assert peak < 0.1 * dense


def sampled() -> None:
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist" / "mnist.npz"
    rng = np.random.default_rng(0)
    with np.load(path) as z:
        key = next(k for k in z.files if "x" in k.lower() and "train" in k.lower())
        X = z[key][:128].reshape(128, -1).astype(np.float64)
    X /= max(X.max(), 1.0)
    Xt = np.ascontiguousarray(X.T)
    W1 = CSRMatrix.random(
        (1000, 784),
        density=0.1,
        rng=rng,
        dtype=np.float64,
        values=lambda m, r: r.standard_normal(m) * np.sqrt(2 / 78.4),
    )
    W2 = rng.standard_normal((10, 1000)) * np.sqrt(2 / 1000)
    Z = W1.matmul_fm(Xt)
    H = np.maximum(Z, 0)
    logits = W2 @ H
    P = np.exp(logits - logits.max(0))
    P /= P.sum(0)
    T = np.zeros_like(P)
    T[rng.integers(0, 10, 128), np.arange(128)] = 1
    dY1 = np.ascontiguousarray((W2.T @ ((P - T) / 128)) * (Z > 0))
    info = LayerInfo(sample=GradientSample(Xt, dY1))
    k = int(0.3 * W1.nnz)
    G = np.abs(dY1 @ Xt.T).reshape(-1)
    r, c = gradient_grow(W1, k, None, info)
    exact = r * 784 + c
    for cand in (1, 2, 5, 10, 20):
        rs, cs = sampled_gradient_grow(W1, k, rng, info, candidates=cand)
        s = rs * 784 + cs
        overlap = np.intersect1d(s, exact).size / k
        mass = G[s].sum() / G[exact].sum()
        print(f"c={cand:>2}: overlap {overlap:.3f}, captured gradient mass {mass:.3f}")


if __name__ == "__main__":
    sampled() if "--sampled" in sys.argv else memory()
