"""Register beside the implementation: one declaration feeds the parser, the builder, the
Python class's own validation and the help text."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from sprig.activations.base import Activation
from sprig.errors import ConfigError
from sprig.optimizers import Adam, Momentum
from sprig.specs import registry as R
from sprig.specs.types import parse_layers, parse_optimizer
from sprig.training.build import build_mlp


@pytest.mark.parametrize("kind", sorted(R.REGISTRIES))
def test_every_entry_has_an_implementation_and_its_defaults(kind):
    for entry in R.REGISTRIES[kind]:
        assert entry.factory is not None, entry.name
        sig = {**R._signature(entry.factory), **R._signature(entry.build)}
        for p in entry.params:
            q = sig.get(p.name)
            if p.default is None or q is None or q.default is inspect.Parameter.empty:
                continue
            assert p.default == q.default or p.required, (entry.name, p.name)


def test_python_and_spec_validate_alike():
    """Adam's eps was checked as >= 0 by the class and > 0 by the spec; one rule now."""
    with pytest.raises(ConfigError) as spec_err:
        parse_optimizer("Adam(eps=0)")
    with pytest.raises(ConfigError) as class_err:
        Adam(eps=0.0)
    assert str(spec_err.value) == str(class_err.value) == "adam eps must be > 0, got 0.0"
    with pytest.raises(ConfigError, match=r"momentum momentum must be in \[0, 1\)"):
        Momentum(momentum=1.0)
    assert Adam(betas=[0.8, 0.9]).betas == (0.8, 0.9)  # canonicalized as the spec does


def test_new_activation_needs_only_its_own_declaration():
    """An activation registered where it is defined is usable from specs right away."""

    @R.LAYERS.register("cube", R.Param("scale", R.POSITIVE), doc="scale x^3", role="activation")
    @dataclass(frozen=True)
    class Cube(Activation):
        name: ClassVar[str] = "cube"
        scale: float = 1.0

        def value(self, Z):
            return self.scale * Z**3

        def derivative(self, Z, Y):
            return 3 * self.scale * Z**2

    try:
        specs = parse_layers("Cube(scale=2);Linear")
        assert str(specs[0]) == "cube(scale=2.0)"
        model = build_mlp(specs, [4, 3, 2], [1.0, 1.0], rng=np.random.default_rng(0))
        assert model.predict(np.ones((2, 4), np.float32)).shape == (2, 2)
        assert "cube(scale=1.0)" in R.help_text("layer")
        with pytest.raises(ConfigError, match="cube scale must be > 0"):
            parse_layers("Cube(-1);Linear")
    finally:
        R.LAYERS.unregister("cube")
    assert "cube" not in R.LAYERS


def test_dst_help_lists_every_algorithm_with_parameters():
    text = R.help_text("dst")
    for name in ("static", "set(", "rigl(", "gmp(", "granet(", "mest(", "snfs(", "magran("):
        assert name in text
    assert "rigl(fraction=0.3, every=100, end=0.75, decay=cosine)" in text
