"""sparsify / densify on small transformer-like models."""

import numpy as np
import pytest

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sprig.errors import ConfigError  # noqa: E402
from sprig.sparsity.density import erk  # noqa: E402
from sprig.torch import SparseLinear, densify, sparsify  # noqa: E402


class Block(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        h = self.ln(x)
        a = torch.softmax(self.q(h) @ self.k(h).transpose(-1, -2) / 8, -1) @ self.v(h)
        x = x + self.o(a)
        return x + self.mlp(x)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 32)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.mha = nn.MultiheadAttention(32, 4, batch_first=True)
        self.lm_head = nn.Linear(32, 20)

    def forward(self, idx):
        x = self.emb(idx)
        for b in self.blocks:
            x = b(x)
        x = x + self.mha(x, x, x, need_weights=False)[0]
        return self.lm_head(x)


def test_sparsify_transformer_erk_report_and_forward():
    torch.manual_seed(0)
    model = Tiny()
    idx = torch.randint(0, 20, (2, 5))
    report = sparsify(model, 0.2, rng=0)
    status = {r.name: r.status for r in report.layers}
    assert status["blocks.0.q"] == "sparse"
    assert status["blocks.1.mlp.2"] == "sparse"
    assert status["lm_head"] == "excluded"
    assert status["mha.out_proj"] == "left dense (nn.MultiheadAttention)"
    assert isinstance(model.blocks[0].mlp[0], SparseLinear)
    assert type(model.mha.out_proj) is not SparseLinear
    shapes = [r.shape for r in report.layers if r.status == "sparse"]
    expected = erk(shapes, 0.2)
    got = [r.density for r in report.layers if r.status == "sparse"]
    np.testing.assert_allclose(got, expected, atol=1e-3)
    assert abs(report.overall_density - 0.2) < 1e-3
    assert "overall density" in str(report)
    out = model(idx)
    out.sum().backward()
    assert out.shape == (2, 5, 20)
    assert model.blocks[0].q.values.grad is not None


@pytest.mark.parametrize("init", ["keep", "magnitude"])
def test_keep_and_magnitude_take_the_dense_values(init):
    torch.manual_seed(1)
    lin = nn.Linear(10, 6)
    model = nn.Sequential(lin)
    W = lin.weight.detach().clone()
    sparsify(model, 0.5, distribution="uniform", init=init, rng=0)
    dense = model[0].dense_weight()
    mask = dense != 0
    torch.testing.assert_close(dense[mask], W[mask])
    torch.testing.assert_close(model[0].bias.detach(), lin.bias.detach())
    if init == "magnitude":
        assert W.abs()[mask].min() >= W.abs()[~mask].max()


def test_exclude_by_regex_type_and_predicate_and_bad_values():
    def make():
        return nn.Sequential(nn.Linear(8, 8), nn.Sequential(nn.Linear(8, 8)), nn.Linear(8, 4))

    m = make()
    r = sparsify(m, 0.5, distribution="uniform", exclude=[r"^0$", lambda n, mod: n == "2"])
    assert [x.status for x in r.layers] == ["excluded", "sparse", "excluded"]
    m = make()
    r = sparsify(m, 0.5, distribution="uniform", exclude=[nn.Sequential])
    assert [x.status for x in r.layers] == ["sparse", "excluded", "sparse"]
    with pytest.raises(ConfigError, match="density must be"):
        sparsify(make(), 1.5)
    with pytest.raises(ConfigError, match="unknown density rule"):
        sparsify(make(), 0.5, distribution="fancy")
    with pytest.raises(ConfigError, match="init must be one of"):
        sparsify(make(), 0.5, init="zeros")


def test_densify_round_trip_is_exact():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(12, 9), nn.ReLU(), nn.Linear(9, 3))
    sparsify(model, 0.3, distribution="uniform", exclude=(), rng=0)
    X = torch.randn(4, 12)
    Y = model(X)
    densify(model)
    assert all(type(m) is nn.Linear for m in (model[0], model[2]))
    torch.testing.assert_close(model(X), Y)
