"""NeuroTrails on sprig models: the tree, its baselines, shared-trunk gradients, the DST."""

import numpy as np
import pytest

from sprig.errors import ConfigError
from sprig.layers import SparseLinear
from sprig.neurotrails import build, count, neurotrails_dst
from sprig.neurotrails.models import tree_densities
from sprig.sparsity import density as density_mod

SPEC, SIZES = "ReLU;ReLU;ReLU;Linear", [20, 16, 16, 12, 5]


def test_tree_shapes_and_names():
    m = build(SPEC, SIZES, heads=3, head_blocks=2, density=0.5)
    names = list(m.params())
    assert [n for n in names if n.startswith("trunk.")] == [
        "trunk.0.weight", "trunk.0.bias", "trunk.2.weight", "trunk.2.bias"]  # fmt: skip
    for h in range(3):
        assert [n for n in names if n.startswith(f"heads.{h}.")] == [
            f"heads.{h}.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")]  # fmt: skip
    assert m.num_outputs == 3 and m.output_features == 5
    # heads are independently initialised copies: different values and topologies
    w = [m.params()[f"heads.{h}.0.weight"].value for h in range(3)]
    assert not np.array_equal(w[0], w[1]) and not np.array_equal(w[1], w[2])


@pytest.mark.parametrize(
    ("method", "outputs", "trunk_layers", "dense"),
    [("neurotrails", 3, 2, False), ("treenet", 3, 2, True), ("ensemble", 3, 0, True),
     ("dense", 1, None, True), ("sparse", 1, None, False)],
)  # fmt: skip
def test_methods_build_their_architecture(method, outputs, trunk_layers, dense):
    m = build(SPEC, SIZES, method=method, heads=3, head_blocks=2, density=0.3)
    assert m.num_outputs == outputs
    assert (not m.sparse_modules()) == dense
    if trunk_layers is not None:
        assert sum(n.startswith("trunk.") for n in m.affine_modules()) == trunk_layers


def test_erk_over_the_whole_tree():
    shapes = density_mod.shapes_from_sizes(SIZES)
    ds = tree_densities(shapes, 3, 2, 0.3, "erk")
    full = density_mod.erk(shapes[:2] + shapes[2:] * 3, 0.3)
    assert ds == full[:4]
    m = build(SPEC, SIZES, heads=3, head_blocks=2, density=0.3)
    c = count(m)
    total = sum(r * k for r, k in shapes[:2]) + 3 * sum(r * k for r, k in shapes[2:])
    assert abs(c["weights_nnz"] / total - 0.3) < 0.01
    assert c["flops"] == 2 * c["weights_nnz"]


def test_trunk_exists_once_and_receives_the_sum_of_the_heads_gradients():
    m = build(SPEC, SIZES, heads=3, head_blocks=2, density=0.5, dtype=np.float64)
    trunk = next(la for la in m.net.trunk.layers if isinstance(la, SparseLinear))
    assert sum(la is trunk for la in m.sparse_modules().values()) == 1
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 20))
    Y, backprop = m.forward(X, train=True)
    dYs = [rng.normal(size=y.shape) for y in Y]
    g = m.params()["trunk.0.weight"].grad
    backprop(tuple(dYs))
    total = g.copy()
    parts = []
    for k in range(3):
        Y, backprop = m.forward(X, train=True)
        backprop(tuple(d if i == k else np.zeros_like(d) for i, d in enumerate(dYs)))
        parts.append(m.params()["trunk.0.weight"].grad.copy())
    np.testing.assert_allclose(total, sum(parts), rtol=1e-12, atol=1e-12)
    assert all(np.abs(p).sum() > 0 for p in parts)  # every head contributes


def test_prediction_is_the_mean_of_the_heads():
    m = build(SPEC, SIZES, heads=4, head_blocks=1, density=0.5)
    X = np.random.default_rng(0).normal(size=(6, 20))
    outs = m.predict_outputs(X)
    np.testing.assert_allclose(m.predict(X), np.mean(outs, axis=0), rtol=1e-6)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match=r"head_blocks must be an integer in 1\.\.4"):
        build(SPEC, SIZES, head_blocks=5)
    with pytest.raises(ConfigError, match="method must be one of"):
        build(SPEC, SIZES, method="bagging")
    with pytest.raises(ConfigError, match="heads must be a positive integer"):
        build(SPEC, SIZES, heads=0)
    with pytest.raises(ConfigError, match="prune must be one of"):
        neurotrails_dst(100, prune="random")
    with pytest.raises(ConfigError, match=r"bad drop_rate 1\.5"):
        neurotrails_dst(100, drop_rate=1.5)


def test_dst_defaults_and_soft_magnitude():
    alg = neurotrails_dst(1000, every=100)
    assert alg.fraction(0) == 0.5 and alg.fraction(500) == pytest.approx(0.25)
    assert [t for t in range(1, 1001) if alg.due(t)][:3] == [100, 200, 300]
    soft = neurotrails_dst(1000, prune="soft_magnitude", temperature=3.0)
    assert soft.prune is not alg.prune and soft.grow is alg.grow


def test_init_spec_reaches_every_copy():
    m = build(SPEC, SIZES, heads=3, head_blocks=2, density=0.5, init="Uniform(-0.001, 0.001)")
    for name, p in m.params().items():
        if name.endswith("weight"):
            v = np.asarray(p.value)
            assert np.abs(v).max() <= 0.001 and np.abs(v).max() > 0, name
    with pytest.raises(ConfigError, match="bad init 'Nope'"):
        build(SPEC, SIZES, init="Nope")
