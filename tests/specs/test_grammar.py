"""The spec grammar: good inputs (incl. every Nerva example), separators, errors with columns."""

from __future__ import annotations

import pytest

from sprig.errors import ConfigError
from sprig.specs.grammar import (
    Call,
    SpecError,
    format_node,
    parse_call,
    parse_sequence,
    parse_value,
)


def C(name, *args, **kwargs):
    return Call(name, tuple(args), tuple(kwargs.items()))


GOOD_CALLS = [
    ("ReLU", C("ReLU")),
    ("ReLU()", C("ReLU")),
    ("Nesterov(0.9)", C("Nesterov", 0.9)),
    ("Momentum(momentum=0.9)", C("Momentum", momentum=0.9)),
    ("SReLU(al=0,tl=0,ar=0,tr=1)", C("SReLU", al=0, tl=0, ar=0, tr=1)),
    ("SReLU(al=0, tl=0, ar=0, tr=1)", C("SReLU", al=0, tl=0, ar=0, tr=1)),
    ("TReLU(1e-30)", C("TReLU", 1e-30)),
    ("AllReLU(0.3)", C("AllReLU", 0.3)),
    ("LeakyReLU(-0.1)", C("LeakyReLU", -0.1)),
    ("f(.5, 1., +2, 1E3, 7)", C("f", 0.5, 1.0, 2, 1000.0, 7)),
    # ';' present: ';' separates, ',' builds lists
    ("MultiStepLR(0.1; 50,75; 0.1)", C("MultiStepLR", 0.1, (50, 75), 0.1)),
    ("MultistepLR(0.1;50,75;0.1)", C("MultistepLR", 0.1, (50, 75), 0.1)),
    ("Adam(betas=0.9,0.999; eps=1e-8)", C("Adam", betas=(0.9, 0.999), eps=1e-8)),
    ("f(1; 2)", C("f", 1, 2)),
    # no ';': ',' separates
    ("Adam(betas=[0.9, 0.999], eps=1e-8)", C("Adam", betas=(0.9, 0.999), eps=1e-8)),
    ("TimeBased(lr=0.1,decay=0.01)", C("TimeBased", lr=0.1, decay=0.01)),
    ("f([], [1])", C("f", (), (1,))),
    # nested calls; each level decides on its own separator
    ("Warmup(Cosine(0.1), 5)", C("Warmup", C("Cosine", 0.1), 5)),
    ("Warmup(MultiStep(0.1; 50,75; 0.1), 5)", C("Warmup", C("MultiStep", 0.1, (50, 75), 0.1), 5)),
    ("  Nesterov ( 0.9 )  ", C("Nesterov", 0.9)),
    ("f(1, k=x)", C("f", 1, k=C("x"))),
]


@pytest.mark.parametrize(("text", "expected"), GOOD_CALLS)
def test_parse_call(text, expected):
    call = parse_call(text)
    assert call == expected
    assert parse_call(format_node(call)) == call  # canonical text round-trips


def test_call_column_points_at_the_name():
    call = parse_call("Warmup(  Cosine(0.1), 5)")
    assert call.column == 1
    assert call.args[0].column == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ReLU;ReLU;Linear", (C("ReLU"), C("ReLU"), C("Linear"))),
        ("ReLU", (C("ReLU"),)),
        ("ReLU,ReLU,Linear", (C("ReLU"), C("ReLU"), C("Linear"))),
        (
            "ReLU;AllReLU(0.3);SReLU(al=0,tl=0,ar=0,tr=1);Linear",
            (C("ReLU"), C("AllReLU", 0.3), C("SReLU", al=0, tl=0, ar=0, tr=1), C("Linear")),
        ),
        ("Momentum(0.9);Nesterov(0.9)", (C("Momentum", 0.9), C("Nesterov", 0.9))),
        ("3072;1024;1024;10", (3072, 1024, 1024, 10)),
        ("3072,1024,1024,10", (3072, 1024, 1024, 10)),
        ("0.5;0.25", (0.5, 0.25)),
        ("1", (1,)),
        ("1;2,3", (1, (2, 3))),  # ';' mode: ',' groups (a typed list later rejects it)
    ],
)
def test_parse_sequence(text, expected):
    assert parse_sequence(text) == expected


def test_parse_value():
    assert parse_value("[1, 2.5, x]") == (1, 2.5, C("x"))
    assert parse_value("-3") == -3


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("Nesterov(0.9))", "unexpected ')'", 14),
        ("Nesterov(0.9", "unclosed '('", 9),
        ("a(b(1)", "unclosed '('", 2),
        ("a([1,2)", "unexpected ')'", 7),
        ("a(1,,2)", "unexpected ','", 5),
        ("a(1,)", "unexpected ')'", 5),
        ("a(;)", "unexpected ';'", 3),
        ("a(x=1, 2)", "positional argument after keyword argument", 8),
        ("a(x=1, x=2)", "duplicate keyword 'x'", 8),
        ("a(1 2)", "unexpected '2'", 5),
        ("1e", "malformed number '1e'", 1),
        ("a(0.9x)", "malformed number '0.9x'", 3),
        ("a(1.2.3)", "unexpected '.3'", 6),
        ("a(#)", "unexpected character '#'", 3),
        ("(1)", "unexpected '('", 1),
        ("a(=1)", "unexpected '='", 3),
    ],
)
def test_call_errors_have_position(text, message, column):
    with pytest.raises(SpecError) as info:
        parse_call(text)
    err = info.value
    assert message in str(err)
    assert err.column == column
    assert f"at column {column} in {text!r}" in str(err)
    assert "\n" not in str(err)
    caret = err.pretty().splitlines()
    assert caret[1].strip() == text.strip()
    assert caret[2].index("^") == caret[1].index(text[0]) + column - 1


def test_specerror_is_a_config_error():
    assert issubclass(SpecError, ConfigError)
    assert issubclass(SpecError, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty spec"),
        ("   ", "empty spec"),
        ("ReLU;Linear", "expected one spec, found a list"),
        ("3", "unexpected '3' (expected a name)"),
    ],
)
def test_parse_call_rejects(text, message):
    with pytest.raises(SpecError) as info:
        parse_call(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ReLU;;Linear", "unexpected ';'"),
        ("ReLU;", "unexpected end of input"),
        ("a=1", "keyword arguments are only allowed inside parentheses"),
        ("ReLU)", "unexpected ')'"),
    ],
)
def test_parse_sequence_rejects(text, message):
    with pytest.raises(SpecError) as info:
        parse_sequence(text)
    assert message in str(info.value)


def test_non_string_input():
    with pytest.raises(SpecError, match="must be a string"):
        parse_call(3)  # type: ignore[arg-type]
