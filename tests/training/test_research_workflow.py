"""What a paper's protocol needs: update periods with explicit units, step-indexed learning
rates, dense first/last layers, the field's input scaling, weight decay written back."""

import numpy as np
import pytest

from sprig.data.datasets import Dataset
from sprig.data.loaders import load_digits
from sprig.errors import ConfigError
from sprig.sparsity.density import densities
from sprig.specs.config import TrainConfig
from sprig.specs.types import parse_dst, parse_learning_rate
from sprig.training.assemble import assemble, fit_normalization, resolve_config
from sprig.training.build import build_schedule
from sprig.training.dst import make_algorithm


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("SET(0.3, every=100 steps)", "set(fraction=0.3, every=100 steps)"),
        ("RigL(every=2 epochs)", "rigl(every=2 epochs)"),
        ("MagRan(every=1 epoch)", "magran(every=1 epoch)"),
        ("SET(every=3)", "set(every=3)"),
    ],
)
def test_update_periods_carry_their_unit(text, printed):
    spec = parse_dst(text)
    assert str(spec) == printed
    assert parse_dst(str(spec)) == spec


def test_every_algorithm_takes_either_unit():
    spe = 40
    set_steps = make_algorithm("SET(0.3, every=100 steps)", epochs=10, steps_per_epoch=spe)
    assert set_steps.update.unit == "step"
    assert [t for t in range(1, 401) if set_steps.due(t)] == [100, 200, 300, 400]
    assert set_steps.fraction(250) == pytest.approx(0.3)
    rigl = make_algorithm("RigL(every=2 epochs)", epochs=10, steps_per_epoch=spe)
    assert rigl.update.unit == "step" and rigl.update.every == 2 * spe
    magran = make_algorithm("MagRan(0.3, every=50 steps, end=0.5)", epochs=10, steps_per_epoch=spe)
    # the cosine drop fraction stays epoch-indexed: read at the epoch of the step
    ref = make_algorithm("MagRan(0.3, end=0.5)", epochs=10, steps_per_epoch=spe)
    assert magran.fraction(130) == ref.fraction(130 // spe)
    same = make_algorithm("SET(every=2 epochs)", epochs=10, steps_per_epoch=spe)
    assert same.update.unit == "epoch" and same.update.every == 2


@pytest.mark.parametrize("bad", ["SET(every=3 weeks)", "SET(every=0 steps)", "SET(every=1.5)"])
def test_bad_periods_are_refused(bad):
    with pytest.raises(ConfigError, match="every"):
        make_algorithm(bad, epochs=3, steps_per_epoch=10)


def test_set_every_n_steps_in_a_run():
    cfg = TrainConfig(layers="ReLU;Linear", layer_sizes="64;32;10", overall_density=0.3,
                      dst="SET(0.3, every=20 steps)", epochs=2, seed=0, batch_size=32)  # fmt: skip
    run = assemble(cfg, progress=False, lines=False)
    hist = run.fit()
    steps = [u["step"] for row in hist for u in row["dst"]]
    assert steps == [20, 40, 60, 80]  # 45 steps per epoch on the digits
    assert all(u["unit"] == "step" for row in hist for u in row["dst"])


def test_step_indexed_learning_rate_schedules():
    s = build_schedule(parse_learning_rate("Steps(MultiStepLR(0.1; 250,500; 0.1))"),
                       steps_per_epoch=100, epochs=10)  # fmt: skip
    assert [s(i) for i in (0, 249, 250, 499, 500)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    epochs = build_schedule(parse_learning_rate("MultiStepLR(0.1; 2,4; 0.1)"),
                            steps_per_epoch=100, epochs=10)  # fmt: skip
    assert [epochs(i) for i in (199, 200, 400)] == pytest.approx([0.1, 0.01, 0.001])
    cos = build_schedule(parse_learning_rate("Steps(Cosine(0.1))"), steps_per_epoch=100,
                         epochs=10)  # fmt: skip
    assert cos(500) == pytest.approx(0.05) and cos(999) < 1e-5  # over the whole run, in steps
    cfg = TrainConfig(layers="Linear", layer_sizes="4;2",
                      learning_rate="Steps(MultiStepLR(0.1; 25000; 0.1))")  # fmt: skip
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_dense_first_and_last_layers_are_outside_the_budget():
    shapes = [(300, 784), (100, 300), (10, 100)]
    d = densities("erk", shapes, 0.05, dense=[0, 2])
    assert d[0] == d[2] == 1.0 and d[1] == pytest.approx(0.05)
    cfg = TrainConfig(layers="ReLU;ReLU;Linear", layer_sizes="64;100;100;10",
                      overall_density=0.1, density_method="uniform",
                      dense_layers="first,last")  # fmt: skip
    r = resolve_config(cfg, load_digits(), sizes_given=True, density_given=True)
    assert r.densities == (1.0, 0.1, 1.0)
    assert TrainConfig.from_dict(r.to_dict()) == r
    with pytest.raises(ConfigError, match="dense_layers must list"):
        TrainConfig(layers="Linear", layer_sizes="4;2", dense_layers="middle")
    bad = TrainConfig(layers="ReLU;Linear", layer_sizes="64;8;10", overall_density=0.1,
                      dense_layers="5")  # fmt: skip
    with pytest.raises(ConfigError, match="index 5 is outside the 2 linear layers"):
        resolve_config(bad, load_digits(), sizes_given=True, density_given=True)


def test_default_scaling_is_the_fields_and_is_recorded():
    cfg = TrainConfig(layers="Linear", layer_sizes="64;10")
    digits = load_digits()  # grayscale 8x8 images with a known pixel range
    assert fit_normalization(cfg, digits).method == "scale"
    rng = np.random.default_rng(0)
    color = Dataset(rng.integers(0, 256, (20, 12)).astype(np.float32), np.arange(20) % 2,
                    np.zeros((0, 12), np.float32), np.zeros(0, np.int64), num_classes=2,
                    image_shape=(3, 2, 2), pixel_max=255)  # fmt: skip
    assert fit_normalization(cfg, color).method == "channel"
    run = assemble(TrainConfig(layers="ReLU;Linear", layer_sizes="64;16;10", epochs=1, seed=0),
                   progress=False, lines=False)  # fmt: skip
    assert run.config.normalize == "scale"


def test_weight_decay_is_written_into_the_optimizers():
    cfg = TrainConfig(layers="ReLU;Linear", layer_sizes="64;16;10", weight_decay=1e-4,
                      optimizers="Momentum(0.9);Adam(weight_decay=0.01)")  # fmt: skip
    r = resolve_config(cfg, load_digits(), sizes_given=True, density_given=True)
    assert r.weight_decay == 0.0
    assert [o.get("weight_decay") for o in r.optimizers] == [1e-4, 0.01]
    assert "weight_decay = 0.0\n" in r.to_toml()
