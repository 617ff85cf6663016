"""The training loop, DST topology updates inside it, checkpoints and divergence."""

import numpy as np
import pytest

from sprig.data.loaders import load_digits
from sprig.data.normalization import normalize
from sprig.errors import CheckpointError, DivergenceError
from sprig.losses import SoftmaxCrossEntropy
from sprig.optimizers import SGD, Adam, Momentum
from sprig.specs.types import parse_layers
from sprig.training.build import build_mlp
from sprig.training.callbacks import Callback, EarlyStopping
from sprig.training.checkpoint import restore_checkpoint, save_checkpoint
from sprig.training.dst import TopologyUpdate, make_algorithm
from sprig.training.loop import Trainer


@pytest.fixture(scope="module")
def digits():
    return normalize(load_digits(), "standardize")[0]


def model(seed=0, density=0.2, layers="ReLU;ReLU;Linear", sizes=(64, 128, 64, 10)):
    rng = np.random.default_rng(seed)
    return build_mlp(
        parse_layers(layers), list(sizes), [density] * (len(sizes) - 1), rng=rng, fan_in="actual"
    )


def trainer(m, epochs=3, callbacks=(), optimizer=None, lr=0.05):
    return Trainer(
        m,
        loss=SoftmaxCrossEntropy(),
        optimizer=optimizer or Momentum(0.9),
        schedule=lr,
        epochs=epochs,
        batch_size=32,
        callbacks=list(callbacks),
    )


def test_trains_digits_and_reports_phases(digits):
    h = trainer(model()).fit(digits)
    assert len(h) == 3 and h[-1]["test_accuracy"] > 0.9
    for key in ("time_forward", "time_backward", "time_optimizer", "time_topology", "layers"):
        assert key in h[-1]
    assert h[-1]["layers"]["0"]["nnz"] == round(0.2 * 64 * 128)


def test_divergence_is_detected_with_the_step(digits):
    with pytest.raises(DivergenceError, match=r"epoch 1, batch \d+ \(step \d+\)"):
        trainer(model(), lr=1e6, optimizer=SGD()).fit(digits)


class Snapshot(Callback):
    """Records every sparse layer's (keys, values) at each hook; put one before and one after
    the topology update so that each update can be checked from the outside."""

    def __init__(self):
        self.snap = None

    def _take(self, state):
        self.snap = {
            i: (la.weight.keys.copy(), la.weight.data.copy())
            for i, la in state.model.sparse_layers().items()
        }

    def on_epoch_begin(self, state):
        self._take(state)

    def on_batch_end(self, state, logs):
        self._take(state)


class Check(Snapshot):
    """After each hook: optimizer state aligned with W; kept entries unchanged, new ones 0."""

    def __init__(self, before, zero_growth=True):
        super().__init__()
        self.before = before
        self.zero_growth = zero_growth
        self.updates = 0

    def _take(self, state):
        super()._take(state)
        for i, layer in state.model.sparse_layers().items():
            assert len(layer.weight_grad) == layer.weight.nnz
            st = state.opt_states[f"{i}.weight"]
            for field in ("delta", "m", "v"):
                if hasattr(st, field):
                    assert len(getattr(st, field)) == layer.weight.nnz
            keys, vals = self.snap[i]
            old_keys, old_vals = self.before.snap[i]
            if np.array_equal(keys, old_keys):
                continue
            self.updates += 1
            kept_new = np.isin(keys, old_keys)
            kept_old = np.isin(old_keys, keys)
            same = vals[kept_new] == old_vals[kept_old]
            if self.zero_growth:
                # a position pruned and regrown in one update (RigL, MagRan) restarts at 0
                assert np.all(same | (vals[kept_new] == 0))
                assert np.all(vals[~kept_new] == 0)  # grown weights start at zero
            else:  # SET regrows outside the pre-prune support, with initializer values
                assert np.all(same)
                assert np.all(vals[~kept_new] != 0)


@pytest.mark.parametrize(
    "spec", ["set", "magran", "rigl(every=10)", "snfs", "mest(every=1)", "gmp", "granet(every=10)"]
)
def test_every_algorithm_updates_the_topology_exactly(digits, spec):
    start_density = 1.0 if spec.split("(")[0] in ("gmp", "granet") else 0.2
    m = model(density=start_density)
    if start_density == 1.0:  # dense-to-sparse: full CSR layers
        from sprig.layers import SparseLinear

        for i, layer in list(enumerate(m.net)):
            if not isinstance(layer, SparseLinear) and hasattr(layer, "weight"):
                m.net.layers[i] = SparseLinear(
                    layer.in_features, layer.out_features, density=1.0, rng=np.random.default_rng(i)
                )
    nnz0 = {i: l.nnz for i, l in m.sparse_layers().items()}
    alg = make_algorithm(spec, epochs=3, steps_per_epoch=45, final_density=0.2)
    before = Snapshot()
    check = Check(before, zero_growth=alg.new_init is None and alg.new_values is None)
    cb = TopologyUpdate(alg, seed=1)
    h = trainer(m, callbacks=[before, cb, check], optimizer=Adam()).fit(digits)
    assert check.updates > 0, "the topology never changed"
    stats = [u for row in h for u in row.get("dst", [])]
    assert stats, "no DST statistics in the metrics"
    nnz = {i: l.nnz for i, l in m.sparse_layers().items()}
    if spec.startswith(("set", "magran", "rigl", "mest")):
        assert nnz == nnz0  # constant-nnz algorithms
        for u in stats:
            for layer in u["layers"]:
                assert layer["pruned"] == layer["grown"]
    elif spec == "snfs":
        assert sum(nnz.values()) == sum(nnz0.values())  # total conserved
    else:  # gmp/granet prune towards the final density
        assert sum(nnz.values()) < sum(nnz0.values())
    assert h[-1]["test_accuracy"] > 0.8


def test_checkpoint_round_trip_in_process(tmp_path, digits):
    m = model()
    cb = TopologyUpdate(make_algorithm("set", epochs=2, steps_per_epoch=45), seed=3)
    t = trainer(m, epochs=2, callbacks=[cb])
    t.fit(digits)
    path = save_checkpoint(tmp_path / "c.npz", t.state, {"note": "x"})
    m2 = model(seed=99)
    t2 = trainer(
        m2,
        epochs=2,
        callbacks=[TopologyUpdate(make_algorithm("set", epochs=2, steps_per_epoch=45), seed=3)],
    )
    meta = restore_checkpoint(t2.state, path)
    assert meta["config"] == {"note": "x"} and t2.state.step == t.state.step
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(m2.state_dict()[k], v)
    # a checkpoint of another architecture is refused, leaving the model untouched
    other = trainer(model(sizes=(64, 32, 10), layers="ReLU;Linear"), epochs=1)
    before = other.state.model.state_dict()
    with pytest.raises(CheckpointError):
        restore_checkpoint(other.state, path)
    for k, v in before.items():
        np.testing.assert_array_equal(other.state.model.state_dict()[k], v)


def test_early_stopping(digits):
    h = trainer(model(), epochs=30, callbacks=[EarlyStopping("test_loss", patience=1)], lr=0.5).fit(
        digits
    )
    assert len(h) < 30


def test_density_aware_learning_rate_scales_sparse_weights_only(digits):
    from sprig.optimizers import SGD as PlainSGD

    m = model(density=0.25)
    t = Trainer(
        m,
        loss=SoftmaxCrossEntropy(),
        optimizer=PlainSGD(),
        schedule=0.01,
        epochs=1,
        batch_size=32,
        density_lr_power=1.0,
    )
    scales = t._lr_scales()
    assert set(scales) == {f"{i}.weight" for i in m.sparse_layers()}
    for i, layer in m.sparse_layers().items():
        assert scales[f"{i}.weight"] == pytest.approx(1 / layer.weight.density)
    with pytest.raises(ValueError, match="density_lr_power"):
        Trainer(
            m,
            loss=SoftmaxCrossEntropy(),
            optimizer=PlainSGD(),
            schedule=0.01,
            epochs=1,
            batch_size=32,
            density_lr_power=-1.0,
        )
