"""Typed specs: registry names, Nerva spellings, validation messages, ``str`` round-trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sprig.errors import ConfigError
from sprig.specs import registry as R
from sprig.specs.grammar import SpecError
from sprig.specs.types import (
    DSTSpec,
    GrowSpec,
    InitSpec,
    LayerSpec,
    LossSpec,
    OptimizerSpec,
    PruneSpec,
    ScheduleSpec,
    parse_dst,
    parse_grow,
    parse_init,
    parse_inits,
    parse_layer,
    parse_layers,
    parse_learning_rate,
    parse_loss,
    parse_numbers,
    parse_optimizer,
    parse_optimizers,
    parse_prune,
    parse_schedule,
    parse_spec,
    spec_class,
)

# ----------------------------------------------------------------------- registry contents

#: The canonical names other modules register under (the brief's contract).
CANONICAL = {
    "layer": {
        "linear",
        "relu",
        "leaky_relu",
        "all_relu",
        "trelu",
        "sigmoid",
        "tanh",
        "gelu",
        "silu",
        "elu",
        "softplus",
        "srelu",
        "softmax",
        "log_softmax",
        "batch_norm",
        "dropout",
    },
    "loss": {
        "squared_error",
        "mse",
        "cross_entropy",
        "softmax_cross_entropy",
        "logistic_cross_entropy",
        "nll",
    },
    "optimizer": {"sgd", "momentum", "nesterov", "adam", "adamw", "smet"},
    "schedule": {
        "constant",
        "time_based",
        "step_based",
        "multistep",
        "exponential",
        "cosine",
        "warmup",
        "steps",
    },
    "init": {
        "xavier",
        "xavier_normalized",
        "xavier_uniform",
        "xavier_normal",
        "he",
        "he_uniform",
        "he_normal",
        "uniform",
        "normal",
        "zero",
        "pytorch",
        "none",
    },
    "prune": {"magnitude", "set", "threshold", "random", "sensitivity", "mest", "soft_magnitude"},
    "grow": {"random", "gradient", "sampled_gradient", "momentum"},
    "dst": {"static", "set", "magran", "rigl", "snfs", "mest", "granet", "gmp", "seft"},
}


@pytest.mark.parametrize("kind", sorted(CANONICAL))
def test_canonical_names(kind):
    assert set(R.REGISTRIES[kind].names()) == CANONICAL[kind]


PARAMS = {
    ("layer", "leaky_relu"): ("alpha",),
    ("layer", "all_relu"): ("alpha",),
    ("layer", "trelu"): ("epsilon",),
    ("layer", "elu"): ("alpha",),
    ("layer", "srelu"): ("al", "tl", "ar", "tr"),
    ("layer", "dropout"): ("p",),
    ("optimizer", "sgd"): ("weight_decay",),
    ("optimizer", "momentum"): ("momentum", "weight_decay"),
    ("optimizer", "nesterov"): ("momentum", "weight_decay"),
    ("optimizer", "adam"): ("betas", "eps", "weight_decay", "per_entry_steps", "warmup_steps"),
    ("optimizer", "adamw"): ("betas", "eps", "weight_decay", "per_entry_steps", "warmup_steps"),
    ("optimizer", "smet"): ("betas", "eps", "weight_decay", "warmup_steps"),
    ("schedule", "constant"): ("lr",),
    ("schedule", "time_based"): ("lr", "decay"),
    ("schedule", "step_based"): ("lr", "drop_rate", "change_rate"),
    ("schedule", "multistep"): ("lr", "milestones", "gamma"),
    ("schedule", "exponential"): ("lr", "change_rate"),
    ("schedule", "cosine"): ("lr", "total_steps", "min_lr"),
    ("schedule", "warmup"): ("schedule", "steps"),
    ("init", "uniform"): ("a", "b"),
    ("init", "normal"): ("mean", "std"),
    ("prune", "magnitude"): ("fraction",),
    ("prune", "threshold"): ("t",),
    ("prune", "mest"): ("fraction", "lam"),
    ("prune", "soft_magnitude"): ("fraction", "temperature"),
    ("grow", "sampled_gradient"): ("candidates",),
}


@pytest.mark.parametrize(("key", "names"), sorted(PARAMS.items()))
def test_positional_parameter_order(key, names):
    kind, name = key
    assert tuple(p.name for p in R.REGISTRIES[kind].lookup(name).params) == names


# ------------------------------------------------------------- Nerva spellings (nerva.md §2-6)

NERVA = [
    # --layers tokens
    (parse_layer, "Linear", "linear"),
    (parse_layer, "ReLU", "relu"),
    (parse_layer, "Sigmoid", "sigmoid"),
    (parse_layer, "Softmax", "softmax"),
    (parse_layer, "LogSoftmax", "log_softmax"),
    (parse_layer, "HyperbolicTangent", "tanh"),
    (parse_layer, "AllReLU(0.3)", "all_relu(alpha=0.3)"),
    (parse_layer, "LeakyReLU(0.1)", "leaky_relu(alpha=0.1)"),
    (parse_layer, "TReLU(1e-30)", "trelu(epsilon=1e-30)"),
    (parse_layer, "SReLU(al=0,tl=0,ar=0,tr=1)", "srelu(al=0.0, tl=0.0, ar=0.0, tr=1.0)"),
    (parse_layer, "SReLU", "srelu(al=0.0, tl=0.0, ar=0.0, tr=1.0)"),
    (parse_layer, "BatchNormalization", "batch_norm"),
    (parse_layer, "Dropout(0.2)", "dropout(p=0.2)"),
    # --loss
    (parse_loss, "SquaredError", "squared_error"),
    (parse_loss, "CrossEntropy", "cross_entropy"),
    (parse_loss, "SoftmaxCrossEntropy", "softmax_cross_entropy"),
    (parse_loss, "StableSoftmaxCrossEntropy", "softmax_cross_entropy"),
    (parse_loss, "LogisticCrossEntropy", "logistic_cross_entropy"),
    (parse_loss, "NegativeLogLikelihood", "nll"),
    (parse_loss, "NegativeLoglikelihood", "nll"),
    (parse_loss, "MSE", "mse"),
    # --optimizers
    (parse_optimizer, "GradientDescent", "sgd(weight_decay=0.0)"),
    (parse_optimizer, "Momentum(0.9)", "momentum(momentum=0.9, weight_decay=0.0)"),
    (parse_optimizer, "Momentum(momentum=0.9)", "momentum(momentum=0.9, weight_decay=0.0)"),
    (parse_optimizer, "Momentum(mu=0.8)", "momentum(momentum=0.8, weight_decay=0.0)"),
    (parse_optimizer, "Nesterov(0.9)", "nesterov(momentum=0.9, weight_decay=0.0)"),
    (
        parse_optimizer,
        "Adam(betas=0.9,0.999; eps=1e-8)",
        "adam(betas=[0.9, 0.999], eps=1e-08, weight_decay=0.0, per_entry_steps=false, "
        "warmup_steps=0)",
    ),
    (
        parse_optimizer,
        "AdamW",
        "adamw(betas=[0.9, 0.999], eps=1e-08, weight_decay=0.01, per_entry_steps=false, "
        "warmup_steps=0)",
    ),
    # --learning-rate / --learning-rate-scheduler
    (parse_schedule, "Constant(0.01)", "constant(lr=0.01)"),
    (parse_schedule, "TimeBased(lr=0.1,decay=0.01)", "time_based(lr=0.1, decay=0.01)"),
    (
        parse_schedule,
        "StepBased(0.1, 0.5, 10)",
        "step_based(lr=0.1, drop_rate=0.5, change_rate=10.0)",
    ),
    (
        parse_schedule,
        "MultiStepLR(0.1; 50,75; 0.1)",
        "multistep(lr=0.1, milestones=[50, 75], gamma=0.1)",
    ),
    (
        parse_schedule,
        "MultistepLR(0.1;50,75;0.1)",
        "multistep(lr=0.1, milestones=[50, 75], gamma=0.1)",
    ),
    (parse_schedule, "MultiStepLR(0.1; 50; 0.1)", "multistep(lr=0.1, milestones=[50], gamma=0.1)"),
    (parse_schedule, "Exponential(0.1, 0.05)", "exponential(lr=0.1, change_rate=0.05)"),
    (parse_schedule, "Cosine(0.1)", "cosine(lr=0.1, min_lr=0.0)"),
    (
        parse_schedule,
        "Warmup(Cosine(0.1), 5)",
        "warmup(schedule=cosine(lr=0.1, min_lr=0.0), steps=5)",
    ),
    # --layer-weights / --grow-weights
    (parse_init, "Xavier", "xavier"),
    (parse_init, "XavierNormalized", "xavier_normalized"),
    (parse_init, "XavierUniform", "xavier_uniform"),
    (parse_init, "XavierNormal", "xavier_normal"),
    (parse_init, "He", "he"),
    (parse_init, "HeUniform", "he_uniform"),
    (parse_init, "HeNormal", "he_normal"),
    (parse_init, "Uniform", "uniform(a=-1.0, b=1.0)"),
    (parse_init, "Uniform(0, 1)", "uniform(a=0.0, b=1.0)"),
    (parse_init, "Normal(0, 0.1)", "normal(mean=0.0, std=0.1)"),
    (parse_init, "Zero", "zero"),
    (parse_init, "PyTorch", "pytorch"),
    (parse_init, "None", "none"),
    # --prune / --grow
    (parse_prune, "Magnitude(0.2)", "magnitude(fraction=0.2)"),
    (parse_prune, "SET(0.3)", "set(fraction=0.3)"),
    (parse_prune, "Threshold(0.001)", "threshold(t=0.001)"),
    (parse_grow, "Random", "random"),
    (parse_grow, "SampledGradient(8)", "sampled_gradient(candidates=8)"),
    # sprig's DST algorithms
    (parse_dst, "RigL(0.3, 100, 0.75)", "rigl(fraction=0.3, every=100, end=0.75)"),
    (
        parse_dst,
        "rigl(drop_fraction=0.3, delta_t=100, decay=Cosine)",
        "rigl(fraction=0.3, every=100, decay=cosine)",
    ),
    (parse_dst, "Static", "static"),
    (parse_dst, "GMP(start=0.1, end=0.8)", "gmp(start=0.1, end=0.8)"),
]


@pytest.mark.parametrize(("parse", "text", "canonical"), NERVA)
def test_nerva_spellings(parse, text, canonical):
    spec = parse(text)
    assert str(spec) == canonical
    assert parse(canonical) == spec
    assert parse(text.upper()) == spec  # case-insensitive


def test_nerva_sequences():
    assert [str(x) for x in parse_layers("ReLU;ReLU;Linear")] == ["relu", "relu", "linear"]
    assert len(parse_layers("BatchNormalization;ReLU;AllReLU(0.3);Linear")) == 4
    assert parse_optimizers("Nesterov(0.9)") == (OptimizerSpec("nesterov", momentum=0.9),)
    assert len(parse_optimizers("Momentum(0.9);Momentum(0.9);Momentum(0.9)")) == 3
    assert parse_inits("Xavier;He;None") == (InitSpec("xavier"), InitSpec("he"), InitSpec("none"))
    assert parse_numbers("3072;1024;1024;10", integer=True, low=1) == (3072, 1024, 1024, 10)
    assert parse_numbers("3072,1024,1024,10", integer=True, low=1) == (3072, 1024, 1024, 10)
    assert parse_numbers("0.05") == (0.05,)
    assert parse_numbers([0.1, 1]) == (0.1, 1.0)


def test_learning_rate_number_or_schedule():
    assert parse_learning_rate("0.01") == 0.01
    assert parse_learning_rate(0.5) == 0.5
    assert parse_learning_rate("Constant(0.01)") == ScheduleSpec("constant", lr=0.01)
    with pytest.raises(ConfigError, match=r"learning rate must be > 0, got -0\.1"):
        parse_learning_rate("-0.1")


# ---------------------------------------------------------------------- spec object behaviour


def test_spec_objects_are_frozen_hashable_and_canonical():
    a = OptimizerSpec("Nesterov", momentum=0.9)
    b = OptimizerSpec("nesterov", {"mu": 0.9})
    c = parse_optimizer("NESTEROV(0.9)")
    assert a == b == c and hash(a) == hash(c) and len({a, b, c}) == 1
    assert a.name == "nesterov"
    assert a.params == (("momentum", 0.9), ("weight_decay", 0.0))
    assert a["momentum"] == 0.9 and a.get("missing") is None and a.kwargs["weight_decay"] == 0.0
    with pytest.raises(KeyError, match="has no parameter 'eps'"):
        a["eps"]
    with pytest.raises(AttributeError):
        a.name = "sgd"  # type: ignore[misc]
    assert a.replace(momentum=0.5)["momentum"] == 0.5
    assert OptimizerSpec("sgd") != LossSpec("mse")
    assert OptimizerSpec("momentum") != GrowSpec("momentum")  # same name, other kind


def test_entries_know_linear_layers_and_defaults():
    assert parse_layer("ReLU").is_linear
    assert not parse_layer("BatchNormalization").is_linear
    assert not parse_layer("Dropout").is_linear
    assert parse_layer("Dropout")["p"] == 0.5
    assert parse_dst("SET").params == (("fraction", None), ("every", None), ("end", None))
    assert R.OPTIMIZERS.lookup("nesterov").signature() == "nesterov(momentum=0.9, weight_decay=0.0)"


def test_nested_spec_is_typed():
    w = parse_schedule("Warmup(Cosine(0.1, 1000), steps=5)")
    inner = w["schedule"]
    assert isinstance(inner, ScheduleSpec) and inner["total_steps"] == 1000
    assert ScheduleSpec("warmup", schedule="cosine(0.1)", steps=5) == parse_schedule(
        "warmup(cosine(0.1), 5)"
    )


def test_integral_float_accepted_for_int():
    assert parse_schedule("Cosine(0.1, 1e4)")["total_steps"] == 10000


def test_spec_class_and_parse_spec():
    assert spec_class("dst") is DSTSpec
    assert parse_spec("prune", "Magnitude(0.2)") == PruneSpec("magnitude", fraction=0.2)
    with pytest.raises(ConfigError, match="unknown spec kind 'foo'; valid: dst, grow, init"):
        spec_class("foo")


# ------------------------------------------------------------------ errors list valid names


def test_unknown_name_lists_valid_names():
    with pytest.raises(SpecError) as info:
        parse_optimizer("nesterof")
    msg = str(info.value)
    assert msg.startswith("unknown optimizer 'nesterof'")
    assert "did you mean 'nesterov'?" in msg
    assert msg.endswith("valid: adam, adamw, gradient_descent, momentum, nesterov, sgd, smet")


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_optimizer, "Nesterov(1.5)", "nesterov momentum must be in [0, 1), got 1.5"),
        (parse_optimizer, "Momentum(-0.1)", "momentum momentum must be in [0, 1), got -0.1"),
        (parse_optimizer, "Adam(eps=0)", "adam eps must be > 0, got 0.0"),
        (parse_optimizer, "Adam(betas=0.9)", "adam betas must have 2 values, got 1: [0.9]"),
        (
            parse_optimizer,
            "Adam(betas=[0.9, 1.0])",
            "adam betas[1] must be in [0, 1), got 1.0",
        ),
        (parse_optimizer, "SGD(-1)", "sgd weight_decay must be >= 0, got -1.0"),
        (parse_layer, "Dropout(1)", "dropout p must be in [0, 1), got 1.0"),
        (parse_layer, "TReLU", "trelu requires epsilon (a number >= 0), e.g. trelu(epsilon)"),
        (parse_prune, "Magnitude(1.5)", "magnitude fraction must be in [0, 1], got 1.5"),
        (parse_prune, "Magnitude", "magnitude requires fraction"),
        (parse_init, "Uniform(1, 0)", "uniform: a must be < b, got a=1.0, b=0.0"),
        (parse_init, "Normal(0, 0)", "normal std must be > 0, got 0.0"),
        (
            parse_schedule,
            "MultiStepLR(0.1; 75,50; 0.1)",
            "multistep milestones must be strictly increasing, got [75, 50]",
        ),
        (parse_schedule, "Cosine(0.1, 0)", "cosine total_steps must be >= 1, got 0"),
        (parse_schedule, "Cosine(0.1, 2.5)", "cosine total_steps must be an integer, got 2.5"),
        (parse_schedule, "Constant(abc)", "constant lr must be a number, got 'abc'"),
        (parse_schedule, "Warmup(Cosin(0.1), 5)", "unknown learning-rate schedule 'Cosin'"),
        (
            parse_dst,
            "RigL(decay=exp)",
            "rigl decay must be one of cosine, linear, constant, got 'exp'",
        ),
        (parse_dst, "GMP(start=0.9, end=0.1)", "gmp: start must be < end"),
        (parse_dst, "RigL(every=0)", "rigl every must be >= 1, got 0"),
        (
            parse_optimizer,
            "Nesterov(foo=1)",
            "unknown parameter 'foo' for nesterov; valid: momentum, weight_decay",
        ),
        (
            parse_optimizer,
            "Nesterov(0.9, 0, 3)",
            "nesterov takes at most 2 arguments (momentum, weight_decay), got 3",
        ),
        (parse_layer, "ReLU(1)", "relu takes no arguments, got 1"),
        (parse_layer, "ELU(1e400)", "elu alpha must be a finite number"),
        (parse_layer, "ELU(1" + "0" * 400 + ")", "elu alpha must be a finite number"),
        (parse_optimizer, "Nesterov(0.9, momentum=0.9)", "nesterov momentum given twice"),
    ],
)
def test_bad_values_name_the_range(parse, text, message):
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_sequence_errors_name_the_item():
    with pytest.raises(SpecError) as info:
        parse_layers("ReLU;Relux;Linear")
    err = info.value
    assert str(err).startswith("layer 2 of 3 in 'ReLU;Relux;Linear': unknown layer 'Relux'")
    assert "valid: all_relu, batch_norm" in str(err)
    assert err.column == 6  # pretty() puts the caret under "Relux"
    with pytest.raises(
        SpecError, match="layer 2 of 3 in 'ReLU;3;Linear': expected a layer name, got 3"
    ):
        parse_layers("ReLU;3;Linear")


def test_constructor_validates_too():
    with pytest.raises(ConfigError, match="nesterov momentum must be in"):
        OptimizerSpec("nesterov", momentum=2)
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        LossSpec("hinge")
    with pytest.raises(ConfigError, match="elu alpha must be a number, got true"):
        LayerSpec("elu", alpha=True)


# ------------------------------------------------------------------- hypothesis round trip


def values_for(c: R.Constraint, depth: int) -> st.SearchStrategy:
    if isinstance(c, R.Real):
        lo_in = c.closed in ("both", "left")
        hi_in = c.closed in ("both", "right")
        return st.floats(
            min_value=c.low,
            max_value=c.high,
            exclude_min=c.low is not None and not lo_in,
            exclude_max=c.high is not None and not hi_in,
            allow_nan=False,
            allow_infinity=False,
        ) | st.integers(
            min_value=None if c.low is None else int(c.low) + (0 if lo_in else 1),
            max_value=None if c.high is None else int(c.high) - (0 if hi_in else 1),
        ).filter(c.contains)
    if isinstance(c, R.Integer):
        lo = c.low if c.low is not None else -(10**6)
        return st.integers(min_value=lo, max_value=c.high if c.high is not None else lo + 10**9)
    if isinstance(c, R.Bool):
        return st.booleans()
    if isinstance(c, R.Choice):
        return st.sampled_from(c.options)
    if isinstance(c, R.Optional):
        return st.none() | values_for(c.inner, depth)
    if isinstance(c, R.ListOf):
        n = c.length
        items = st.lists(
            values_for(c.item, depth),
            min_size=n or c.min_length,
            max_size=n or 4,
            unique=c.increasing,
        )
        return items.map(lambda v: tuple(sorted(v)) if c.increasing else tuple(v))
    if isinstance(c, R.SpecOf):
        return specs(c.kind, depth + 1)
    if isinstance(c, R.PeriodOf):
        periods = st.builds(R.Period, st.integers(1, 1000), st.sampled_from(["step", "epoch"]))
        return st.integers(1, 1000) | periods
    raise AssertionError(c)


@st.composite
def _spec(draw, kind: str, depth: int):
    reg = R.REGISTRIES[kind]
    entries = [
        e for e in reg if depth < 2 or not any(isinstance(p.constraint, R.SpecOf) for p in e.params)
    ]
    entry = draw(st.sampled_from(entries))
    params = {}
    for p in entry.params:
        if p.required or draw(st.booleans()):
            params[p.name] = draw(values_for(p.constraint, depth))
    try:
        return spec_class(kind)(entry.name, params)
    except ConfigError:  # a cross-parameter check (a < b, min_lr <= lr, start < end)
        from hypothesis import reject

        reject()


def specs(kind: str, depth: int = 0) -> st.SearchStrategy:
    return _spec(kind, depth)


PARSERS = {
    "layer": parse_layer,
    "loss": parse_loss,
    "optimizer": parse_optimizer,
    "schedule": parse_schedule,
    "init": parse_init,
    "prune": parse_prune,
    "grow": parse_grow,
    "dst": parse_dst,
}


@pytest.mark.parametrize("kind", sorted(PARSERS))
@given(data=st.data())
def test_str_round_trips(kind, data):
    spec = data.draw(specs(kind))
    text = str(spec)
    assert PARSERS[kind](text) == spec
    assert "\n" not in text


def nerva_style(spec) -> str:
    """Another valid spelling: CamelCase alias, positional args, ';' and ',' lists."""
    entry = spec.entry
    name = "".join(part.capitalize() for part in (entry.aliases or (entry.name,))[-1].split("_"))
    values = [v for _, v in spec.params]
    while values and values[-1] is None:
        values.pop()
    if not values:
        return name

    def fmt(v):
        if isinstance(v, tuple) and len(v) >= 2:
            return ",".join(fmt(x) for x in v)
        if isinstance(v, (LayerSpec, ScheduleSpec)):
            return nerva_style(v)
        return R.format_value(v)

    sep = "; " if any(isinstance(v, tuple) and len(v) >= 2 for v in values) else ", "
    return f"{name}({sep.join(fmt(v) for v in values)})"


@pytest.mark.parametrize("kind", sorted(PARSERS))
@given(data=st.data())
def test_other_spellings_parse_to_the_same_spec(kind, data):
    spec = data.draw(specs(kind))
    assert PARSERS[kind](nerva_style(spec)) == spec
