"""A whole sparse MLP: gradients equal a dense network's, torch agrees, weights round-trip."""

import itertools

import numpy as np
import pytest

from sprig.activations import ReLU, Tanh
from sprig.errors import CheckpointError, DataError
from sprig.layers import Linear, SparseLinear
from sprig.layers.activation import ActivationLayer
from sprig.layers.batchnorm import BatchNorm
from sprig.losses import SoftmaxCrossEntropy
from sprig.models import MLP
from sprig.optimizers import Momentum


def sparse_and_dense(seed=0, dtype=np.float64, sizes=(12, 16, 9, 4), density=0.4):
    rng = np.random.default_rng(seed)
    sparse_layers, dense_layers = [], []
    for i, (d, k) in enumerate(itertools.pairwise(sizes)):
        s = SparseLinear(d, k, density=density, rng=rng, dtype=dtype)
        s.bias[:] = rng.standard_normal(k) * 0.1
        dn = Linear(d, k, rng=rng, dtype=dtype)
        dn.weight[:] = s.weight.toarray()
        dn.bias[:] = s.bias
        sparse_layers.append(s)
        dense_layers.append(dn)
        if i < len(sizes) - 2:
            act = Tanh() if i % 2 else ReLU()
            sparse_layers.append(ActivationLayer(act, k, dtype=dtype))
            dense_layers.append(ActivationLayer(act, k, dtype=dtype))
    return MLP(sparse_layers), MLP(dense_layers)


def test_sparse_gradients_equal_dense_network_at_the_pattern():
    sparse, dense = sparse_and_dense()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 12))
    T = np.eye(4)[rng.integers(0, 4, 7)]
    loss = SoftmaxCrossEntropy()
    Ys, bps = sparse.forward(X, train=True)
    Yd, bpd = dense.forward(X, train=True)
    np.testing.assert_allclose(Ys, Yd, atol=1e-12)
    dXs = bps(loss.grad(Ys.T.copy(), T.T.copy()).T)
    dXd = bpd(loss.grad(Yd.T.copy(), T.T.copy()).T)
    np.testing.assert_allclose(dXs, dXd, atol=1e-12)
    for i, layer in sparse.sparse_layers().items():
        dl = dense.net[i]
        W = layer.weight
        np.testing.assert_allclose(
            layer.weight_grad, dl.weight_grad[W.row_of, W.indices], atol=1e-12
        )
        np.testing.assert_allclose(layer.bias_grad, dl.bias_grad, atol=1e-12)


def test_gradients_and_one_optimizer_step_equal_torch():
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    sparse, _ = sparse_and_dense(seed=3)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((5, 12))
    y = rng.integers(0, 4, 5)
    T = np.eye(4)[y]
    # torch network with the same (masked) weights
    tw, tb, masks = [], [], []
    for layer in sparse.sparse_layers().values():
        tw.append(torch.tensor(layer.weight.toarray(), requires_grad=True))
        tb.append(torch.tensor(layer.bias.copy(), requires_grad=True))
        masks.append(torch.tensor(layer.weight.toarray() != 0))
    h = torch.tensor(X)
    acts = [torch.relu, torch.tanh]
    for i in range(3):
        h = h @ tw[i].T + tb[i]
        if i < 2:
            h = acts[i](h)
    out = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    out.backward()
    loss = SoftmaxCrossEntropy()
    Y, bp = sparse.forward(X, train=True)
    assert abs(loss.value(Y.T.copy(), T.T.copy()) - out.item()) < 1e-12
    bp(loss.grad(Y.T.copy(), T.T.copy()).T)
    for k, layer in enumerate(sparse.sparse_layers().values()):
        W = layer.weight
        np.testing.assert_allclose(
            layer.weight_grad, tw[k].grad.numpy()[W.row_of, W.indices], atol=1e-12
        )
        np.testing.assert_allclose(layer.bias_grad, tb[k].grad.numpy(), atol=1e-12)
    # one momentum step equals torch.optim.SGD(momentum) with masked gradients
    opt_t = torch.optim.SGD([*tw, *tb], lr=0.1, momentum=0.9)
    for k in range(3):
        tw[k].grad *= masks[k]
    opt_t.step()
    rule = Momentum(0.9)
    for p in sparse.params().values():
        rule.step(p.value, p.grad, rule.init(p.value), lr=0.1)
    for k, layer in enumerate(sparse.sparse_layers().values()):
        np.testing.assert_allclose(layer.weight.toarray(), tw[k].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(layer.bias, tb[k].detach().numpy(), atol=1e-12)


def test_save_and_load_weights_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    model = MLP(
        [
            SparseLinear(6, 5, density=0.5, rng=rng),
            BatchNorm(5),
            ActivationLayer(ReLU(), 5),
            Linear(5, 3, rng=rng),
        ]
    )
    X = rng.standard_normal((4, 6)).astype(np.float32)
    model.forward(X, train=True)  # moves batch-norm running statistics
    before = model.predict(X)
    path = tmp_path / "w.npz"
    model.save_weights(path)
    other = MLP(
        [
            SparseLinear(6, 5, density=0.2, rng=rng),
            BatchNorm(5),
            ActivationLayer(ReLU(), 5),
            Linear(5, 3, rng=rng),
        ]
    )
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(X), before)
    assert other.net[0].weight.nnz == model.net[0].weight.nnz
    # saved without pickle: plain numpy arrays only
    with np.load(path, allow_pickle=False) as z:
        assert "0.weight.indices" in z.files


def test_loading_into_a_different_architecture_fails_cleanly(tmp_path):
    rng = np.random.default_rng(0)
    a = MLP([SparseLinear(6, 5, density=0.5, rng=rng), Linear(5, 3, rng=rng)])
    path = tmp_path / "w.npz"
    a.save_weights(path)
    b = MLP([SparseLinear(6, 4, density=0.5, rng=rng), Linear(4, 3, rng=rng)])
    before = b.state_dict()
    with pytest.raises(CheckpointError, match="another architecture"):
        b.load_weights(path)
    for k, v in b.state_dict().items():  # nothing was half-loaded
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04truncated"])
def test_corrupt_weight_files(tmp_path, content):
    rng = np.random.default_rng(0)
    model = MLP([SparseLinear(6, 5, density=0.5, rng=rng)])
    path = tmp_path / "w.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=str(path.name)):
        model.load_weights(path)
    with pytest.raises(CheckpointError, match="not found"):
        model.load_weights(tmp_path / "missing.npz")


def test_summary_and_input_validation():
    rng = np.random.default_rng(0)
    model = MLP(
        [
            SparseLinear(6, 5, density=0.5, rng=rng),
            ActivationLayer(ReLU(), 5),
            SparseLinear(5, 3, nnz=4, rng=rng),
        ]
    )
    text = model.summary()
    assert "SparseLinear" in text and "stored weights: 19 of 45" in text
    with pytest.raises(DataError, match=r"\(N, 6\)"):
        model.predict(np.ones((2, 5)))
    with pytest.raises(DataError, match="NaN"):
        model.forward(np.full((2, 6), np.nan))
    assert model.predict_classes(np.ones((3, 6), np.float32)).shape == (3,)
