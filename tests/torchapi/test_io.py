"""state_dict and safetensors round trips across topologies."""

import pytest

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
pytest.importorskip("safetensors")
from torch import nn  # noqa: E402

from sprig.torch import TopologyUpdater, load_safetensors, save_safetensors, sparsify  # noqa: E402


def _model(seed):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 4), nn.LayerNorm(4))
    sparsify(m, 0.3, distribution="uniform", exclude=(), rng=seed)
    return m


def _trained():
    m = _model(0)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    upd = TopologyUpdater(m, opt, "MagRan(0.3)", epochs=3, steps_per_epoch=2)
    X = torch.randn(5, 12)
    for _ in range(6):  # two topology updates
        opt.zero_grad()
        m(X).square().mean().backward()
        opt.step()
        upd.step()
    return m, X


def test_state_dict_loads_into_a_model_with_another_topology():
    m, X = _trained()
    fresh = _model(1)
    assert not torch.equal(fresh[0].col_indices, m[0].col_indices)
    fresh.load_state_dict(m.state_dict())
    torch.testing.assert_close(fresh(X), m(X), rtol=0, atol=0)
    assert fresh[0].nnz == m[0].nnz and torch.equal(fresh[0].crow_indices, m[0].crow_indices)
    opt = torch.optim.SGD(fresh.parameters(), lr=0.1)  # trains after loading
    fresh(X).sum().backward()
    opt.step()


def test_safetensors_round_trip(tmp_path):
    m, X = _trained()
    path = tmp_path / "model.safetensors"
    save_safetensors(m, path, metadata={"density": "0.3"})
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
    fresh = _model(2)
    load_safetensors(fresh, path)
    torch.testing.assert_close(fresh(X), m(X), rtol=0, atol=0)
    sd = fresh.state_dict()
    assert sd["0.col_indices"].dtype == torch.int32 and sd["0.values"].shape == (m[0].nnz,)
