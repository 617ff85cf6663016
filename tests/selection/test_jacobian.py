"""Explicit sparse input Jacobian and neuron attribution against float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from sprig.activations import ReLU, Sigmoid, Tanh
from sprig.activations.functions import softmax
from sprig.layers import ActivationLayer, Dropout, Linear, Sequential, SparseLinear
from sprig.selection import attribution, input_jacobian

F64 = np.float64


def _net(rng, act, dense_middle=False):
    d, h1, h2, c = 7, 9, 5, 4
    mid = (
        Linear(h1, h2, rng=rng, dtype=F64)
        if dense_middle
        else SparseLinear(h1, h2, density=0.5, rng=rng, dtype=F64)
    )
    layers = [
        SparseLinear(d, h1, density=0.4, rng=rng, dtype=F64),
        ActivationLayer(act, h1, dtype=F64),
        Dropout(h1, 0.3, rng, dtype=F64),  # identity in evaluation mode
        mid,
        ActivationLayer(act, h2, dtype=F64),
        SparseLinear(h2, c, density=0.6, rng=rng, dtype=F64),
    ]
    for layer in layers:  # non-zero biases, so the test sees them
        if getattr(layer, "bias", None) is not None:
            layer.bias[:] = rng.normal(size=layer.bias.shape)
    return Sequential(layers)


def _outputs(net, X, output):
    Y, _ = net.forward(X, train=False)
    return softmax(Y) if output == "softmax" else Y


def _fd_jacobian(net, X, output, eps=1e-6):
    d, N = X.shape
    C = _outputs(net, X, output).shape[0]
    J = np.zeros((C, d, N))
    for j in range(d):
        Xp, Xm = X.copy(), X.copy()
        Xp[j] += eps
        Xm[j] -= eps
        J[:, j, :] = (_outputs(net, Xp, output) - _outputs(net, Xm, output)) / (2 * eps)
    return J


@pytest.mark.parametrize("output", ["softmax", "logits"])
@pytest.mark.parametrize("act", [Tanh(), Sigmoid(), ReLU()], ids=["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("dense_middle", [False, True])
def test_jacobian_equals_finite_differences(output, act, dense_middle):
    rng = np.random.default_rng(3)
    net = _net(rng, act, dense_middle)
    X = rng.normal(size=(7, 6))
    J = input_jacobian(net, X, output=output)
    assert J.shape == (4, 7, 6) and J.dtype == F64
    np.testing.assert_allclose(J, _fd_jacobian(net, X, output), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("output", ["softmax", "logits"])
def test_attribution_is_sum_over_outputs_of_batch_mean_abs_jacobian(output):
    rng = np.random.default_rng(5)
    net = _net(rng, Tanh())
    X = rng.normal(size=(7, 11))
    expected = np.abs(_fd_jacobian(net, X, output)).mean(axis=2).sum(axis=0)
    np.testing.assert_allclose(attribution(net, X, output=output), expected, rtol=1e-6, atol=1e-9)


def test_attribution_float32_matches_float64():
    rng = np.random.default_rng(8)
    net = _net(rng, Tanh())
    X = rng.normal(size=(7, 5))
    ref = attribution(net, X)
    for layer in net:  # same network in float32
        if isinstance(layer, SparseLinear):
            layer.weight = layer.weight.astype(np.float32)
            layer.bias = layer.bias.astype(np.float32)
        layer.dtype = np.dtype(np.float32)
    np.testing.assert_allclose(attribution(net, X.astype(np.float32)), ref, rtol=1e-4)


def test_jacobian_matches_torch_autograd():
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    net = _net(rng, Tanh())
    X = rng.normal(size=(7, 3))
    J = input_jacobian(net, X)

    def f(x):  # one sample, the same network in torch (dense copies only in this test)
        h = x
        for layer in net:
            if isinstance(layer, SparseLinear | Linear):
                W = layer.weight if isinstance(layer, Linear) else layer.weight.toarray()
                h = torch.from_numpy(W) @ h + torch.from_numpy(layer.bias)
            elif isinstance(layer, ActivationLayer):
                h = torch.tanh(h)
        return torch.softmax(h, dim=0)

    for n in range(3):
        Jt = torch.autograd.functional.jacobian(f, torch.from_numpy(X[:, n].copy())).numpy()
        np.testing.assert_allclose(J[:, :, n], Jt, rtol=1e-10, atol=1e-12)


def test_unsupported_layer_and_bad_output():
    rng = np.random.default_rng(0)
    net = _net(rng, Tanh())
    X = rng.normal(size=(7, 2))
    with pytest.raises(ValueError, match="output must be one of"):
        input_jacobian(net, X, output="probs")

    class Odd:
        def forward(self, X, *, train, input_grad=True):
            return X, lambda d: d

        def params(self):
            return {}

    with pytest.raises(TypeError, match="Odd"):
        input_jacobian([*net, Odd()], X)
