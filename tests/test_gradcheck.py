"""The finite-difference helper has tests of its own, so it cannot rot silently."""

import numpy as np
import pytest

from gradcheck import assert_close, numerical_grad


def test_numerical_grad_of_known_function():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    A = rng.standard_normal((3, 4))
    g = numerical_grad(lambda: float(np.sum(A * np.sin(x))), x)
    assert_close(A * np.cos(x), g)


def test_detects_a_wrong_gradient():
    x = np.linspace(-1, 1, 5)
    g = numerical_grad(lambda: float(np.sum(x**3)), x)
    with pytest.raises(AssertionError):
        assert_close(2 * x**2, g)


def test_restores_input_and_rejects_float32():
    x = np.arange(4.0)
    before = x.copy()
    numerical_grad(lambda: float(np.sum(x**2)), x)
    assert np.array_equal(x, before)
    with pytest.raises(TypeError):
        numerical_grad(lambda: 0.0, x.astype(np.float32))
