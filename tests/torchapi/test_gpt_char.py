"""Fast version of experiments/gpt_char.py: a tiny GPT on tinyshakespeare, its blocks truly
sparse (sprig.torch.sparsify), MagRan topology updates, SMET.

A broken sparse layer (wrong dX or dW), a topology update that damages the optimizer state or
the weights, or an optimizer that does not move the stored values cannot get the validation
loss far below the initial ln(vocab) ≈ 4.17 nats: the threshold (measured values in comments)
needs more than the unigram statistics of the characters (3.31 nats), i.e. a model that uses
its context.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")

import sprig.torch as st  # noqa: E402
from sprig.sparsity.algorithms import magran  # noqa: E402
from sprig.torch.data import CharDataset  # noqa: E402
from sprig.torch.linear import SparseLinear  # noqa: E402
from sprig.torch.models import GPT, GPTConfig  # noqa: E402

TEXT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare"


@pytest.fixture(scope="module")
def shakespeare() -> CharDataset:
    path = TEXT / "input.txt"
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared datasets, but {path} is missing")
        pytest.skip(f"needs the shared datasets ({path})")
    return CharDataset.from_file(path)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@torch.no_grad()
def _val_loss(model: GPT, ds: CharDataset, context: int) -> float:
    model.eval()
    losses = [
        model.loss(x, y).item() for x, y in ds.windows("val", context, batch_size=32, max_batches=4)
    ]
    model.train()
    return sum(losses) / len(losses)


def _train(ds: CharDataset, *, sparse: bool, optimizer: str, steps: int) -> dict[str, object]:
    context = 32
    cfg = GPTConfig(ds.vocab_size, context=context, n_layer=2, width=48, n_head=2)
    model = GPT(cfg, generator=torch.Generator().manual_seed(0))
    updater = None
    if sparse:
        st.sparsify(model, 0.2, exclude=("head",), rng=0)
    params = list(model.parameters())
    opt = st.SMET(params, lr=1e-2) if optimizer == "smet" else torch.optim.Adam(params, lr=1e-2)
    if sparse:
        updater = st.TopologyUpdater(model, opt, dst=magran(0.3, every=25, unit="step"), seed=1)
    nnz0 = {n: m.nnz for n, m in model.named_modules() if isinstance(m, SparseLinear)}
    topo0 = {
        n: m.col_indices.clone() for n, m in model.named_modules() if isinstance(m, SparseLinear)
    }
    gen = torch.Generator().manual_seed(2)
    val0 = _val_loss(model, ds, context)
    updates = 0
    for _ in range(steps):
        x, y = ds.batch("train", 16, context, generator=gen)
        loss = model.loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if updater is not None and updater.step() is not None:
            updates += 1
    layers = {n: m for n, m in model.named_modules() if isinstance(m, SparseLinear)}
    return {
        "val0": val0,
        "val": _val_loss(model, ds, context),
        "updates": updates,
        "layers": layers,
        "nnz0": nnz0,
        "topo0": topo0,
        "model": model,
    }


@pytest.mark.slow
def test_sparse_gpt_with_magran_and_smet_learns_shakespeare(shakespeare):
    r = _train(shakespeare, sparse=True, optimizer="smet", steps=150)
    assert abs(r["val0"] - math.log(shakespeare.vocab_size)) < 0.2
    layers = r["layers"]
    # every linear layer of both blocks is truly sparse, the head is not
    assert sorted(layers) == sorted(
        f"blocks.{i}.{n}"
        for i in range(2)
        for n in ("attn.q", "attn.k", "attn.v", "attn.out", "mlp.fc", "mlp.proj")
    )
    assert isinstance(r["model"].head, torch.nn.Linear)
    assert r["updates"] == 6  # after steps 25, 50, ..., 150
    for name, layer in layers.items():
        assert layer.nnz == r["nnz0"][name]  # MagRan keeps nnz
        assert layer.values.shape == (layer.nnz,)
    changed = sum(not torch.equal(m.col_indices, r["topo0"][n]) for n, m in layers.items())
    assert changed == len(layers)
    overall = sum(m.nnz for m in layers.values()) / sum(
        m.in_features * m.out_features for m in layers.values()
    )
    assert abs(overall - 0.2) < 0.01
    # measured 4.23 -> 2.63 (plain Adam instead of SMET: 2.59; the dense model with Adam at
    # the same lr: 2.80); unigram entropy of the text 3.31 nats, bigram 2.45
    assert r["val"] < 2.9, r["val"]


def _experiment():
    """experiments/gpt_char.py as a module (its spike statistics and pooled report)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "experiments" / "gpt_char.py"
    spec = importlib.util.spec_from_file_location("gpt_char_experiment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spike_increments_by_hand():
    np = pytest.importorskip("numpy")
    g = _experiment()
    losses = np.zeros(100)
    losses[30] = 1.5  # step 31, inside the 15 steps up to step 40: before = 0.1
    losses[40] = 1.0  # step 41, the first step after the update after step 40
    losses[42] = 0.5
    inc = g.spike_increments(losses, [5, 40, 90], k=15)  # 5 and 90 lack 15 steps on a side
    assert inc["steps"].tolist() == [40]
    assert inc["step1"] == pytest.approx([0.9])
    assert inc["first5"] == pytest.approx([1.5 / 5 - 0.1])
    assert inc["mean"] == pytest.approx([1.5 / 15 - 0.1])
    assert inc["max"] == pytest.approx([0.9])
    s = g.spike_stats(losses, [5, 40, 90], k=15)
    assert s["n"] == 1 and s["step1_increase"] == pytest.approx(0.9)
    assert g.spike_stats(losses, [5], k=15) == {"n": 0}


def test_pooled_report_pairs_seeds(tmp_path, capsys):
    np = pytest.importorskip("numpy")
    pytest.importorskip("matplotlib")
    pytest.importorskip("scipy")
    import json

    g = _experiment()
    updates = list(range(40, 201, 40))  # 40..160 have 15 steps on both sides: 4 updates
    dirs = []
    for seed, jump in ((0, 0.1), (1, 0.2)):
        base = 3 - 0.001 * np.arange(200) + 0.01 * np.random.default_rng(seed).normal(size=200)
        d = tmp_path / f"seed{seed}"
        d.mkdir()
        dirs.append(d)
        for name, j in (("sparse_adam", jump), ("sparse_smet", 0.0)):
            losses = base.copy()
            losses[[u for u in updates if u < 200]] += j  # step u + 1
            args = {"seed": seed, "window": 15, "width": 8, "density": 0.1}
            args |= {"fraction": 0.3, "every": 40, "lr": 1e-3}
            r = {"args": args, "losses": losses.tolist(), "updates": updates}
            r["final_val_loss"] = 2.0 + j
            (d / f"{name}.json").write_text(json.dumps(r))
    a = g.parser().parse_args(["--pool", *map(str, dirs), "--plot", str(tmp_path / "p.png")])
    g.pooled_report(a)
    out = capsys.readouterr().out
    # same base losses in both runs of a seed: the paired step +1 difference is the jump
    # exactly, (0.1 + 0.2) / 2 over the 8 pairs, and 0 at the control midpoints
    row = next(x for x in out.splitlines() if x.startswith("| sparse_adam − sparse_smet | step"))
    assert "+0.1500 ± 0.0189 (n=8, 8 > 0)" in row
    assert "+0.1000, +0.2000" in row
    assert row.endswith("| +0.0000 ± 0.0000 (—) |")
    assert (tmp_path / "p.png").stat().st_size > 0
    # --pool-from 100: the updates after steps 120 and 160 of both seeds
    a.pool_from = 100
    g.pooled_report(a)
    out = capsys.readouterr().out
    row = next(x for x in out.splitlines() if x.startswith("| sparse_adam − sparse_smet | step"))
    assert "+0.1500 ± 0.0289 (n=4, 4 > 0)" in row
    # one seed twice is refused
    a.pool = [dirs[0], dirs[0]]
    with pytest.raises(SystemExit, match="seed 0 of run sparse_adam appears twice"):
        g.pooled_report(a)
