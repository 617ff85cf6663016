"""TopologyUpdater and SMET: optimizer state through random edits, equality with sprig's own
optimizers, every DST spec on a torch model."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sprig.errors import ConfigError  # noqa: E402
from sprig.optimizers import SMET as SprigSMET  # noqa: E402
from sprig.optimizers import Adam as SprigAdam  # noqa: E402
from sprig.optimizers import AdamW as SprigAdamW  # noqa: E402
from sprig.optimizers import Momentum as SprigMomentum  # noqa: E402
from sprig.optimizers.base import remap_state  # noqa: E402
from sprig.sparsity import Edit  # noqa: E402
from sprig.torch import SMET, SparseLinear, TopologyUpdater, sparsify  # noqa: E402


def _random_edit(W, rng):
    n_drop = int(rng.integers(0, W.nnz + 1))
    drop = np.sort(rng.choice(W.nnz, n_drop, replace=False)).astype(np.int64)
    free = np.setdiff1d(np.arange(W.shape[0] * W.shape[1]), W.keys)
    n_add = int(rng.integers(0, free.size + 1))
    keys = np.sort(rng.choice(free, n_add, replace=False)).astype(np.int64)
    vals = rng.standard_normal(n_add)
    return Edit(drop, keys // W.shape[1], keys % W.shape[1], vals)


OPTIMIZERS = {
    "sgd": (
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        SprigMomentum(momentum=0.9),
        0.05,
    ),
    "adam": (lambda p: torch.optim.Adam(p, lr=0.01), SprigAdam(), 0.01),
    "adamw": (lambda p: torch.optim.AdamW(p, lr=0.01), SprigAdamW(), 0.01),
    "smet": (lambda p: SMET(p, lr=0.01, warmup_steps=3), SprigSMET(warmup_steps=3), 0.01),
}


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), name=st.sampled_from(sorted(OPTIMIZERS)))
def test_state_through_random_edits_equals_sprig_optimizer(seed, name):
    """torch optimizer + TopologyUpdater.apply == sprig's optimizer + remap_state."""
    rng = np.random.default_rng(seed)
    make, ref_opt, lr = OPTIMIZERS[name]
    layer = SparseLinear(6, 5, bias=False, density=0.4, rng=seed, dtype=torch.float64)
    model = nn.Sequential(layer)
    opt = make(model.parameters())
    upd = TopologyUpdater(model, opt, "static", epochs=1, steps_per_epoch=1)
    w = layer.values.detach().numpy().copy()
    state = ref_opt.init(w)
    for _ in range(3):
        for _ in range(2):
            g = rng.standard_normal(layer.nnz)
            layer.values.grad = torch.from_numpy(g.copy())
            opt.step()
            ref_opt.step(w, g, state, lr=lr)
            np.testing.assert_allclose(layer.values.detach().numpy(), w, rtol=1e-10, atol=1e-12)
        W = layer.to_csr()
        edit = _random_edit(W, rng)
        remap = upd.apply("0", edit)
        W2, remap2 = W.edit(edit.drop, edit.add_rows, edit.add_cols, edit.add_values)
        np.testing.assert_array_equal(remap.source, remap2.source)
        w = W2.data.copy()
        state = remap_state(state, remap2)
        assert layer.values.grad.shape == (layer.nnz,)
        np.testing.assert_array_equal(layer.values.grad.numpy()[remap2.inserted], 0)
        np.testing.assert_array_equal(layer.values.detach().numpy(), w)
        np.testing.assert_array_equal(layer.col_indices.numpy(), W2.indices)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_smet_equals_sprig_smet_with_density_lr(backend):
    layer = SparseLinear(20, 10, density=0.25, rng=0)
    opt = SMET([layer.values], lr=0.01, warmup_steps=5, density_lr_power=1.0, backend=backend)
    ref = SprigSMET(warmup_steps=5)
    w = layer.values.detach().numpy().copy()
    state = ref.init(w)
    rng = np.random.default_rng(0)
    for _ in range(7):
        g = rng.standard_normal(layer.nnz).astype(np.float32)
        layer.values.grad = torch.from_numpy(g.copy())
        opt.step()
        ref.step(w, g, state, lr=0.01 / layer.density)
    tol = {"rtol": 0, "atol": 0} if backend == "numpy" else {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(layer.values.detach().numpy(), w, **tol)
    np.testing.assert_array_equal(opt.state[layer.values]["step"].numpy(), state.step)
    with pytest.raises(ConfigError, match="eps must be"):
        SMET([layer.values], eps=-1.0)


def _train(spec, steps=6, spe=3, opt_name="adam", seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
    )
    sparsify(model, 0.3, distribution="uniform", exclude=(), rng=seed)
    opt = (
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if opt_name == "sgd"
        else torch.optim.Adam(model.parameters(), lr=0.01)
    )
    upd = TopologyUpdater(
        model, opt, spec, epochs=steps // spe, steps_per_epoch=spe, final_density=0.2, seed=seed
    )
    X = torch.randn(8, 10)
    y = torch.randint(0, 3, (8,))
    updates = []
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        out = upd.step()
        if out is not None:
            updates.append(out)
    return model, upd, updates


SPECS = [
    ("SET(0.3)", "adam"),
    ("MagRan(0.2)", "adam"),
    ("RigL(fraction=0.3, every=2)", "adam"),
    ("SNFS(0.5)", "sgd"),
    ("MEST", "adam"),
    ("GMP(every=1)", "adam"),
    ("GraNet(every=1)", "adam"),
]


@pytest.mark.parametrize(("spec", "opt_name"), SPECS, ids=[s for s, _ in SPECS])
def test_every_dst_spec_runs_on_a_torch_model(spec, opt_name):
    model, upd, updates = _train(
        spec, steps=6 if "MEST" not in spec else 15, spe=3, opt_name=opt_name
    )
    assert updates, f"{spec}: no update happened"
    names = {"0", "2", "4"}
    assert set(updates[-1]["layers"]) == names
    for n in names:
        layer = upd.layers[n]
        assert layer.nnz == updates[-1]["layers"][n].nnz
        assert layer.values.shape == (layer.nnz,)
    X = torch.randn(2, 10)
    model(X).sum().backward()  # still trains after the edits


def test_rigl_records_samples_only_for_update_batches():
    _, upd, updates = _train("RigL(fraction=0.5, every=2)", steps=4, spe=4)
    assert [u["step"] for u in updates] == [2]
    assert all(s.grown > 0 for s in updates[0]["layers"].values())
    assert all(m._sample is None and not m._record_sample for m in upd.layers.values())


def test_state_dict_round_trip_and_errors():
    model, upd, _ = _train("SET(0.3)", steps=3, spe=3)
    sd = upd.state_dict()
    model2 = nn.Sequential(
        nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
    )
    sparsify(model2, 0.3, distribution="uniform", exclude=(), rng=5)
    upd2 = TopologyUpdater(model2, None, "SET(0.3)", epochs=2, steps_per_epoch=3)
    upd2.load_state_dict(sd)
    assert upd2.t == 3 and upd2.rng.random() == upd.rng.random()
    with pytest.raises(ConfigError, match="needs epochs= and steps_per_epoch="):
        TopologyUpdater(model, None, "RigL")
    with pytest.raises(ConfigError, match="no SparseLinear"):
        TopologyUpdater(nn.Linear(2, 2), None, "SET", epochs=1, steps_per_epoch=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_updater_and_smet_match_cpu():  # pragma: no cover - no GPU in CI
    results = []
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3)).double()
        sparsify(model, 0.3, distribution="uniform", exclude=(), rng=0)
        model.to(device)
        opt = SMET(model.parameters(), lr=0.01, warmup_steps=2)
        upd = TopologyUpdater(
            model, opt, "RigL(fraction=0.3, every=2)", epochs=1, steps_per_epoch=6
        )
        X = torch.randn(8, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        for _ in range(6):
            opt.zero_grad()
            model(X.to(device)).square().mean().backward()
            opt.step()
            upd.step()
        results.append({k: v.cpu() for k, v in model.state_dict().items()})
    for k in results[0]:
        torch.testing.assert_close(results[1][k], results[0][k], rtol=1e-8, atol=1e-10)
