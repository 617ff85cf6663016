"""SEFT on a torch model through sprig.torch.TopologyUpdater: exact nnz after every step, grown
positions never stored before their update, their Adam moments zero, kept moments carried."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")

from sprig.seft import torch as ST  # noqa: E402
from sprig.torch import SparseLinear, TopologyUpdater  # noqa: E402


def test_torch_seft_updates() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)
    ).double()
    X = torch.randn(40, 12, dtype=torch.float64)
    y = torch.randint(0, 3, (40,))
    report = ST.prune(model, 0.25, "wanda", calibration=[X], exclude=())
    assert set(report) == {"0", "2"}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    up = TopologyUpdater(
        model, opt, "SEFT(fraction=0.3, every=2, end=1)", epochs=1, steps_per_epoch=8
    )
    layers = {n: m for n, m in model.named_modules() if isinstance(m, SparseLinear)}
    nnz = {n: m.nnz for n, m in layers.items()}
    changed = 0
    for step in range(8):
        before = {n: m.to_csr() for n, m in layers.items()}
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X[step * 5 : step * 5 + 5]), y[:5]).backward()
        opt.step()
        moments = {n: opt.state[m.values]["exp_avg"].numpy().copy() for n, m in layers.items()}
        out = up.step()
        for n, m in layers.items():
            assert m.nnz == nnz[n] and m.col_indices.numel() == nnz[n]
            after = m.to_csr()
            new = ~np.isin(after.keys, before[n].keys)
            if out is None:
                assert not new.any()
                continue
            changed += int(new.sum())
            assert out["layers"][n].grown == new.sum() == out["layers"][n].pruned
            assert np.all(after.data[new] == 0)
            ea = opt.state[m.values]["exp_avg"].numpy()
            assert np.all(ea[new] == 0)
            kept = ~new  # kept entries carry their moments through the remap
            src = np.searchsorted(before[n].keys, after.keys[kept])
            np.testing.assert_array_equal(ea[kept], moments[n][src])
    assert changed > 0 and len(up.history) == 3  # steps 2, 4, 6 (stop at 8 exclusive)


def test_torch_wanda_uses_each_layers_input_over_all_tokens() -> None:
    from sprig.seft.pruning import keep_pattern

    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5))
    W1, b1 = model[0].weight.detach().double(), model[0].bias.detach().double()
    W2 = model[2].weight.detach().double().numpy()
    calib = [torch.randn(2, 7, 6), torch.randn(3, 7, 6)]  # (batch, tokens, features)
    ST.prune(model, 0.5, "wanda", calibration=calib, exclude=())
    X = torch.cat([c.reshape(-1, 6) for c in calib]).double()
    H = torch.relu(X @ W1.T + b1).numpy()
    want1 = keep_pattern(W1.numpy(), 0.5, "wanda", (X.numpy() ** 2).sum(0))
    want2 = keep_pattern(W2, 0.5, "wanda", (H**2).sum(0))
    assert isinstance(model[0], SparseLinear) and isinstance(model[2], SparseLinear)
    assert np.array_equal(model[0].to_csr().toarray() != 0, want1)
    assert np.array_equal(model[2].to_csr().toarray() != 0, want2)
    assert model[2].nnz == 5 * 4
