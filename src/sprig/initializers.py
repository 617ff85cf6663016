r"""Weight initializers: ``init(n, fan_in, fan_out, rng) -> float64 values (n,)``.

``fan_in`` (``D``, in-features) and ``fan_out`` (``K``, out-features) are scalars for dense
layers; for sparse layers they may be per-entry arrays: the actual fan-in of each stored
entry's row (and fan-out of its column), see :func:`init_sparse_values`. For sparse layers only
the stored entries are drawn, so the cost is ``O(nnz)``.

Biases: :meth:`AbstractInitializer.bias` gives zeros for every initializer except
:class:`PyTorch` (``U(±1/√D)``, as ``torch.nn.Linear``).

All initializers are frozen dataclasses with a registry ``name``; ``REGISTRY`` maps names to
classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from .matrices import CSRMatrix
from .specs.registry import ANY, INITIALIZERS, POSITIVE, Param
from .typing import FloatArray, check_float_dtype

__all__ = [
    "REGISTRY",
    "AbstractInitializer",
    "He",
    "HeNormal",
    "HeUniform",
    "Normal",
    "PyTorch",
    "Uniform",
    "Xavier",
    "XavierNormal",
    "XavierNormalized",
    "XavierUniform",
    "Zero",
    "init_dense",
    "init_sparse_values",
]

Fan = float | FloatArray


def _fan(name: str, fan: Any, n: int) -> Any:
    """``fan`` as a float or a float64 ``(n,)`` array, checked ``> 0``."""
    arr = np.asarray(fan, dtype=np.float64)
    if arr.ndim == 0:
        if not (math.isfinite(float(arr)) and float(arr) > 0):
            raise ValueError(f"{name} must be > 0, got {fan!r}")
        return float(arr)
    if arr.shape != (n,):
        raise ValueError(f"per-entry {name} must have shape ({n},), got {arr.shape}")
    if n and not (np.all(arr > 0) and np.all(np.isfinite(arr))):
        raise ValueError(f"per-entry {name} must be > 0 everywhere, got min {arr.min()!r}")
    return arr


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    return int(n)


class AbstractInitializer:
    """Base of the initializers: ``init`` draws weights, ``bias`` draws biases (zeros)."""

    name: ClassVar[str]

    def init(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        """``n`` float64 weight values for entries with the given fan-in and fan-out."""
        n = _check_n(n)
        return self._draw(n, fan_in, fan_out, rng)

    def __call__(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        """Same as :meth:`init`, so an initializer is also a plain function
        ``(n, fan_in, fan_out, rng) -> values`` (the layers' ``init=`` argument)."""
        return self.init(n, fan_in, fan_out, rng)

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        raise NotImplementedError

    def bias(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        """``n`` float64 bias values (zeros unless the initializer says otherwise)."""
        return np.zeros(_check_n(n), dtype=np.float64)


def _uniform(n: int, bound: Any, rng: np.random.Generator) -> FloatArray:
    return rng.uniform(-1.0, 1.0, n) * bound  # type: ignore[no-any-return]


def _normal(n: int, std: Any, rng: np.random.Generator) -> FloatArray:
    return rng.standard_normal(n) * std  # type: ignore[no-any-return]


@INITIALIZERS.register("xavier", doc="U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Nerva Xavier)")
@dataclass(frozen=True)
class Xavier(AbstractInitializer):
    r"""Nerva's ``Xavier``: ``U(−1/√D, 1/√D)`` with ``D`` = fan-in."""

    name: ClassVar[str] = "xavier"

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        return _uniform(n, 1.0 / np.sqrt(_fan("fan_in", fan_in, n)), rng)


@INITIALIZERS.register("xavier_normalized", doc="U(±sqrt(6/(fan_in + fan_out))) (Nerva)")
@dataclass(frozen=True)
class XavierNormalized(AbstractInitializer):
    r"""Nerva's ``XavierNormalized`` (Glorot uniform): ``U(±√6/√(D + K))``."""

    name: ClassVar[str] = "xavier_normalized"

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        total = _fan("fan_in", fan_in, n) + _fan("fan_out", fan_out, n)
        return _uniform(n, np.sqrt(6.0 / total), rng)


@INITIALIZERS.register(
    "xavier_uniform", aliases=("glorot_uniform",), doc="U(±sqrt(6/(fan_in + fan_out)))"
)
@dataclass(frozen=True)
class XavierUniform(XavierNormalized):
    r"""Glorot uniform ``U(±√(6/(D + K)))`` (``torch.nn.init.xavier_uniform_``); the same
    distribution as :class:`XavierNormalized` under its PyTorch / Keras name."""

    name: ClassVar[str] = "xavier_uniform"


@INITIALIZERS.register(
    "xavier_normal", aliases=("glorot_normal",), doc="N(0, sqrt(2/(fan_in + fan_out)))"
)
@dataclass(frozen=True)
class XavierNormal(AbstractInitializer):
    r"""Glorot normal ``N(0, σ²)``, ``σ = √(2/(D + K))`` (``torch.nn.init.xavier_normal_``)."""

    name: ClassVar[str] = "xavier_normal"

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        total = _fan("fan_in", fan_in, n) + _fan("fan_out", fan_out, n)
        return _normal(n, np.sqrt(2.0 / total), rng)


@INITIALIZERS.register("he", doc="N(0, sqrt(2/fan_in)) (Nerva He)")
@dataclass(frozen=True)
class He(AbstractInitializer):
    r"""He (Kaiming) normal ``N(0, σ²)``, ``σ = √(2/D)`` (Nerva's ``He``)."""

    name: ClassVar[str] = "he"

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        return _normal(n, np.sqrt(2.0 / _fan("fan_in", fan_in, n)), rng)


@INITIALIZERS.register("he_normal", aliases=("kaiming_normal",), doc="N(0, sqrt(2/fan_in))")
@dataclass(frozen=True)
class HeNormal(He):
    r"""He normal ``N(0, 2/D)``; the same distribution as :class:`He` (Keras's name)."""

    name: ClassVar[str] = "he_normal"


@INITIALIZERS.register("he_uniform", aliases=("kaiming_uniform",), doc="U(±sqrt(6/fan_in))")
@dataclass(frozen=True)
class HeUniform(AbstractInitializer):
    r"""He uniform ``U(±√(6/D))`` (``torch.nn.init.kaiming_uniform_`` with ``a = 0``)."""

    name: ClassVar[str] = "he_uniform"

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        return _uniform(n, np.sqrt(6.0 / _fan("fan_in", fan_in, n)), rng)


def _uniform_check(kw: Any) -> str | None:
    return None if kw["a"] < kw["b"] else f"a must be < b, got a={kw['a']!r}, b={kw['b']!r}"


@INITIALIZERS.register(
    "uniform",
    Param("a", ANY, doc="low"),
    Param("b", ANY, doc="high"),
    check=_uniform_check,
    doc="U(a, b); Nerva's Uniform is U(-1, 1)",
)
@dataclass(frozen=True)
class Uniform(AbstractInitializer):
    r"""``U(a, b)``, independent of the fans.

    Args:
        a: lower bound.
        b: upper bound, ``> a``.
    """

    name: ClassVar[str] = "uniform"
    a: float = -1.0
    b: float = 1.0

    def __post_init__(self) -> None:
        INITIALIZERS.validate(self)

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        return rng.uniform(float(self.a), float(self.b), n)


@INITIALIZERS.register("normal", Param("mean", ANY), Param("std", POSITIVE), doc="N(mean, std)")
@dataclass(frozen=True)
class Normal(AbstractInitializer):
    r"""``N(mean, std²)``, independent of the fans.

    Args:
        mean: the mean.
        std: the standard deviation, ``> 0``.
    """

    name: ClassVar[str] = "normal"
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        INITIALIZERS.validate(self)

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        return rng.normal(float(self.mean), float(self.std), n)


@INITIALIZERS.register("zero", aliases=("zeros",), doc="all zero")
@dataclass(frozen=True)
class Zero(AbstractInitializer):
    r"""All zeros (draws nothing from ``rng``)."""

    name: ClassVar[str] = "zero"

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        return np.zeros(n, dtype=np.float64)


@INITIALIZERS.register("pytorch", doc="U(±1/sqrt(fan_in)) weights and biases, as torch.nn.Linear")
@dataclass(frozen=True)
class PyTorch(AbstractInitializer):
    r"""The default of ``torch.nn.Linear``: weights and biases ``U(±1/√D)``.

    PyTorch draws weights with ``kaiming_uniform_(a=√5)``: gain ``√(2/(1 + 5)) = √(1/3)``,
    bound ``gain·√(3/D) = 1/√D``; biases ``U(±1/√D)`` too. (Nerva's C++ ``PyTorch``
    initializer is :class:`XavierNormalized` with biases 0.01; this class follows PyTorch.)
    """

    name: ClassVar[str] = "pytorch"

    def _draw(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        return _uniform(n, 1.0 / np.sqrt(_fan("fan_in", fan_in, n)), rng)

    def bias(self, n: int, fan_in: Fan, fan_out: Fan, rng: np.random.Generator) -> FloatArray:
        """``U(±1/√D)``, as ``torch.nn.Linear``."""
        n = _check_n(n)
        return _uniform(n, 1.0 / np.sqrt(_fan("fan_in", fan_in, n)), rng)


@INITIALIZERS.register("none", doc="leave values as they are (Nerva's default for --layer-weights)")
def keep_values() -> Any:
    """Nerva's "leave the values as they are": a freshly allocated layer holds zeros."""
    return lambda n, fan_in, fan_out, rng: np.zeros(n)


#: Spec name -> initializer class: every class registered above (``none`` is a function).
REGISTRY: dict[str, type[AbstractInitializer]] = {
    name: cls for name, cls in INITIALIZERS.implementations().items() if isinstance(cls, type)
}


def init_sparse_values(
    W: CSRMatrix,
    init: AbstractInitializer,
    rng: np.random.Generator,
    *,
    fan_in: Literal["dense", "actual"] = "dense",
) -> FloatArray:
    r"""Values for the stored entries of ``W`` (``(nnz,)``, ``W.dtype``), ready for
    ``W.with_data``.

    Args:
        W: the sparse weight ``(K, D)``; only its topology is used.
        init: the initializer.
        rng: the random generator.
        fan_in: ``"dense"``: every entry uses the dense fans ``D = W.shape[1]`` and
            ``K = W.shape[0]``. ``"actual"``: each entry uses the number of stored entries in
            its row as fan-in and in its column as fan-out (so a sparse layer's pre-activation
            variance matches the dense case; entries exist only in non-empty rows and columns,
            so the fans are ``>= 1``).

    Raises:
        ValueError: for an unknown ``fan_in`` mode.
    """
    K, D = W.shape
    if fan_in == "dense":
        fi: Any = float(D)
        fo: Any = float(K)
    elif fan_in == "actual":
        fi = np.diff(W.indptr).astype(np.float64)[W.row_of]
        fo = np.bincount(W.indices, minlength=D).astype(np.float64)[W.indices]
    else:
        raise ValueError(f"fan_in must be 'dense' or 'actual', got {fan_in!r}")
    if W.nnz == 0:
        return np.zeros(0, dtype=W.dtype)
    return init.init(W.nnz, fi, fo, rng).astype(W.dtype, copy=False)


def init_dense(
    shape: tuple[int, int],
    init: AbstractInitializer,
    rng: np.random.Generator,
    dtype: Any = np.float32,
) -> FloatArray:
    r"""A dense ``(K, D)`` weight (``out_features, in_features``) with fans ``D`` and ``K``.

    Raises:
        ValueError: if ``shape`` is not a pair of non-negative integers or ``dtype`` is not
            float32/float64.
    """
    if (
        not isinstance(shape, tuple | list)
        or len(shape) != 2
        or not all(isinstance(s, int | np.integer) and s >= 0 for s in shape)
    ):
        raise ValueError(f"shape must be (out_features, in_features), got {shape!r}")
    K, D = int(shape[0]), int(shape[1])
    dt = check_float_dtype(dtype)
    if K * D == 0:
        return np.zeros((K, D), dtype=dt)
    return init.init(K * D, D, K, rng).reshape(K, D).astype(dt, copy=False)
