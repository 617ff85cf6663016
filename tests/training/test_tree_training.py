"""Training model trees: two heads on a shared sparse trunk with DST, tasks beyond
classification, gradient accumulation, the gradient hook, validation split, optimizer maps."""

import numpy as np
import pytest

from sprig.activations import ReLU
from sprig.data.datasets import Dataset
from sprig.data.loaders import load_digits
from sprig.data.normalization import normalize
from sprig.errors import ConfigError
from sprig.layers import ActivationLayer, Linear, SparseLinear
from sprig.losses import HeadsLoss, MeanSquaredError, SoftmaxCrossEntropy
from sprig.models import MLP, multi_head
from sprig.optimizers import SGD, Adam, Frozen, Momentum
from sprig.training.callbacks import Callback
from sprig.training.checkpoint import restore_checkpoint, save_checkpoint
from sprig.training.dst import TopologyUpdate, make_algorithm
from sprig.training.loop import Trainer


@pytest.fixture(scope="module")
def digits():
    return normalize(load_digits(), "standardize")[0]


def two_heads(seed=0, dtype=np.float32, density=0.2):
    rng = np.random.default_rng(seed)
    return multi_head(
        [SparseLinear(64, 96, density=density, rng=rng, dtype=dtype),
         ActivationLayer(ReLU(), 96, dtype)],
        [[SparseLinear(96, 48, density=density, rng=rng, dtype=dtype),
          ActivationLayer(ReLU(), 48, dtype), Linear(48, 10, rng=rng, dtype=dtype)]
         for _ in range(2)],
    )  # fmt: skip


def fit(model, data, *, dst=None, epochs=3, steps=None, seed=0, **kw):
    callbacks = list(kw.pop("callbacks", ()))
    if dst is not None:
        spe = -(-len(data.y_train) // 32)
        alg = make_algorithm(dst, epochs=epochs, steps_per_epoch=spe)
        callbacks.insert(0, TopologyUpdate(alg, seed=seed))
    tr = Trainer(
        model,
        loss=kw.pop("loss", SoftmaxCrossEntropy()),
        optimizer=kw.pop("optimizer", Momentum(0.9)),
        schedule=kw.pop("lr", 0.05),
        epochs=epochs,
        batch_size=32,
        seed=seed,
        callbacks=callbacks,
        **kw,
    )
    return tr, tr.fit(data)


@pytest.mark.parametrize("dst", ["SET(0.3)", "RigL(fraction=0.3, every=20)"])
def test_two_heads_on_a_shared_trunk_train_with_dst(digits, dst):
    model = two_heads()
    nnz = {k: W.nnz for k, W in model.sparse_weights().items()}
    tr, hist = fit(model, digits, dst=dst)
    assert hist[-1]["test_accuracy"] > 0.85
    assert isinstance(tr.loss, HeadsLoss)
    # every sparse layer, trunk and heads, keeps its nnz and is logged under its path
    assert {k: W.nnz for k, W in model.sparse_weights().items()} == nnz
    updates = [u for row in hist for u in row["dst"]]
    assert updates, "no topology update happened"
    for u in updates:
        assert [r["layer"] for r in u["layers"]] == ["trunk.0", "heads.0.0", "heads.1.0"]
        assert all(r["pruned"] == r["grown"] for r in u["layers"])
    assert all(r["grown"] > 0 for r in updates[0]["layers"])
    assert set(hist[-1]["layers"]) == {"trunk.0", "heads.0.0", "heads.0.2", "heads.1.0",
                                       "heads.1.2"}  # fmt: skip


def test_heads_layers_are_updated_independently(digits):
    """SET on one head's layer proposes from that layer alone: the same head trained next to
    a different second head gets the same first topology update."""
    a, b = two_heads(seed=0), two_heads(seed=0)
    rng = np.random.default_rng(9)  # make b's second head differ
    b.net.heads.branches[1].layers[0] = SparseLinear(96, 48, density=0.2, rng=rng)
    alg_a = make_algorithm("SET(0.3)", epochs=2, steps_per_epoch=1)
    alg_b = make_algorithm("SET(0.3)", epochs=2, steps_per_epoch=1)
    la = {k: (W, None) for k, W in a.sparse_weights().items()}
    lb = {k: (W, None) for k, W in b.sparse_weights().items()}
    ea = alg_a.propose_all({"heads.0.0.weight": la["heads.0.0.weight"]}, 1,
                           np.random.default_rng(1))  # fmt: skip
    eb = alg_b.propose_all({"heads.0.0.weight": lb["heads.0.0.weight"]}, 1,
                           np.random.default_rng(1))  # fmt: skip
    np.testing.assert_array_equal(ea["heads.0.0.weight"].drop, eb["heads.0.0.weight"].drop)


def test_two_head_checkpoint_round_trip_resumes_identically(digits, tmp_path):
    full = two_heads()
    fit(full, digits, dst="SET(0.3)", epochs=3)

    class Stop(Callback):
        def on_epoch_end(self, state, logs):
            if state.epoch == 2:
                save_checkpoint(tmp_path / "c.npz", state)
                state.stop_training = True

    first = two_heads()
    fit(first, digits, dst="SET(0.3)", epochs=3, callbacks=[Stop()])
    resumed = two_heads(seed=1)  # other initial values and topology: all come from the file
    alg = make_algorithm("SET(0.3)", epochs=3, steps_per_epoch=57)
    tr = Trainer(
        resumed,
        loss=SoftmaxCrossEntropy(),
        optimizer=Momentum(0.9),
        schedule=0.05,
        epochs=3,
        batch_size=32,
        seed=0,
        callbacks=[TopologyUpdate(alg, seed=0)],
    )
    restore_checkpoint(tr.state, tmp_path / "c.npz")
    tr.fit(digits)
    for k, v in full.state_dict().items():
        np.testing.assert_array_equal(v, resumed.state_dict()[k], err_msg=k)


def test_autoencoder_reports_reconstruction_loss_without_accuracy(digits):
    rng = np.random.default_rng(0)
    ae = MLP([SparseLinear(64, 32, density=0.3, rng=rng), ActivationLayer(ReLU(), 32),
              SparseLinear(32, 64, density=0.3, rng=rng)])  # fmt: skip
    data = Dataset.unlabeled(digits.x_train, digits.x_test)
    _, hist = fit(ae, data, dst="SET(0.2)", epochs=4, loss=MeanSquaredError(),
                  task="reconstruction", lr=0.005, optimizer=Adam())  # fmt: skip
    assert all("accuracy" not in k for row in hist for k in row)
    assert hist[-1]["test_loss"] < 0.6 * hist[0]["train_loss"]
    with pytest.raises(ConfigError, match="as many outputs as inputs"):
        fit(two_heads(), data, loss=MeanSquaredError(), task="reconstruction")


def test_regression_task(digits):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 2))
    data = Dataset.regression(digits.x_train, digits.x_train @ w, digits.x_test, digits.x_test @ w)
    m = MLP([Linear(64, 2, rng=rng)])
    _, hist = fit(m, data, loss=MeanSquaredError(), task="regression", lr=0.05, epochs=5,
                  optimizer=Adam())  # fmt: skip
    assert hist[-1]["test_loss"] < 0.05 * hist[0]["train_loss"]
    assert "test_accuracy" not in hist[-1]
    with pytest.raises(ConfigError, match="regression targets"):
        fit(MLP([SparseLinear(64, 3, density=0.5, rng=rng)]), data, task="regression",
            loss=MeanSquaredError())  # fmt: skip


def test_gradient_accumulation_gives_the_same_update(digits):
    a, b = two_heads(dtype=np.float64), two_heads(dtype=np.float64)
    fit(a, digits, epochs=1)
    fit(b, digits, epochs=1, micro_batches=4)
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(b.state_dict()[k], v, rtol=1e-9, atol=1e-12, err_msg=k)


def test_gradient_hook_sits_between_backward_and_step(digits):
    class ZeroHeads(Callback):
        calls = 0

        def on_gradients(self, state, grads):
            ZeroHeads.calls += 1
            assert grads["batch_size"] <= 32
            for name, p in grads["params"].items():
                if name.startswith("heads."):
                    p.grad[...] = 0  # e.g. where an all-reduce would write

    m = two_heads()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    fit(m, digits, epochs=1, optimizer=SGD(), callbacks=[ZeroHeads()])
    assert ZeroHeads.calls == -(-len(digits.y_train) // 32)
    after = m.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before if k.startswith("heads."))
    assert not np.array_equal(before["trunk.0.weight.data"], after["trunk.0.weight.data"])


def test_optimizer_map_by_name_pattern_with_a_frozen_trunk(digits):
    m = two_heads()
    trunk = m.params()["trunk.0.weight"].value.copy()
    tr, _ = fit(m, digits, epochs=1, optimizer={"trunk.*": Frozen(), "*": Momentum(0.9)})
    np.testing.assert_array_equal(m.params()["trunk.0.weight"].value, trunk)
    assert type(tr.state.optimizers["heads.1.2.bias"]).__name__ == "Momentum"
    with pytest.raises(ValueError, match=r"no optimizer given for parameter 'heads\.0\.0\.weight'"):
        fit(two_heads(), digits, epochs=1, optimizer={"trunk.*": SGD()})


def test_validation_split_reports_val_metrics(digits):
    data = digits.split_validation(0.2, seed=3)
    assert len(data.y_val) == round(0.2 * len(digits.y_train))
    assert len(data.y_train) + len(data.y_val) == len(digits.y_train)
    again = digits.split_validation(0.2, seed=3)
    np.testing.assert_array_equal(again.y_val, data.y_val)
    # stratified: every class is in the validation split in about its share
    share = np.bincount(data.y_val, minlength=10) / len(data.y_val)
    np.testing.assert_allclose(share, np.bincount(digits.y_train) / len(digits.y_train),
                               atol=0.01)  # fmt: skip
    _, hist = fit(MLP([SparseLinear(64, 10, density=0.5, rng=np.random.default_rng(0))]), data)
    assert {"val_loss", "val_accuracy", "test_loss", "test_accuracy"} <= set(hist[-1])
    with pytest.raises(ConfigError, match="validation fraction must be in"):
        digits.split_validation(1.0)
