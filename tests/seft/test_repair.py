"""Fast versions of the SEFT result: a trained dense model pruned hard (Wanda / magnitude)
loses much of its accuracy; SEFT repairs it at exactly the pruned nnz. The thresholds need a
real repair: the repaired loss must fall well below the pruned model's (a method that does
not train, or trains the wrong entries, stays at the pruned loss), at the target nnz."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sprig.specs.config import TrainConfig
from sprig.training.assemble import assemble
from sprig.training.loop import evaluate

DENSE = TrainConfig(
    layers="ReLU;ReLU;Linear",
    layer_sizes="64;64;64;10",
    overall_density=1.0,
    epochs=4,
    batch_size=32,
    optimizers="Momentum(momentum=0.9)",
    learning_rate=0.05,
    seed=0,
)


def _test_loss(run):
    return evaluate(run.model, run.data.x_test, run.data.y_test, run.trainer.loss)["loss"]


@pytest.mark.parametrize("method", ["wanda", "magnitude"])
def test_seft_repairs_a_post_training_pruned_sprig_model(tmp_path, method) -> None:
    dense = assemble(DENSE, progress=False, lines=False)
    dense.fit()
    dense_loss = _test_loss(dense)
    path = tmp_path / "dense.npz"
    dense.model.save_weights(path)
    cfg = dataclasses.replace(
        DENSE,
        load_weights=str(path),
        post_pruning=method,
        overall_density=0.08,
        density_method="uniform",
        dst="SEFT(fraction=0.2, every=4)",
        epochs=2,
    )
    run = assemble(cfg, progress=False, lines=False)
    nnz = {n: W.nnz for n, W in run.model.sparse_weights().items()}
    assert len(nnz) == 3 and sum(nnz.values()) < 0.1 * (64 * 64 * 2 + 640)
    pruned_loss = _test_loss(run)
    assert pruned_loss > dense_loss + 0.3  # pruning to 8 % hurts
    history = run.fit()
    repaired = history[-1]["test_loss"]
    assert repaired < pruned_loss - 0.5 * (pruned_loss - dense_loss), (
        dense_loss,
        pruned_loss,
        repaired,
    )
    assert {n: W.nnz for n, W in run.model.sparse_weights().items()} == nnz
    assert sum(len(h["dst"]) for h in history) > 0


@pytest.fixture
def one_torch_thread():
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_seft_repairs_a_pruned_torch_model(one_torch_thread) -> None:
    import torch

    from sprig.seft import torch as ST

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(16, 4, generator=g, dtype=torch.float64)

    def batch(i: int, n: int = 64):
        x = torch.randn(
            n, 16, generator=torch.Generator().manual_seed(1000 + i), dtype=torch.float64
        )
        return x, torch.tanh(x @ teacher)

    def loss_fn(m, b):
        return torch.nn.functional.mse_loss(m(b[0]), b[1])

    model = torch.nn.Sequential(
        torch.nn.Linear(16, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh()
    ).double()
    model.add_module("head", torch.nn.Linear(64, 4).double())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for i in range(200):
        opt.zero_grad()
        loss_fn(model, batch(i)).backward()
        opt.step()
    val = batch(10**6, 512)

    def val_loss(m):
        with torch.no_grad():
            return float(loss_fn(m, val))

    dense_loss = val_loss(model)
    report = ST.prune(model, 0.1, "wanda", calibration=[batch(5)[0]])
    assert set(report) == {"0", "2"}  # the head is excluded
    nnz = {n: r["nnz"] for n, r in report.items()}
    pruned_loss = val_loss(model)
    assert pruned_loss > 2 * dense_loss
    result = ST.finetune(
        model, loss_fn, batch, steps=100, method="seft", lr=3e-3, dst="SEFT(fraction=0.3, every=10)"
    )
    repaired = val_loss(model)
    assert result.nnz_checked == 100 and result.topology_updates > 0
    assert {n: model.get_submodule(n).nnz for n in nnz} == nnz
    assert repaired < pruned_loss - 0.5 * (pruned_loss - dense_loss), (
        dense_loss,
        pruned_loss,
        repaired,
    )
    assert np.isclose(result.density, sum(nnz.values()) / (16 * 64 + 64 * 64))
