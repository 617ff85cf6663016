"""TrainConfig: conversion from strings, validation, broadcasting, dict/TOML round trips."""

from __future__ import annotations

import json
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sprig.errors import ConfigError
from sprig.specs import (
    NERVA_OPTIONS,
    DSTSpec,
    InitSpec,
    LayerSpec,
    OptimizerSpec,
    ScheduleSpec,
    TrainConfig,
)
from sprig.specs.config import FIELDS

#: RW examples/cifar10_sparse.sh (nerva.md §6.1), as the CLI hands it over: flag -> string.
CIFAR10_SPARSE = {
    "layers": "ReLU;ReLU;Linear",
    "layer-sizes": "3072;1024;1024;10",
    "layer-weights": "Xavier",
    "optimizers": "Nesterov(0.9)",
    "loss": "SoftmaxCrossEntropy",
    "learning-rate": "0.01",
    "epochs": "100",
    "batch-size": "100",
    "threads": "12",
    "overall-density": "0.05",
    "dataset": "cifar10",
    "data-dir": "../data",
    "seed": "123",
}


def test_nerva_example_from_cli_strings():
    c = TrainConfig.from_dict(CIFAR10_SPARSE)
    assert c.layers == (LayerSpec("relu"), LayerSpec("relu"), LayerSpec("linear"))
    assert c.layer_sizes == (3072, 1024, 1024, 10)
    assert c.layer_weights == (InitSpec("xavier"),) * 3
    assert c.optimizers == (OptimizerSpec("nesterov", momentum=0.9),) * 3
    assert c.learning_rate == 0.01 and c.schedule == ScheduleSpec("constant", lr=0.01)
    assert (c.epochs, c.batch_size, c.threads, c.seed) == (100, 100, 12, 123)
    assert c.overall_density == 0.05 and c.densities is None and c.density_method == "erk"
    assert c.dropouts == (0.0, 0.0, 0.0)
    assert c.num_linear_layers == 3


def test_snn_training_experiment_options():
    c = TrainConfig(
        layers="ReLU;ReLU;Linear",
        layer_sizes="3072,1024,512,10",
        optimizers="Nesterov(0.9)",
        loss="SoftmaxCrossEntropy",
        layer_weights="Xavier",
        lr_scheduler="MultistepLR(0.1;50,75;0.1)",
        densities="0.01",
        preprocessed="./cifar1",
        prune="Magnitude(0.2)",
        grow="Random",
        grow_weights="XavierNormalized",
        timer="brief",
        computation="mkl",
        no_shuffle="true",
    )
    assert c.schedule == ScheduleSpec("multistep", lr=0.1, milestones=(50, 75), gamma=0.1)
    assert c.densities == (0.01, 0.01, 0.01)
    assert str(c.prune) == "magnitude(fraction=0.2)" and str(c.grow) == "random"
    assert c.no_shuffle is True and c.computation == "mkl"


def test_batch_norm_and_dropout_layers_consume_no_size():
    c = TrainConfig(
        layers="BatchNormalization;ReLU;Dropout(0.1);Linear",
        layer_sizes=[4, 8, 2],
        optimizers="Momentum(0.9);Momentum(0.9);Momentum(0.9);Momentum(0.9)",
        layer_weights="He;Xavier",
    )
    assert c.num_linear_layers == 2
    assert len(c.optimizers) == 4 and len(c.layer_weights) == 2 and len(c.dropouts) == 2


def test_defaults():
    c = TrainConfig(layers="Linear", layer_sizes="4;2")
    assert c.optimizers == (OptimizerSpec("sgd"),)
    assert c.layer_weights == (InitSpec("xavier"),)
    assert str(c.loss) == "softmax_cross_entropy"
    assert (c.epochs, c.batch_size, c.dtype, c.learning_rate) == (100, 100, "float32", 0.01)
    assert c.dst is None and c.prune is None and c.grow is None
    assert (c.clip, c.weight_decay, c.checkpoint_every, c.keep_best) == (0.0, 0.0, 0, False)


def test_typed_values_are_accepted_as_is():
    dst = DSTSpec("rigl", fraction=0.3, every=100)
    c = TrainConfig(
        layers=(LayerSpec("relu"), LayerSpec("linear")),
        layer_sizes=(4, 8, 2),
        dst=dst,
        learning_rate=ScheduleSpec("cosine", lr=0.1),
    )
    assert c.dst is dst and c.schedule == ScheduleSpec("cosine", lr=0.1)


# ------------------------------------------------------------------------------ round trips

FULL = dict(
    layers="ReLU;AllReLU(0.3);SReLU(al=0,tl=0,ar=0,tr=1);Linear",
    layer_sizes="10;8;8;8;3",
    densities="0.5;0.25;1;1",
    dropouts="0.1",
    layer_weights="XavierNormalized;He;Uniform(-0.1, 0.1);None",
    optimizers="Adam(betas=0.9,0.99; eps=1e-7)",
    learning_rate="Warmup(Cosine(0.1, 1000, 0.001), 5)",
    loss="NegativeLogLikelihood",
    epochs=3,
    batch_size=32,
    seed=0,
    dtype="float64",
    dataset='data/my set "quoted".npz',
    dataset_kind="npz",
    train_size=100,
    normalize=True,
    dst="RigL(0.3, every=100, end=0.75)",
    grow_weights="Zero",
    clip=5.0,
    weight_decay=1e-4,
    patience=3,
    keep_best=True,
    checkpoint_every=1,
    run_dir="runs/x",
    drop_last=True,
)


def test_dict_round_trip_is_json_able():
    c = TrainConfig(**FULL)
    d = c.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert TrainConfig.from_dict(json.loads(json.dumps(d))) == c


def test_toml_round_trip(tmp_path):
    c = TrainConfig(**FULL)
    path = tmp_path / "run.toml"
    c.write_toml(path)
    assert tomllib.loads(path.read_text()) == c.to_dict()
    assert TrainConfig.from_toml(path) == c


def test_toml_with_nerva_strings(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        'layers = "ReLU;ReLU;Linear"\n'
        'layer-sizes = "3072;1024;1024;10"\n'
        'optimizers = "Nesterov(0.9)"\n'
        'learning_rate = "MultiStepLR(0.1; 50,75; 0.1)"\n'
        "densities = 0.05\n"
        "epochs = 2\n"
    )
    c = TrainConfig.from_toml(path)
    assert c.densities == (0.05,) * 3 and c.epochs == 2
    assert c.schedule["milestones"] == (50, 75)


@st.composite
def configs(draw):
    n = draw(st.integers(1, 3))
    acts = st.sampled_from(["ReLU", "Linear", "Sigmoid", "LeakyReLU(0.2)", "TReLU(1e-30)"])
    layers = ";".join(draw(st.lists(acts, min_size=n, max_size=n)))
    sizes = draw(st.lists(st.integers(1, 5000), min_size=n + 1, max_size=n + 1))
    kw = dict(layers=layers, layer_sizes=sizes)
    if draw(st.booleans()):
        kw["densities"] = draw(
            st.lists(st.floats(0.0, 1.0, exclude_min=True), min_size=n, max_size=n)
        )
    elif draw(st.booleans()):
        kw["overall_density"] = draw(st.floats(0.0, 1.0, exclude_min=True))
    kw["learning_rate"] = draw(
        st.floats(1e-6, 10.0) | st.sampled_from(["Cosine(0.1)", "Constant(0.5)"])
    )
    kw["epochs"] = draw(st.integers(1, 10**6))
    kw["seed"] = draw(st.none() | st.integers(0, 2**63))
    kw["clip"] = draw(st.floats(0.0, 1e6))
    kw["no_shuffle"] = draw(st.booleans())
    kw["run_dir"] = draw(st.none() | st.text(min_size=1, max_size=10))
    return TrainConfig(**kw)


@given(configs())
def test_round_trips_property(c):
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert TrainConfig.from_dict(tomllib.loads(c.to_toml())) == c


# ------------------------------------------------------------------------------- validation

BASE = {"layers": "ReLU;Linear", "layer_sizes": "4;8;2"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be >= 1, got 0"),
        ({"epochs": "ten"}, "epochs must be an integer, got 'ten'"),
        ({"batch_size": -1}, "batch_size must be >= 1, got -1"),
        (
            {"layer_sizes": "4;2"},
            "layer_sizes must have 3 values (one more than the 2 linear layers), got 2",
        ),
        ({"layer_sizes": "4;0;2"}, "layer_sizes 2 of 3 must be >= 1, got 0"),
        ({"layer_sizes": "4;8.5;2"}, "layer_sizes 2 of 3 must be an integer, got 8.5"),
        ({"densities": "0.5;0"}, "densities 2 of 2 must be in (0, 1], got 0.0"),
        (
            {"densities": "0.5;0.5;0.5"},
            "densities must have 1 value or one per linear layer (2), got 3",
        ),
        ({"overall_density": 1.5}, "overall_density must be in (0, 1], got 1.5"),
        ({"overall_density": 0.5, "densities": 0.5}, "give densities or overall_density, not both"),
        ({"dropouts": "1"}, "dropouts must be in [0, 1), got 1.0"),
        ({"optimizers": "SGD;SGD;SGD"}, "optimizers must have 1 value or one per layer (2), got 3"),
        (
            {"layer_weights": "He;He;He"},
            "layer_weights must have 1 value or one per linear layer (2)",
        ),
        ({"learning_rate": 0}, "learning rate must be > 0, got 0.0"),
        (
            {"learning_rate": "Cosine(0.1)", "lr_scheduler": "Constant(0.1)"},
            "give a schedule in learning_rate or in lr_scheduler, not both",
        ),
        ({"dtype": "float16"}, "dtype must be one of float32, float64, got 'float16'"),
        ({"density_method": "random"}, "density_method must be one of erk, er, uniform"),
        ({"augment": True, "preprocessed": "dir"}, "augment and preprocessed exclude each other"),
        ({"grow": "Random"}, "grow=random needs prune or dst"),
        ({"loss": "Hinge"}, "unknown loss 'Hinge'; valid: cross_entropy"),
        ({"layers": "ReLU;Relu2"}, "layer 2 of 2 in 'ReLU;Relu2': unknown layer 'Relu2'"),
        ({"layers": "BatchNormalization"}, "layers must contain a linear-type layer"),
        ({"timer": "on"}, "timer must be one of disabled, brief, full, got 'on'"),
        ({"keep_best": "yes"}, "keep_best must be true or false, got 'yes'"),
        ({"clip": -1}, "clip must be >= 0, got -1.0"),
        ({"patience": 0}, "patience must be >= 1, got 0"),
        ({"epochs": "1;2"}, "epochs must be one value, got '1;2'"),
        ({"run_dir": ""}, "run_dir must be a non-empty string"),
        ({"prune": "Magnitude(2)"}, "magnitude fraction must be in [0, 1], got 2.0"),
        ({"dst": "RigL(every=0.5)"}, "rigl every must be an integer, got 0.5"),
    ],
)
def test_validation_messages(changes, message):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict({**BASE, **changes}, source="run.toml")
    msg = str(info.value)
    assert msg.startswith("run.toml: ")
    assert message in msg
    assert "\n" not in msg


def test_unknown_and_missing_keys(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('layers = "Linear"\nlayer_sizes = [2, 2]\nepoch = 3\n')
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_toml(path)
    msg = str(info.value)
    assert f"{path}: unknown option 'epoch' (did you mean 'epochs'?); valid: augment," in msg
    assert ", weight_decay" in msg
    with pytest.raises(ConfigError, match=r"missing required option.*layer_sizes"):
        TrainConfig.from_dict({"layers": "Linear"})
    with pytest.raises(ConfigError, match="option 'layer_sizes' given twice"):
        TrainConfig.from_dict({**BASE, "layer-sizes": "4;8;2"})
    path.write_text("layers = [\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        TrainConfig.from_toml(path)
    with pytest.raises(ConfigError, match="config file not found"):
        TrainConfig.from_toml(tmp_path / "missing.toml")


def test_every_field_has_a_converter_and_every_nerva_flag_maps():
    from dataclasses import fields

    names = {f.name for f in fields(TrainConfig)}
    assert names == set(FIELDS)
    nerva_flags = [
        "--seed",
        "--layers",
        "--layer-sizes",
        "--densities",
        "--overall-density",
        "--dropouts",
        "--layer-weights",
        "--epochs",
        "--batch-size",
        "--no-shuffle",
        "--no-statistics",
        "--optimizers",
        "--learning-rate",
        "--learning-rate-scheduler",
        "--loss",
        "--load-weights",
        "--save-weights",
        "--cifar10",
        "--mnist",
        "--generate-dataset",
        "--dataset-size",
        "--load-dataset",
        "--save-dataset",
        "--normalize",
        "--preprocessed",
        "--precision",
        "--info",
        "--timer",
        "--prune",
        "--grow",
        "--grow-weights",
        "--computation",
        "--clip",
        "--threads",
        "--gradient-step",
        "--edgeitems",
        "--debug",
        "--verbose",
        "--augmented",
        "--dataset",
    ]
    for flag in nerva_flags:
        assert flag in NERVA_OPTIONS
        field_name = NERVA_OPTIONS[flag].split()[0].split("=")[0].rstrip(",")
        if not field_name.startswith("("):
            assert field_name in FIELDS, flag
