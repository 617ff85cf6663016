"""One 3072 -> 1024 layer inside PyTorch, forward + backward, batch 100, float32:
``sprig.torch.SparseLinear`` vs a masked ``nn.Linear`` vs sprig's native ``SparseLinear``.

Variants (each checked against the masked dense layer first, then timed):

* ``masked``: ``nn.Linear`` whose weight is multiplied by a fixed 0/1 mask in every forward
  (the usual "sparse" training in PyTorch: dense compute, dense gradient);
* ``torch(sprig)``: :class:`sprig.torch.SparseLinear`, ``kernel="sprig"`` (sprig's Numba kernels
  on views of the torch tensors; the default on CPU);
* ``torch(native)``: the same layer with ``kernel="torch"`` (``torch.sparse`` CSR SpMM and
  ``sampled_addmm``, the code path CUDA uses);
* ``sprig``: sprig's own :class:`sprig.layers.SparseLinear` (feature-major NumPy, no autograd),
  the cost floor; the ratio ``torch(sprig) / sprig`` is the cost of the PyTorch boundary.

Two floors of that boundary, timed in the same rounds:

* ``layout floor``: the native layer plus the three layout changes a batch-major caller
  needs (``X`` and ``dY`` to feature-major, ``dX`` back), by sprig's tiled
  :func:`~sprig.matrices.kernels_bm.transpose`, with no autograd at all;
* ``autograd floor``: PyTorch's own cost of a custom layer: an ``nn.Module`` whose
  ``torch.autograd.Function`` returns preallocated results (no product, no copy), with the
  same parameters, input and output gradient.

``(layout floor + autograd floor) / sprig`` bounds what ``torch(sprig) / sprig`` can reach with
feature-major kernels behind a batch-major boundary.

One call = forward, then backward of ``dY`` (input gradient, weight gradient at the stored
positions, bias gradient). Rounds interleave the variants; the table gives medians over rounds
of the time per call (process CPU time by default, ``--clock wall`` for wall time: the
machines these run on are shared, and with one thread CPU time is the work done) and the
ratios. Results go to ``docs/benchmarks.md`` (section
``torch_linear``) unless ``--no-write``.

    python benchmarks/torch_linear.py
    python benchmarks/torch_linear.py --densities 0.01,0.1 --rounds 3 --no-write
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

import sprig
from sprig.layers import SparseLinear as NativeSparseLinear
from sprig.matrices.kernels_bm import transpose
from sprig.torch import SparseLinear

IN, OUT, BATCH = 3072, 1024, 100


def variants(density: float, seed: int = 0, shape: tuple[int, ...] = (BATCH, IN, OUT)):
    """{name: zero-argument callable doing one forward + backward}, checked for agreement.
    ``shape``: leading (batch) dimensions of the input, then in and out features."""
    *lead, n_in, n_out = shape
    rng = np.random.default_rng(seed)
    native = NativeSparseLinear(n_in, n_out, density=density, rng=rng)
    W = native.weight
    layer = SparseLinear.from_csr(W, np.zeros(n_out), dtype=torch.float32)
    masked = nn.Linear(n_in, n_out)
    mask = torch.from_numpy(W.toarray() != 0).float()
    with torch.no_grad():
        masked.weight.copy_(torch.from_numpy(W.toarray()))
        masked.bias.zero_()
    X = torch.from_numpy(rng.standard_normal((*lead, n_in)).astype(np.float32))
    dY = torch.from_numpy(rng.standard_normal((*lead, n_out)).astype(np.float32))
    Xt = np.ascontiguousarray(X.numpy().reshape(-1, n_in).T)
    dYt = np.ascontiguousarray(dY.numpy().reshape(-1, n_out).T)
    Xg = X.clone().requires_grad_(True)

    def run_masked():
        Xg.grad = None
        masked.zero_grad()
        Y = nn.functional.linear(Xg, masked.weight * mask, masked.bias)
        Y.backward(dY)
        return Y, Xg.grad, masked.weight.grad

    def run_layer(kernel):
        def run():
            layer.kernel = kernel
            Xg.grad = None
            layer.zero_grad()
            Y = layer(Xg)
            Y.backward(dY)
            return Y, Xg.grad, layer.values.grad

        return run

    # Inside a stack of sparse layers the input is the previous SparseLinear's output (a
    # transposed view of a feature-major array, kept by element-wise ops) and dY arrives the
    # same way: the layer then transposes nothing.
    Xfm = torch.from_numpy(Xt.copy()).T.requires_grad_(True)
    dYfm = torch.from_numpy(dYt.copy()).T

    def run_stacked():
        layer.kernel = "sprig"
        Xfm.grad = None
        layer.zero_grad()
        Y = layer(Xfm)
        Y.backward(dYfm)
        return Y, Xfm.grad, layer.values.grad

    def run_native():
        Y, back = native.forward(Xt, train=True)
        dX = back(dYt)
        return Y, dX, native.weight_grad

    Xb, dYb = X.numpy().reshape(-1, n_in), dY.numpy().reshape(-1, n_out)

    def run_layout_floor():
        Y, back = native.forward(transpose(Xb), train=True)
        dX = transpose(back(transpose(dYb)))
        return Y, dX, native.weight_grad

    pre_Yt = np.zeros((n_out, Xb.shape[0]), np.float32)
    pre_dX = np.zeros(Xb.shape, np.float32)
    pre_gW = np.zeros(W.nnz, np.float32)
    pre_gb = np.zeros(n_out, np.float32)

    class NoProduct(torch.autograd.Function):
        @staticmethod
        def forward(ctx, X2, values, bias):
            return torch.from_numpy(pre_Yt).T

        @staticmethod
        def backward(ctx, dY2):
            return torch.from_numpy(pre_dX), torch.from_numpy(pre_gW), torch.from_numpy(pre_gb)

    class NoProductLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.values = nn.Parameter(layer.values.detach().clone())
            self.bias = nn.Parameter(torch.zeros(n_out))

        def forward(self, X):
            Y2 = NoProduct.apply(X.reshape(-1, n_in), self.values, self.bias)
            return Y2.reshape(*X.shape[:-1], n_out)

    noop = NoProductLayer()

    def run_autograd_floor():
        Xg.grad = None
        noop.zero_grad()
        noop(Xg).backward(dY)

    def flat(t, n):
        return t.detach().numpy().reshape(-1, n)

    Y0, dX0, dW0 = (t.detach().clone() for t in run_masked())
    ref = (flat(Y0, n_out), flat(dX0, n_in), dW0.numpy()[W.row_of, W.indices])
    for run in (run_layer("sprig"), run_layer("torch"), run_stacked):
        Yk, dXk, dWk = run()
        got = [flat(Yk, n_out), flat(dXk, n_in), dWk.detach().numpy()]
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    Yn, dXn, dWn = run_native()
    for a, b in zip((Yn.T, dXn.T, dWn), ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    Yf, dXf, dWf = run_layout_floor()
    for a, b in zip((Yf.T, dXf, dWf), ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    return {
        "masked": run_masked,
        "torch(sprig)": run_layer("sprig"),
        "torch(native)": run_layer("torch"),
        "torch(sprig) stacked": run_stacked,
        "sprig": run_native,
        "layout floor": run_layout_floor,
        "autograd floor": run_autograd_floor,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--densities", default="0.01,0.05,0.1,0.2,0.5")
    ap.add_argument(
        "--shapes3d",
        default="32x64x128x512,32x64x512x128",
        help="GPT-style 3-D layers BxTxINxOUT (comma-separated; '' for none)",
    )
    ap.add_argument("--density3d", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load0 = _report.start_load()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    sprig.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)

    def measure(fns):
        for fn in fns.values():  # warm-up (JIT, allocator)
            fn()
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():
                t0 = clock()
                for _ in range(args.reps):
                    fn()
                times[name].append((clock() - t0) / args.reps)
        return {k: float(np.median(v)) for k, v in times.items()}

    def floor(med):
        return med["layout floor"] + med["autograd floor"]

    def show(label, med):
        print(
            f"{label}: "
            + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in med.items())
            + f"; masked/torch(sprig) {med['masked'] / med['torch(sprig)']:.1f}x, "
            f"torch(sprig)/sprig {med['torch(sprig)'] / med['sprig']:.2f}x, "
            f"floor/sprig {floor(med) / med['sprig']:.2f}x",
            flush=True,
        )

    rows = []
    for d in (float(x) for x in args.densities.split(",")):
        med = measure(variants(d))
        rows.append((d, med))
        show(f"density {d}", med)
    rows3 = []
    for spec in filter(None, args.shapes3d.split(",")):
        shape = tuple(int(v) for v in spec.split("x"))
        med = measure(variants(args.density3d, shape=shape))
        rows3.append((shape, med))
        show(f"shape {spec}", med)
    lines = [
        "## PyTorch boundary: one 3072 -> 1024 layer, forward + backward",
        "",
        f"- Command: `{_report.command()}`",
        f"- Date: {_report.today()}",
        f"- Machine: {_report.machine()}",
        _report.load_line(load0),
        f"- Versions: {_report.versions()}",
        f"- Threads: {args.threads} (torch and Numba). Batch {BATCH}, float32; median of "
        f"{args.rounds} interleaved rounds of {args.reps} calls. One call: forward, backward of "
        "dY (dX, weight gradient, bias gradient). Clock: "
        + (
            "process CPU time (all threads; robust when other processes share the cores)"
            if args.clock == "cpu"
            else "wall time"
        )
        + ".",
        "",
        "| density | masked nn.Linear (ms) | SparseLinear sprig kernels (ms) | "
        "SparseLinear torch.sparse (ms) | sprig native (ms) | masked / SparseLinear | "
        "SparseLinear / sprig native | SparseLinear in a sparse stack (ms) | "
        "masked / stacked | stacked / sprig native | layout floor (ms) | autograd floor (ms) | "
        "floors / sprig native |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d, m in rows:
        st = m["torch(sprig) stacked"]
        lines.append(
            f"| {d:g} | {m['masked'] * 1e3:.2f} | {m['torch(sprig)'] * 1e3:.2f} | "
            f"{m['torch(native)'] * 1e3:.2f} | {m['sprig'] * 1e3:.2f} | "
            f"{m['masked'] / m['torch(sprig)']:.1f}x | {m['torch(sprig)'] / m['sprig']:.2f}x | "
            f"{st * 1e3:.2f} | {m['masked'] / st:.1f}x | {st / m['sprig']:.2f}x | "
            f"{m['layout floor'] * 1e3:.2f} | {m['autograd floor'] * 1e3:.2f} | "
            f"{floor(m) / m['sprig']:.2f}x |"
        )
    lines += [
        "",
        "*SparseLinear*: a batch-major input and output gradient (a standalone layer, or the "
        "first sparse layer after dense ops): the input, the output gradient and the input "
        "gradient are transposed at the boundary. *In a sparse stack*: the input is a "
        "transposed view of a feature-major array and dY arrives the same way (what a "
        "SparseLinear receives from another SparseLinear through element-wise ops), so the "
        "boundary costs only the autograd and module overhead. *Layout floor*: the native "
        "layer plus the three tiled transposes a batch-major caller needs, no autograd. "
        "*Autograd floor*: an `nn.Module` whose autograd Function returns preallocated results "
        "(PyTorch's own cost of a custom layer). *Floors / sprig native*: their sum over the "
        "native layer, the least SparseLinear / sprig native can be with feature-major "
        "kernels behind a batch-major boundary.",
    ]
    if rows3:
        lines += [
            "",
            f"GPT-style 3-D inputs (batch x tokens x in -> out), density {args.density3d:g}, "
            "same columns (the masked layer is an `nn.Linear` with the mask; the native layer "
            "gets the tokens as one feature-major batch):",
            "",
            "| B x T x in -> out | masked nn.Linear (ms) | SparseLinear sprig kernels (ms) | "
            "SparseLinear torch.sparse (ms) | sprig native (ms) | masked / SparseLinear | "
            "SparseLinear / sprig native |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for (b, t, i, o), m in rows3:
            lines.append(
                f"| {b} x {t} x {i} -> {o} | {m['masked'] * 1e3:.2f} | "
                f"{m['torch(sprig)'] * 1e3:.2f} | {m['torch(native)'] * 1e3:.2f} | "
                f"{m['sprig'] * 1e3:.2f} | {m['masked'] / m['torch(sprig)']:.1f}x | "
                f"{m['torch(sprig)'] / m['sprig']:.2f}x |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        _report.write_section("torch_linear", text)
        print(f"written to {_report.DOC}")


if __name__ == "__main__":
    main()
