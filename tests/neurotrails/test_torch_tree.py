"""NeuroTrails on torch models: one trunk, gradients summed from every head, mean prediction,
GPT split, sparsified tree trained by sprig.torch's TopologyUpdater with NeuroTrails' DST."""

import pytest

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")

from torch import nn  # noqa: E402

from sprig.errors import ConfigError  # noqa: E402
from sprig.neurotrails import neurotrails, neurotrails_dst  # noqa: E402
from sprig.neurotrails.torchtree import TorchTree, count  # noqa: E402


class Backbone(nn.Module):
    def __init__(self, d=12, width=16, n_blocks=3, classes=4):
        super().__init__()
        self.stem = nn.Linear(d, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.ReLU()) for _ in range(n_blocks)
        )
        self.tail = nn.Linear(width, classes)


def test_trunk_parameters_exist_once_and_get_the_sum_of_the_heads_gradients():
    tree = neurotrails(Backbone, heads=3, head_blocks=1, seed=0).double()
    ids = [id(p) for p in tree.parameters()]
    assert len(ids) == len(set(ids))
    trunk = tree.trunk[0][0].weight
    assert sum(p is trunk for p in tree.parameters()) == 1
    x = torch.randn(5, 12, dtype=torch.float64)
    y = torch.randint(0, 4, (5,))
    TorchTree.heads_loss(tree(x), y, "sum").backward()
    total = trunk.grad.clone()
    parts = []
    for k in range(3):
        tree.zero_grad()
        nn.functional.cross_entropy(tree.forward_heads(x)[k], y).backward()
        parts.append(trunk.grad.clone())
    torch.testing.assert_close(total, sum(parts), rtol=1e-12, atol=1e-12)
    assert all(p.abs().sum() > 0 for p in parts)
    # heads are independently initialised copies
    w = [h.blocks[0][0].weight for h in tree.heads]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])


def test_prediction_is_the_mean_of_the_heads_and_losses_combine():
    tree = neurotrails(Backbone(), heads=4, head_blocks=2, seed=1)
    x = torch.randn(6, 12)
    outs = tree.forward_heads(x)
    torch.testing.assert_close(tree.predict(x), sum(outs) / 4)
    y = torch.randint(0, 4, (6,))
    each = [nn.functional.cross_entropy(o, y) for o in outs]
    torch.testing.assert_close(TorchTree.heads_loss(outs, y, "mean"), sum(each) / 4)
    torch.testing.assert_close(TorchTree.heads_loss(outs, y, "sum"), sum(each))
    with pytest.raises(ConfigError, match="combine"):
        TorchTree.heads_loss(outs, y, "max")


def test_full_ensemble_shares_nothing_and_bad_settings_are_refused():
    tree = neurotrails(Backbone, heads=2, head_blocks=3, shared_stem=False)
    assert tree.stem is None and len(tree.trunk) == 0
    a, b = ({id(p) for p in h.parameters()} for h in tree.heads)
    assert not a & b
    assert count(tree)["parameters"] == 2 * sum(p.numel() for p in Backbone().parameters())
    with pytest.raises(ConfigError, match=r"head_blocks must be an integer in 1\.\.3"):
        neurotrails(Backbone, head_blocks=4)
    with pytest.raises(ConfigError, match="cannot split"):
        neurotrails(lambda: nn.Linear(3, 3))


def test_gpt_tree_sparse_trains_with_neurotrails_dst():
    from sprig.torch import SparseLinear, TopologyUpdater
    from sprig.torch.models import GPT, GPTConfig

    cfg = GPTConfig(vocab_size=11, context=8, n_layer=3, width=16, n_head=2)
    tree = neurotrails(lambda: GPT(cfg), heads=2, head_blocks=1, density=0.5, seed=0)
    assert len(tree.trunk) == 2 and all(len(h.blocks) == 1 for h in tree.heads)
    sparse = {n for n, m in tree.named_modules() if isinstance(m, SparseLinear)}
    assert "trunk.0.attn.q" in sparse and "heads.1.blocks.0.mlp.fc" in sparse
    assert not any(n.endswith("tail.head") for n in sparse)  # classifiers stay dense
    nnz = {n: m.nnz for n, m in tree.named_modules() if isinstance(m, SparseLinear)}
    idx = torch.randint(0, 11, (4, 8))
    assert tree(idx).shape == (2, 4, 8, 11)
    opt = torch.optim.Adam(tree.parameters(), lr=1e-2)
    alg = neurotrails_dst(6, prune="soft_magnitude", temperature=3.0, every=3)
    upd = TopologyUpdater(tree, opt, alg, seed=0)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = TorchTree.heads_loss(tree(idx[:, :-1]), idx[:, 1:], "sum")
        loss.backward()
        opt.step()
        upd.step()
        losses.append(loss.item())
    assert [r["step"] for r in upd.history] == [3]  # t=6 is the end of the cosine (rate 0)
    layers = upd.history[0]["layers"]
    assert set(layers) == set(nnz)
    assert all(s.pruned == s.grown > 0 for s in layers.values())
    assert {n: m.nnz for n, m in tree.named_modules() if isinstance(m, SparseLinear)} == nnz
    assert losses[-1] < losses[0]
