"""LoRA merge math: W + (alpha/r) B A by hand, the adapted torch layer equals its merged dense
layer, trainable counts r(in + out), and merging makes a pruned weight dense."""

from __future__ import annotations

import numpy as np
import pytest

from sprig.matrices import CSRMatrix
from sprig.seft import lora as L


def test_merge_equals_hand_computation() -> None:
    rng = np.random.default_rng(0)
    dense = rng.standard_normal((5, 4))
    dense[rng.random((5, 4)) < 0.6] = 0.0
    W = CSRMatrix.from_dense(dense)
    A, B = rng.standard_normal((2, 4)), rng.standard_normal((5, 2))
    got = L.merge(W, A, B, scale=0.75)
    for i in range(5):
        for j in range(4):
            hand = dense[i, j] + 0.75 * sum(B[i, k] * A[k, j] for k in range(2))
            assert got[i, j] == pytest.approx(hand, rel=1e-12, abs=1e-12)
    assert L.merged_sparsity(got) == 0.0 < L.merged_sparsity(dense)
    np.testing.assert_array_equal(L.merge(W, A, np.zeros((5, 2)), scale=3.0), dense)
    assert L.lora_parameters((5, 4), 2) == 18
    with pytest.raises(ValueError, match="LoRA factors"):
        L.merge(W, A, B.T, scale=1.0)


def test_torch_lora_layer_equals_its_merge() -> None:
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    from sprig.seft.torch import LoRALinear, add_lora, merge_lora, trainable_parameters
    from sprig.torch import SparseLinear

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        SparseLinear(6, 5, density=0.4, rng=0, dtype=torch.float64),
        torch.nn.ReLU(),
        SparseLinear(5, 3, density=0.5, rng=1, dtype=torch.float64),
    )
    names = add_lora(model, rank=2, alpha=4.0, seed=0)
    assert names == ["0", "2"]
    assert trainable_parameters(model) == 2 * (6 + 5) + 2 * (5 + 3)
    for n in names:
        m = model.get_submodule(n)
        assert isinstance(m, LoRALinear) and m.scale == 2.0
        with torch.no_grad():
            m.lora_B.normal_()
    X = torch.randn(7, 6, dtype=torch.float64)
    y_adapted = model(X)
    # the adapter math by hand on the first layer
    m0 = model[0]
    W0 = torch.as_tensor(m0.base.to_csr().toarray())
    h = X @ (W0 + 2.0 * m0.lora_B @ m0.lora_A).T + m0.base.bias
    torch.testing.assert_close(m0(X), h)
    sparsity = merge_lora(model)
    assert isinstance(model[0], torch.nn.Linear) and set(sparsity) == {"0", "2"}
    assert max(sparsity.values()) == 0.0  # B A is dense
    torch.testing.assert_close(model(X), y_adapted)


def _sprig_lora(sparse: bool):
    from sprig.layers import Linear, SparseLinear

    rng = np.random.default_rng(1)
    if sparse:
        base = SparseLinear(5, 4, density=0.5, rng=rng, dtype=np.float64)
    else:
        base = Linear(5, 4, rng=rng, dtype=np.float64)
    base.bias[...] = rng.standard_normal(4)
    layer = L.LoRALinear(base, rank=2, alpha=3.0, rng=rng)
    layer.lora_B[...] = rng.standard_normal(layer.lora_B.shape)
    return layer


@pytest.mark.parametrize("sparse", [True, False])
def test_sprig_lora_layer_gradients_by_finite_differences(sparse) -> None:
    from gradcheck import numerical_grad

    layer = _sprig_lora(sparse)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, 6))  # feature-major (in, N)
    R = rng.standard_normal((4, 6))

    def loss() -> float:
        return float(np.sum(R * layer.forward(X, train=True)[0]))

    Y, bp = layer.forward(X, train=True)
    dX = bp(R)
    np.testing.assert_allclose(layer.grad_A, numerical_grad(loss, layer.lora_A), atol=1e-7)
    np.testing.assert_allclose(layer.grad_B, numerical_grad(loss, layer.lora_B), atol=1e-7)
    np.testing.assert_allclose(dX, numerical_grad(loss, X), atol=1e-7)
    # forward = base + s B A X, and the merged dense layer computes the same
    W = layer.base.weight.toarray() if sparse else layer.base.weight
    want = W @ X + layer.base.bias[:, None] + 1.5 * layer.lora_B @ layer.lora_A @ X
    np.testing.assert_allclose(Y, want, rtol=1e-12)
    np.testing.assert_allclose(layer.merged().forward(X, train=False)[0], want, rtol=1e-12)


def test_sprig_lora_freezes_the_pruned_base_and_trains_the_adapters() -> None:
    from sprig.seft.pruning import prune_model
    from sprig.specs.config import TrainConfig
    from sprig.training.assemble import assemble

    cfg = TrainConfig(
        layers="ReLU;Linear", layer_sizes="64;32;10", overall_density=1.0, epochs=1, seed=0,
        train_size=300, test_size=100,
    )  # fmt: skip
    run = assemble(cfg, progress=False, lines=False)
    run.fit()
    model = run.model
    prune_model(model, {"0": 0.2}, "magnitude")  # the output layer stays dense
    frozen = {n: W.data.copy() for n, W in model.sparse_weights().items()}
    names = L.add_lora(model, rank=3, alpha=6.0)
    assert names == ["0"] and not model.sparse_modules()
    assert sorted(model.params()) == ["0.lora_A", "0.lora_B", "2.bias", "2.weight"]
    run2 = assemble(cfg, model=model, data=run.data, progress=False, lines=False)
    run2.fit()
    assert any(np.any(p.value != 0) for n, p in model.params().items() if n.endswith("lora_B"))
    for n, layer in model.named_modules().items():
        if isinstance(layer, L.LoRALinear):
            np.testing.assert_array_equal(layer.base.weight.data, frozen[f"{n}.weight"])
    sparsity = L.merge_lora(model)
    assert set(sparsity) == {"0"} and max(sparsity.values()) < 0.2
