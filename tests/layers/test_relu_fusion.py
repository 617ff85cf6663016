"""Sequential fuses SparseLinear + ActivationLayer(ReLU()): same results as the two layers run
one after the other, same tree and names, taps unchanged, the caller's gradient untouched."""

from __future__ import annotations

import numpy as np
import pytest

from sprig.activations import LeakyReLU, ReLU
from sprig.backend import NumpyOps
from sprig.data.loaders import load_digits
from sprig.data.normalization import normalize
from sprig.layers import ActivationLayer, Linear, Sequential, SparseLinear
from sprig.losses import SoftmaxCrossEntropy
from sprig.models import MLP
from sprig.optimizers import Momentum
from sprig.training.dst import TopologyUpdate, make_algorithm
from sprig.training.loop import Trainer


class Recording(NumpyOps):
    """Counts the forward products and whether each one applied a fused ReLU."""

    def __init__(self) -> None:
        self.relu: list[bool] = []

    def spmm(self, *a, relu=False, **k):
        self.relu.append(relu)
        return super().spmm(*a, relu=relu, **k)


def layers(seed=0, dtype=np.float64, act=ReLU, last_relu=False):
    rng = np.random.default_rng(seed)
    out = [
        SparseLinear(7, 9, density=0.5, rng=rng, dtype=dtype),
        ActivationLayer(act(), 9, dtype=dtype),
        SparseLinear(9, 8, density=0.5, rng=rng, dtype=dtype, drop_connect=0.2),
        ActivationLayer(act(), 8, dtype=dtype),
        Linear(8, 5, rng=rng, dtype=dtype),
    ]
    if last_relu:
        out += [
            SparseLinear(5, 4, density=0.6, rng=rng, dtype=dtype),
            ActivationLayer(act(), 4, dtype=dtype),
        ]
    return out


def run(net, X, dY, train=True, taps=None):
    Y, bp = net.forward(X, train=train, taps=taps)
    dX = bp(dY)
    return Y, dX, {k: p.grad.copy() for k, p in net.params().items()}


@pytest.mark.parametrize("last_relu", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_equals_unfused(dtype, last_relu):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 13)).astype(dtype)
    fused = Sequential(layers(dtype=dtype, last_relu=last_relu))
    plain = Sequential(layers(dtype=dtype, last_relu=last_relu))
    plain.fuse_relu = False
    out_w = 4 if last_relu else 5
    dY = rng.standard_normal((out_w, 13)).astype(dtype)
    dY0 = dY.copy()
    for train in (True, False):
        Yf, dXf, gf = run(fused, X, dY, train)
        Yp, dXp, gp = run(plain, X, dY, train)
        np.testing.assert_array_equal(dY, dY0)  # the caller's gradient is never masked
        np.testing.assert_array_equal(Yf, Yp)
        np.testing.assert_array_equal(dXf, dXp)
        assert gf.keys() == gp.keys() == {"0.weight", "0.bias", "2.weight", "2.bias",
                                          "4.weight", "4.bias"} | (
            {"5.weight", "5.bias"} if last_relu else set())  # fmt: skip
        for k in gf:
            np.testing.assert_array_equal(gf[k], gp[k], err_msg=k)


def test_only_sparse_relu_pairs_are_fused():
    ops = Recording()
    net = Sequential(layers())
    for layer in net:
        if isinstance(layer, SparseLinear):
            layer.ops = ops
    X = np.ones((7, 3))
    net.forward(X, train=True)
    assert ops.relu == [True, True]
    ops.relu.clear()
    net.forward(X, train=True, taps={})  # taps need every leaf's own input: unfused
    assert ops.relu == [False, False]
    ops.relu.clear()
    leaky = Sequential(layers(act=lambda: LeakyReLU(0.1)))
    for layer in leaky:
        if isinstance(layer, SparseLinear):
            layer.ops = ops
    leaky.forward(X, train=True)
    assert ops.relu == [False, False]


def test_a_shadowed_forward_is_respected():
    net = Sequential(layers())
    act = net[1]
    calls = []

    def forward(X, *, train, input_grad=True):
        calls.append(X.shape)
        return ActivationLayer.forward(act, X, train=train, input_grad=input_grad)

    act.forward = forward
    net.forward(np.ones((7, 3)), train=False)
    assert calls == [(9, 3)]


def test_mismatched_widths_still_raise():
    rng = np.random.default_rng(0)
    net = Sequential([SparseLinear(4, 6, density=0.5, rng=rng), ActivationLayer(ReLU(), 5)])
    with pytest.raises(ValueError, match=r"expected input of shape \(5, N\)"):
        net.forward(np.ones((4, 2), np.float32), train=False)


def test_taps_are_those_of_the_unfused_layers():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((7, 6))
    dY = rng.standard_normal((5, 6))
    net = Sequential(layers())
    taps: dict = {}
    _, bp = net.forward(X, train=False, taps=taps)
    bp(dY)
    assert sorted(taps) == ["0", "1", "2", "3", "4"]
    Z = net[0].forward(X, train=False)[0]
    np.testing.assert_array_equal(taps["1"][0], Z)  # the activation's input: pre-activation
    np.testing.assert_array_equal(taps["0"][1], taps["1"][1] * (Z > 0))


@pytest.fixture(scope="module")
def digits():
    return normalize(load_digits(), "standardize")[0]


def train(fuse, digits, callbacks=()):
    rng = np.random.default_rng(3)
    model = MLP(
        [
            SparseLinear(64, 48, density=0.3, rng=rng),
            ActivationLayer(ReLU(), 48),
            SparseLinear(48, 10, density=0.5, rng=rng),
        ]
    )
    model.net.fuse_relu = fuse
    trainer = Trainer(
        model,
        loss=SoftmaxCrossEntropy(),
        optimizer=Momentum(0.9),
        schedule=0.05,
        epochs=2,
        batch_size=50,
        callbacks=list(callbacks),
    )
    history = trainer.fit(digits)
    return model, history


def test_training_is_the_same_fused_or_not(digits):
    (mf, hf), (mp, hp) = train(True, digits), train(False, digits)
    for k, p in mf.params().items():
        np.testing.assert_array_equal(p.value, mp.params()[k].value, err_msg=k)
    assert hf[-1]["train_loss"] == hp[-1]["train_loss"]

    # RigL reads its taps on update steps (run unfused); the other steps are fused
    def rigl():
        spec = "rigl(fraction=0.3, every=5 steps)"
        return [TopologyUpdate(make_algorithm(spec, epochs=2, steps_per_epoch=36), seed=1)]

    (mf, _), (mp, _) = train(True, digits, rigl()), train(False, digits, rigl())
    for (k, p), q in zip(mf.params().items(), mp.params().values(), strict=True):
        np.testing.assert_array_equal(p.value, q.value, err_msg=k)
