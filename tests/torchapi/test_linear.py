"""sprig.torch.SparseLinear: gradcheck and equality with a masked dense nn.Linear, both paths."""

import numpy as np
import pytest

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")

from sprig.matrices import CSRMatrix  # noqa: E402
from sprig.torch import SparseLinear  # noqa: E402

KERNELS = ["sprig", "torch"]


def _layer(W, kernel, dtype, bias=True):
    layer = SparseLinear.from_csr(W, np.linspace(-1, 1, W.shape[0]) if bias else None, dtype=dtype)
    layer.kernel = kernel
    return layer


def _csr(shape, nnz, seed=0, empty_row=None, empty_col=None):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal(shape) * (rng.random(shape) < nnz / (shape[0] * shape[1]))
    if empty_row is not None:
        A[empty_row] = 0
    if empty_col is not None:
        A[:, empty_col] = 0
    return CSRMatrix.from_dense(A, dtype=np.float64)


@pytest.mark.parametrize("kernel", KERNELS)
def test_gradcheck_float64(kernel):
    from sprig.torch.linear import _SparseLinearFn

    layer = _layer(_csr((5, 7), 14), kernel, torch.float64)
    X = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)

    def f(x, v, b):
        return _SparseLinearFn.apply(x, v, b, layer, layer._path(x))

    assert torch.autograd.gradcheck(f, (X, layer.values, layer.bias), eps=1e-6, atol=1e-8)


CASES = [
    ("2d", (6, 9), 20, (4, 9), {}),
    ("3d", (6, 9), 20, (2, 3, 9), {}),
    ("nnz0", (6, 9), 0, (4, 9), {}),
    ("empty row+col", (6, 9), 30, (5, 9), {"empty_row": 2, "empty_col": 4}),
    ("dense", (3, 4), 12, (2, 4), {}),
]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("case", "shape", "nnz", "xshape", "kw"), CASES, ids=[c[0] for c in CASES])
def test_matches_masked_dense_linear(kernel, dtype, case, shape, nnz, xshape, kw):
    W = _csr(shape, nnz, **kw)
    if case == "nnz0":
        W = CSRMatrix.from_dense(np.zeros(shape))
    layer = _layer(W, kernel, dtype)
    dense = torch.tensor(W.toarray(), dtype=dtype, requires_grad=True)
    bias = layer.bias.detach().clone().requires_grad_(True)
    X = torch.randn(*xshape, dtype=dtype, requires_grad=True)
    Xr = X.detach().clone().requires_grad_(True)
    Y = layer(X)
    Yr = torch.nn.functional.linear(Xr, dense, bias)
    G = torch.randn_like(Yr)
    (Y * G).sum().backward()
    (Yr * G).sum().backward()
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {}
    assert Y.shape == Yr.shape and Y.dtype == dtype
    torch.testing.assert_close(Y, Yr, **tol)
    torch.testing.assert_close(X.grad, Xr.grad, **tol)
    torch.testing.assert_close(layer.values.grad, dense.grad[W.row_of, W.indices], **tol)
    torch.testing.assert_close(layer.bias.grad, bias.grad, **tol)


@pytest.mark.parametrize("kernel", KERNELS)
def test_no_bias_and_no_input_grad(kernel):
    layer = _layer(_csr((4, 5), 8), kernel, torch.float32, bias=False)
    X = torch.randn(3, 5)
    layer(X).sum().backward()
    assert layer.bias is None and layer.values.grad.shape == (layer.nnz,)


def test_paths_agree_and_weight_memory_is_shared():
    layer = SparseLinear(30, 20, density=0.2, rng=1)
    X = torch.randn(8, 30)
    layer.kernel = "sprig"
    Y1 = layer(X)
    layer.kernel = "torch"
    torch.testing.assert_close(layer(X), Y1)
    W = layer._host_csr()
    assert np.shares_memory(W.indices, layer.col_indices.numpy())
    with torch.no_grad():
        layer.values.mul_(2)  # an optimizer's in-place update is seen without a copy
    layer.kernel = "sprig"
    torch.testing.assert_close(layer(X), 2 * (Y1 - layer.bias) + layer.bias)


def test_autocast_computes_in_layer_precision():
    layer = SparseLinear(16, 8, density=0.5, rng=2)
    X = torch.randn(4, 16)
    ref = layer(X)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        Y = layer(X.bfloat16())
    assert Y.dtype == torch.float32
    torch.testing.assert_close(Y, layer(X.bfloat16().float()))
    assert (Y - ref).abs().max() < 0.1


# Dynamo itself probes `.grad` of the non-leaf tensor it hands to the code after the graph break.
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
@pytest.mark.parametrize("kernel", KERNELS)
def test_torch_compile_equals_eager(kernel, monkeypatch):
    import sprig.torch.linear

    torch._dynamo.reset()
    monkeypatch.setattr(sprig.torch.linear, "_apply_disabled", None)  # first wrap while tracing
    model = torch.nn.Sequential(
        SparseLinear(12, 10, density=0.4, rng=3, kernel=kernel),
        torch.nn.ReLU(),
        torch.nn.Linear(10, 3),
    )
    X = torch.randn(5, 12)
    ref = model(X)
    ref.sum().backward()
    g_ref = model[0].values.grad.clone()
    model.zero_grad()
    monkeypatch.setattr(sprig.torch.linear, "_apply_disabled", None)
    compiled = torch.compile(model, backend="eager")
    Y = compiled(X)
    Y.sum().backward()
    torch.testing.assert_close(Y, ref)
    torch.testing.assert_close(model[0].values.grad, g_ref)


def test_bad_input():
    layer = SparseLinear(7, 3, density=0.5, rng=0)
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 7\)"):
        layer(torch.randn(2, 6))
    with pytest.raises(ValueError, match="dtype"):
        layer(torch.randn(2, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="kernel must be one of"):
        SparseLinear(7, 3, density=0.5, kernel="cuda")(torch.randn(1, 7))
    with pytest.raises(ValueError, match="density must be in"):
        SparseLinear(7, 3, density=0.0)
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        SparseLinear(0, 3, density=0.5)


def test_init_sizes_and_no_dense_weight():
    layer = SparseLinear(3072, 1024, density=0.01, rng=0)
    assert layer.nnz == 31457 and layer.values.shape == (31457,)
    assert layer.crow_indices.dtype == torch.int32 and layer.col_indices.dtype == torch.int32
    assert all(t.numel() < 3072 * 1024 for t in [*layer.parameters(), *layer.buffers()])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():  # pragma: no cover - no GPU in CI
    layer = SparseLinear(64, 32, density=0.1, rng=0)
    X = torch.randn(16, 64, requires_grad=True)
    Y = layer(X)
    Y.square().sum().backward()
    g = layer.values.grad.clone()
    gpu = layer.cuda()
    gpu.values.grad = None
    Xg = X.detach().cuda().requires_grad_(True)
    Yg = gpu(Xg)
    Yg.square().sum().backward()
    torch.testing.assert_close(Yg.cpu(), Y, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gpu.values.grad.cpu(), g, rtol=1e-4, atol=1e-4)


def test_stacked_layers_pass_activations_and_gradients_without_transposes(monkeypatch):
    import sprig.torch.linear as L

    copies = []
    orig = L.transpose
    monkeypatch.setattr(L, "transpose", lambda A, out=None: copies.append(A.shape) or orig(A, out))
    a = SparseLinear(64, 32, density=0.2, rng=0)
    b = SparseLinear(32, 16, density=0.2, rng=1)
    X = torch.randn(10, 64)
    Y = b(torch.relu(a(X)))
    Y.backward(torch.ones(16, 10).T)  # a gradient in the layout the output came in
    assert copies == [(10, 64)]  # only the batch-major input is transposed
    assert a.values.grad is not None and b.values.grad is not None
    Xg = X.clone().requires_grad_(True)
    b(torch.relu(a(Xg))).backward(torch.ones(16, 10).T)
    assert copies[1:] == [(10, 64), (64, 10)]  # ... and its gradient goes back batch-major
    assert Xg.grad.is_contiguous()


@pytest.mark.parametrize("n", [1, 97, 2048])
def test_batch_major_input_gets_a_batch_major_gradient(n):
    layer = SparseLinear(24, 12, density=0.3, rng=0).double()
    X = torch.randn(n, 24, dtype=torch.float64, requires_grad=True)
    Y = layer(X)
    dY = torch.randn(n, 12, dtype=torch.float64)
    Y.backward(dY)
    W = layer.dense_weight()
    torch.testing.assert_close(Y, X.detach() @ W.T + layer.bias.detach())
    torch.testing.assert_close(X.grad, dY @ W)
    assert X.grad.is_contiguous()
    mask = W != 0
    torch.testing.assert_close(layer.values.grad, (dY.T @ X.detach())[mask])
    torch.testing.assert_close(layer.bias.grad, dY.sum(0))


def test_sprig_kernels_follow_torchs_thread_count(monkeypatch):
    # the CPU products run with torch.get_num_threads() Numba threads and restore the setting
    import numba

    import sprig.torch.linear as L

    seen = []
    real = L._NUMPY.spmm

    def spy(*a, **k):
        seen.append(numba.get_num_threads())
        return real(*a, **k)

    monkeypatch.setattr(L._NUMPY, "spmm", spy)
    layer = SparseLinear(8, 4, density=0.5)
    before_torch, before_numba = torch.get_num_threads(), numba.get_num_threads()
    try:
        torch.set_num_threads(1)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        layer(torch.randn(3, 8))
        assert seen == [1]
        assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
    finally:
        torch.set_num_threads(before_torch)
        numba.set_num_threads(before_numba)
