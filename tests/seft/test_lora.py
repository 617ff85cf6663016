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
    torch = pytest.importorskip("torch")
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
