"""Model trees: path names, shared trunks, several outputs, and their gradients."""

import numpy as np
import pytest

from gradcheck import numerical_grad
from sprig.activations import ReLU, Tanh
from sprig.errors import CheckpointError, ConfigError
from sprig.layers import (
    ActivationLayer,
    Dropout,
    Linear,
    Module,
    Parallel,
    Sequential,
    SparseLinear,
)
from sprig.layers.tree import named_modules, named_parameters, weight_owner
from sprig.losses import HeadsLoss, SoftmaxCrossEntropy
from sprig.models import MLP, Model, TrunkHeads, multi_head


def two_heads(seed=0, dtype=np.float64, heads=2):
    rng = np.random.default_rng(seed)
    return multi_head(
        [SparseLinear(6, 8, density=0.5, rng=rng, dtype=dtype), ActivationLayer(Tanh(), 8, dtype)],
        [
            [
                SparseLinear(8, 5, density=0.6, rng=rng, dtype=dtype),
                ActivationLayer(ReLU(), 5, dtype),
                Linear(5, 3, rng=rng, dtype=dtype),
            ]
            for _ in range(heads)
        ],
    )


def test_path_names_of_a_trunk_with_heads():
    m = two_heads(heads=3)
    names = list(m.params())
    assert names[:2] == ["trunk.0.weight", "trunk.0.bias"]
    assert "heads.2.2.weight" in names and "heads.0.0.bias" in names
    assert list(m.sparse_modules()) == ["trunk.0", "heads.0.0", "heads.1.0", "heads.2.0"]
    assert list(m.sparse_weights()) == [f"{p}.weight" for p in m.sparse_modules()]
    assert m.in_features == 6 and m.out_features == (3, 3, 3) and m.num_outputs == 3
    assert weight_owner(m.net, "heads.1.0.weight")[0] == "heads.1.0"
    with pytest.raises(KeyError, match="not a sparse weight"):
        weight_owner(m.net, "heads.1.2.weight")  # dense


def test_attribute_children_and_shared_nodes_are_named_once():
    rng = np.random.default_rng(0)
    shared = Linear(4, 4, rng=rng)

    class Twice(Module):
        def __init__(self):
            self.a = shared
            self.blocks = [shared, Linear(4, 2, rng=rng)]

    names = [p for p, _ in named_modules(Twice())]
    assert names == ["", "a", "blocks.1"]  # the shared layer keeps its first path
    assert sorted(named_parameters(Twice())) == ["a.bias", "a.weight", "blocks.1.bias",
                                                  "blocks.1.weight"]  # fmt: skip


def test_mlp_keeps_its_integer_path_names():
    rng = np.random.default_rng(0)
    m = MLP([SparseLinear(4, 6, density=0.5, rng=rng), ActivationLayer(ReLU(), 6),
             Dropout(6, 0.1, rng=rng), Linear(6, 2, rng=rng)])  # fmt: skip
    assert list(m.params()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert list(m.named_rngs()) == ["0", "2", "3"]
    assert m.sparse_layers() == {0: m.net[0]}


def test_heads_share_the_trunk_and_their_gradients_add_up():
    """Finite differences (float64) of the whole two-head model through HeadsLoss: the
    trunk's gradient is the sum over heads (the trunk exists once)."""
    m = two_heads()
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 7))
    T = np.eye(3)[rng.integers(0, 3, 7)].T
    loss = HeadsLoss(SoftmaxCrossEntropy(), "mean")

    def value():
        Y, _ = m.forward_fm(X, train=False)
        return loss.value(Y, T)

    Y, bp = m.forward_fm(X, train=False, input_grad=True)
    _, dY = loss.value_and_grad(Y, T)
    dX = bp(dY)
    for name, p in m.params().items():
        num = numerical_grad(value, p.value)
        np.testing.assert_allclose(p.grad, num, rtol=1e-5, atol=1e-8, err_msg=name)
    np.testing.assert_allclose(dX, numerical_grad(value, X), rtol=1e-5, atol=1e-8)
    # the sum rule: per-head gradients of the trunk add up to the combined one
    g_total = m.params()["trunk.0.weight"].grad.copy()
    per_head = []
    for h in range(2):
        dYh = tuple(d if i == h else np.zeros_like(d) for i, d in enumerate(dY))
        bp(dYh)
        per_head.append(m.params()["trunk.0.weight"].grad.copy())
    np.testing.assert_allclose(per_head[0] + per_head[1], g_total, rtol=1e-12)


def test_heads_loss_is_the_mean_or_sum_of_the_heads():
    rng = np.random.default_rng(0)
    Y = (rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))
    T = np.eye(3)[[0, 1, 2, 0]].T
    base = SoftmaxCrossEntropy()
    parts = [base.value(y, T) for y in Y]
    assert HeadsLoss(base).value(Y, T) == pytest.approx(np.mean(parts))
    assert HeadsLoss(base, "sum").value(Y, T) == pytest.approx(np.sum(parts))
    _, g = HeadsLoss(base).value_and_grad(Y, T)
    np.testing.assert_allclose(g[1], base.grad(Y[1], T) / 2)
    with pytest.raises(ValueError, match="combine"):
        HeadsLoss(base, "max")


def test_ensemble_prediction_is_the_mean_of_the_heads():
    m = two_heads(heads=3)
    X = np.random.default_rng(2).normal(size=(5, 6))
    outs = m.predict_outputs(X)
    np.testing.assert_allclose(m.predict(X), np.mean(outs, axis=0), rtol=1e-12)
    Y, bp = m.forward(X)
    assert isinstance(Y, tuple) and len(Y) == 3
    dX = bp(tuple(np.ones_like(y) for y in Y))
    assert dX.shape == X.shape


def test_parallel_checks_its_branches():
    with pytest.raises(ValueError, match="at least one"):
        Parallel([])
    with pytest.raises(TypeError, match="branch 0"):
        Parallel([object()])
    rng = np.random.default_rng(0)
    p = Parallel([Linear(3, 2, rng=rng), Linear(3, 4, rng=rng)])
    assert p.io_features() == (3, (2, 4))
    with pytest.raises(ValueError, match="different widths"):
        Model(Sequential([p])).output_features  # noqa: B018


def test_weights_file_records_the_architecture(tmp_path):
    m = two_heads()
    path = tmp_path / "w.npz"
    m.save_weights(path)
    other = two_heads(seed=5)
    other.load_weights(path)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, other.state_dict()[k])
    rng = np.random.default_rng(0)
    relu_tanh = MLP([SparseLinear(4, 6, density=0.5, rng=rng), ActivationLayer(Tanh(), 6),
                     Linear(6, 2, rng=rng)])  # fmt: skip
    relu_relu = MLP([SparseLinear(4, 6, density=0.5, rng=rng), ActivationLayer(ReLU(), 6),
                     Linear(6, 2, rng=rng)])  # fmt: skip
    relu_tanh.save_weights(path)
    with pytest.raises(CheckpointError, match=r"another architecture: '1: ActivationLayer\(Tanh"):
        relu_relu.load_weights(path)


def test_trunk_heads_without_trunk_layers():
    rng = np.random.default_rng(0)
    th = TrunkHeads([], [[Linear(3, 2, rng=rng)], [Linear(3, 2, rng=rng)]])
    m = Model(th)
    assert m.in_features == 3 and m.out_features == (2, 2)
    assert m.predict(np.ones((4, 3))).shape == (4, 2)


def test_heads_from_independently_initialised_backbones():
    from sprig.models.multihead import blocks, from_backbones
    from sprig.specs.types import parse_layers
    from sprig.training.build import build_layers

    specs = parse_layers("ReLU;BatchNorm;ReLU;Dropout(0.1);Linear")
    is_linear = [s.is_linear for s in specs]

    def copy(seed):
        owners: list[int] = []
        layers = build_layers(specs, [8, 16, 12, 3], [0.5], rng=np.random.default_rng(seed),
                              owners=owners)  # fmt: skip
        return blocks(layers, owners, is_linear)

    one = copy(0)
    assert [len(b) for b in one] == [3, 3, 1]  # ReLU+BN, ReLU+Dropout, Linear
    m = from_backbones([copy(0), copy(1), copy(2)], head_blocks=2)
    assert list(m.sparse_modules()) == ["trunk.0", "heads.0.0", "heads.0.3", "heads.1.0",
                                        "heads.1.3", "heads.2.0", "heads.2.3"]  # fmt: skip
    assert m.out_features == (3, 3, 3) and m.in_features == 8
    w = m.sparse_weights()
    assert not np.array_equal(w["heads.0.3.weight"].data, w["heads.1.3.weight"].data)
    assert type(from_backbones([copy(0)], head_blocks=1)).__name__ == "MLP"
    with pytest.raises(ConfigError, match=r"head_blocks must be an integer in 1\.\.3"):
        from_backbones([copy(0), copy(1)], head_blocks=4)
