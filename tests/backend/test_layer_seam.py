"""sprig's own SparseLinear reaches its products only through the backend seam."""

import numpy as np

from sprig.backend import NumpyOps
from sprig.layers import SparseLinear


class Recording(NumpyOps):
    def __init__(self):
        self.calls = []

    def spmm(self, *a, **k):
        self.calls.append("spmm")
        return super().spmm(*a, **k)

    def spmm_t(self, *a, **k):
        self.calls.append("spmm_t")
        return super().spmm_t(*a, **k)

    def sddmm(self, *a, **k):
        self.calls.append("sddmm")
        return super().sddmm(*a, **k)

    def backward(self, *a, **k):
        self.calls.append("backward")
        return super().backward(*a, **k)


def test_products_go_through_the_layers_ops():
    rng = np.random.default_rng(0)
    layer = SparseLinear(6, 4, density=0.5, rng=rng, dtype=np.float64)
    X = rng.normal(size=(6, 3))
    dY = rng.normal(size=(4, 3))
    Y0, bp0 = layer.forward(X, train=True)
    dX0 = bp0(dY.copy())
    g0 = layer.weight_grad.copy()
    layer.ops = Recording()  # an instance attribute replaces the class default
    for relu in (None, "relu"):
        Y, bp = layer.forward(X, train=True, activation=relu)
        dX = bp(dY.copy())
    assert layer.ops.calls == ["spmm", "backward"] * 2  # both backward products in one pass
    layer.ops.calls.clear()
    layer.forward(X, train=True, input_grad=False)[1](dY.copy())
    assert layer.ops.calls == ["spmm", "sddmm"]  # no input gradient: the weight gradient only
    Y, bp = layer.forward(X, train=True)
    np.testing.assert_array_equal(Y, Y0)
    np.testing.assert_array_equal(bp(dY.copy()), dX0)
    np.testing.assert_array_equal(layer.weight_grad, g0)
    assert dX.shape == X.shape
