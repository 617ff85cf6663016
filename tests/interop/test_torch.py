"""The torch module backed by sprig's kernels: autograd gradcheck and a dense reference."""

import numpy as np
import pytest

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")

from sprig.interop.torch import SprigSparseLinear, _SparseLinearFn  # noqa: E402
from sprig.matrices import CSRMatrix  # noqa: E402


def _layer(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    W = CSRMatrix.random(
        (5, 7), nnz=12, rng=rng, dtype=dtype, values=lambda n, r: r.standard_normal(n)
    )
    with pytest.deprecated_call(match="use sprig.torch.SparseLinear"):
        return SprigSparseLinear(W), W


def test_gradcheck_float64():
    layer, _ = _layer()
    X = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        layer.bias.normal_()

    def f(x, v, b):
        return _SparseLinearFn.apply(x, v, b, layer.weight_csr)

    assert torch.autograd.gradcheck(f, (X, layer.values, layer.bias), eps=1e-6, atol=1e-8)


def test_matches_dense_torch_linear_and_trains():
    layer, W = _layer(np.float32)
    dense = torch.tensor(W.toarray(), requires_grad=True)
    X = torch.randn(3, 7)
    y = layer(X)
    ref = X @ dense.T + layer.bias.detach()
    torch.testing.assert_close(y, ref)
    y.square().sum().backward()
    ref.square().sum().backward()
    torch.testing.assert_close(layer.values.grad, dense.grad[W.row_of, W.indices])
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    opt.step()
    assert layer.values.shape == (W.nnz,)


def test_bad_input():
    layer, _ = _layer(np.float32)
    with pytest.raises(ValueError, match=r"\(N, 7\)"):
        layer(torch.randn(2, 6))
    with pytest.raises(ValueError, match="dtype"):
        layer(torch.randn(2, 7, dtype=torch.float64))
