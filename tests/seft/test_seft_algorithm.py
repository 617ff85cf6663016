"""The seft DST algorithm: exact nnz after every update, no stored position regrown, the drop is
the smallest |w g|, the growth the largest |dW| over the positions free before the update; the
same properties inside sprig's trainer after every optimizer step."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sprig.errors import ConfigError
from sprig.matrices import CSRMatrix
from sprig.sparsity import algorithms as A
from sprig.sparsity.info import GRADIENT, GRADIENT_SAMPLE, GradientSample, LayerInfo
from sprig.specs.config import TrainConfig
from sprig.training.assemble import assemble
from sprig.training.callbacks import Callback
from sprig.training.dst import make_algorithm


def test_registered_with_declared_needs_and_spec() -> None:
    alg = make_algorithm("SEFT(fraction=0.2, every=5, end=0.5)", epochs=2, steps_per_epoch=10)
    assert alg.name == "seft" and alg.needs == {GRADIENT, GRADIENT_SAMPLE}
    assert alg.exclude_dropped and alg.update.every == 5 and alg.update.stop == 10
    assert alg.fraction(0) == pytest.approx(0.2) and alg.fraction(10) == pytest.approx(0.0)
    with pytest.raises(ConfigError, match="decay"):
        A.seft(100, decay="sideways")


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    rows=st.integers(1, 12),
    cols=st.integers(1, 12),
    density=st.floats(0.05, 0.95),
    fraction=st.floats(0.0, 1.0),
    updates=st.integers(1, 4),
)
def test_seft_updates_keep_nnz_and_never_regrow_stored(
    seed, rows, cols, density, fraction, updates
) -> None:
    rng = np.random.default_rng(seed)
    W = CSRMatrix.random(
        (rows, cols),
        density=density,
        rng=rng,
        dtype=np.float64,
        values=lambda n, r: r.normal(size=n),
    )
    target = W.nnz
    alg = A.seft(1000, fraction=fraction, delta_t=1, decay="constant")
    for t in range(1, updates + 1):
        g = rng.standard_normal(W.nnz)
        Xt, dYt = rng.standard_normal((cols, 3)), rng.standard_normal((rows, 3))
        info = LayerInfo(grad=g, sample=GradientSample(Xt, dYt))
        edit = alg.propose_all({"w": (W, info)}, t, rng)["w"]
        W2, remap = A.apply_edit(W, edit)
        assert W2.nnz == target == edit.stats.nnz
        assert edit.drop.size == edit.add_rows.size  # prune back exactly what was grown
        grown = edit.add_rows * cols + edit.add_cols
        assert not np.isin(grown, W.keys).any()  # never a position stored before the update
        assert np.all(W2.data[remap.inserted] == 0)
        if edit.drop.size:
            # dropped: the smallest sensitivity |w g| of the stored weights
            sens = np.abs(W.data * g)
            kept = np.setdiff1d(np.arange(W.nnz), edit.drop)
            if kept.size:
                assert sens[edit.drop].max() <= sens[kept].min()
            # grown: the largest |dW| among positions free before the update
            dW = np.abs(dYt @ Xt.T).reshape(-1)
            free = np.setdiff1d(np.arange(rows * cols), np.union1d(W.keys, grown))
            if free.size:
                assert dW[grown].min() >= dW[free].max() - 1e-12
        W = W2


class _CheckEveryStep(Callback):
    """After every optimizer step: each sparse layer holds exactly its initial nnz; after an
    update, the inserted positions were not stored before the step."""

    def __init__(self) -> None:
        self.nnz: dict[str, int] = {}
        self.keys: dict[str, np.ndarray] = {}
        self.steps = self.changes = 0

    def on_train_begin(self, state) -> None:
        for n, W in state.model.sparse_weights().items():
            self.nnz[n], self.keys[n] = W.nnz, W.keys.copy()

    def on_batch_end(self, state, logs) -> None:
        self.steps += 1
        for n, W in state.model.sparse_weights().items():
            assert W.nnz == self.nnz[n], (n, state.step, W.nnz, self.nnz[n])
            new = np.setdiff1d(W.keys, self.keys[n])
            gone = np.setdiff1d(self.keys[n], W.keys)
            assert new.size == gone.size
            self.changes += new.size
            self.keys[n] = W.keys.copy()


def test_seft_in_sprigs_trainer_exact_nnz_after_every_step() -> None:
    check = _CheckEveryStep()
    cfg = TrainConfig(
        layers="ReLU;Linear",
        layer_sizes="64;32;10",
        overall_density=0.2,
        epochs=2,
        batch_size=100,
        train_size=600,
        test_size=100,
        dst="SEFT(fraction=0.3, every=2, end=1)",
        seed=0,
    )
    run = assemble(cfg, progress=False, lines=False, callbacks=[check])
    history = run.fit()
    assert check.steps == 12 and check.changes > 0
    updates = [row for h in history for row in h["dst"]]
    assert len(updates) == 5  # steps 2, 4, ..., 10 (end = the whole run, stop exclusive)
    for row in updates:
        for layer in row["layers"]:
            assert layer["pruned"] == layer["grown"]
