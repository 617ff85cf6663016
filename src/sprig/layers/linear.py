r"""Affine layers: dense :class:`Linear` and truly sparse :class:`SparseLinear`.

Both compute, in the feature-major layout (``X: (D, N)``, ``W: (K, D)``, ``Y: (K, N)``)::

    Forward:   Y  = W X + b 1ᵀ
    Backward:  dW = dY Xᵀ          (SparseLinear: only at W's stored positions, an SDDMM)
               db = dY 1
               dX = Wᵀ dY

and share one implementation of DropConnect (Wan et al. 2013) on the weights: with drop
probability ``p`` (the probability that a weight is *dropped*), each training forward draws a
mask ``R`` with ``R_ij ~ Bernoulli(1 − p) / (1 − p)`` over the stored weights and uses
``W ⊙ R`` in place of ``W`` — forward, ``dX = (W ⊙ R)ᵀ dY`` and ``dW = (dY Xᵀ) ⊙ R``.
Evaluation uses ``W`` itself (the inverted scaling makes ``E[W ⊙ R] = W``). Nerva's
"dropout" on weights uses ``p`` as a *keep* probability and keeps one mask per epoch; here
``p`` means drop and the mask is fresh for every batch.

Costs: Linear ``O(N · K · D)`` per product (BLAS); SparseLinear ``O(N · nnz)`` per product with
no ``K × D`` intermediate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..matrices.csr import CSRMatrix
from ..matrices.remap import Remap
from ..specs.registry import LAYERS
from ..typing import FloatArray, check_float_dtype
from .base import Backprop, Param, check_input


@LAYERS.register("linear", aliases=("identity", "no_activation"), doc="linear layer, no activation")
def no_activation() -> None:
    """The linear map alone: nothing follows it."""
    return None


#: ``(n, fan_in, fan_out, rng) -> values (n,)``; ``fan_in`` may be per entry.
InitFn = Callable[[int, Any, float, np.random.Generator], FloatArray]


def default_init(n: int, fan_in: Any, fan_out: float, rng: np.random.Generator) -> FloatArray:
    """Nerva's ``Xavier``: ``U(−1/√fan_in, 1/√fan_in)``."""
    limit = 1.0 / np.sqrt(np.maximum(fan_in, 1))
    return rng.uniform(-1.0, 1.0, size=n) * limit


def _check_features(in_features: int, out_features: int) -> None:
    for name, v in (("in_features", in_features), ("out_features", out_features)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _check_drop(p: float) -> float:
    if not (0.0 <= p < 1.0):
        raise ValueError(f"drop_connect must be in [0, 1), got {p!r}")
    return float(p)


class _AffineBase:
    """Shared parameter handling and DropConnect for the dense and sparse affine layers."""

    in_features: int
    out_features: int
    dtype: np.dtype[Any]
    bias: FloatArray | None
    bias_grad: FloatArray | None
    drop_connect: float
    rng: np.random.Generator

    def _init_bias(self, bias: bool) -> None:
        self.bias = np.zeros(self.out_features, self.dtype) if bias else None
        self.bias_grad = np.zeros(self.out_features, self.dtype) if bias else None

    def _mask(self, shape: tuple[int, ...]) -> FloatArray:
        keep = 1.0 - self.drop_connect
        scale = self.dtype.type(1.0 / keep)
        return (self.rng.random(shape) < keep).astype(self.dtype) * scale

    def _bias_params(self) -> dict[str, Param]:
        if self.bias is None or self.bias_grad is None:
            return {}
        return {"bias": Param(self.bias, self.bias_grad)}


class Linear(_AffineBase):
    r"""Dense affine layer ``Y = W X + b 1ᵀ`` with ``W`` a dense ``(out, in)`` array.

    Args:
        in_features, out_features: D and K.
        bias: learn a bias ``b`` (initialised to 0).
        init: weight initializer ``(n, fan_in, fan_out, rng) -> values``; default Xavier.
        drop_connect: DropConnect drop probability ``p`` in ``[0, 1)`` (module docstring).
        rng: generator for initialisation and DropConnect masks.
        dtype: float32 (default) or float64.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        init: InitFn | None = None,
        drop_connect: float = 0.0,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float32,
    ) -> None:
        _check_features(in_features, out_features)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.dtype = check_float_dtype(dtype)
        self.drop_connect = _check_drop(drop_connect)
        self.rng = rng if rng is not None else np.random.default_rng()
        values = (init or default_init)(
            self.out_features * self.in_features, self.in_features, self.out_features, self.rng
        )
        self.weight = np.asarray(values, self.dtype).reshape(self.out_features, self.in_features)
        self.weight_grad = np.zeros_like(self.weight)
        self._init_bias(bias)

    def __repr__(self) -> str:
        extra = f", drop_connect={self.drop_connect}" if self.drop_connect else ""
        return (
            f"Linear({self.in_features}, {self.out_features}, bias={self.bias is not None}{extra})"
        )

    @property
    def nnz(self) -> int:
        """Number of weights (all stored)."""
        return int(self.weight.size)

    def params(self) -> Mapping[str, Param]:
        """``weight`` (dense ``(out, in)``) and ``bias``."""
        return {"weight": Param(self.weight, self.weight_grad), **self._bias_params()}

    def forward(
        self, X: FloatArray, *, train: bool, input_grad: bool = True
    ) -> tuple[FloatArray, Backprop]:
        """``Y = W X + b 1ᵀ`` (module docstring)."""
        check_input(X, self.in_features, self.dtype, self)
        W, gW, b, gb = self.weight, self.weight_grad, self.bias, self.bias_grad
        R = self._mask(W.shape) if (train and self.drop_connect) else None
        We = W if R is None else W * R
        Y = We @ X
        if b is not None:
            Y += b[:, None]

        def backprop(dY: FloatArray) -> FloatArray | None:
            np.matmul(dY, X.T, out=gW)
            if R is not None:
                np.multiply(gW, R, out=gW)
            if gb is not None:
                np.sum(dY, axis=1, out=gb)
            return We.T @ dY if input_grad else None

        return Y, backprop


class SparseLinear(_AffineBase):
    r"""Truly sparse affine layer: ``W`` is a :class:`CSRMatrix` and never densified.

    The weight gradient exists only at the stored positions (``weight_grad`` is aligned with
    ``weight.data``), and so does all optimizer state.

    Args:
        in_features, out_features: D and K.
        density: fraction of stored weights in ``(0, 1]`` (exact count
            ``round(density · K · D)``), or
        nnz: exact number of stored weights, or
        weight: an existing :class:`CSRMatrix` of shape ``(out, in)`` (values kept).
        bias: learn a bias (initialised to 0).
        init: initializer ``(n, fan_in, fan_out, rng) -> values`` for the stored entries;
            default Xavier.
        fan_in: ``"actual"`` (default) uses the number of stored entries in the entry's row
            as its fan-in, which keeps a sparse unit's pre-activation variance at the level
            the initializer designs for; ``"dense"`` uses ``in_features`` (Nerva), which
            shrinks the initial signal by ``√density`` per layer (at 1 % density a static
            LeNet-300-100 then did not train in 3 epochs; docs/results.md §4b).
        drop_connect: DropConnect drop probability in ``[0, 1)`` over the stored weights.
        rng: generator for the support, the values and DropConnect masks.
        dtype: float32 (default) or float64.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        density: float | None = None,
        nnz: int | None = None,
        weight: CSRMatrix | None = None,
        bias: bool = True,
        init: InitFn | None = None,
        fan_in: str = "actual",
        drop_connect: float = 0.0,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float32,
    ) -> None:
        _check_features(in_features, out_features)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.dtype = check_float_dtype(dtype)
        self.drop_connect = _check_drop(drop_connect)
        self.rng = rng if rng is not None else np.random.default_rng()
        if fan_in not in ("dense", "actual"):
            raise ValueError(f"fan_in must be 'dense' or 'actual', got {fan_in!r}")
        shape = (self.out_features, self.in_features)
        if weight is not None:
            if density is not None or nnz is not None:
                raise ValueError("give weight= or density=/nnz=, not both")
            if weight.shape != shape:
                raise ValueError(f"weight has shape {weight.shape}, expected {shape}")
            W = weight.astype(self.dtype) if weight.dtype != self.dtype else weight
        else:
            if (density is None) == (nnz is None):
                raise ValueError("give exactly one of density= or nnz= (or weight=)")
            W = CSRMatrix.random(shape, nnz=nnz, density=density, rng=self.rng, dtype=self.dtype)
            fi: Any = (
                float(self.in_features)
                if fan_in == "dense"
                else np.repeat(np.diff(W.indptr).astype(np.float64), np.diff(W.indptr))
            )
            vals = (init or default_init)(W.nnz, fi, float(self.out_features), self.rng)
            W.data[:] = np.asarray(vals, dtype=self.dtype)
        self.weight = W
        self.weight_grad = np.zeros(W.nnz, self.dtype)
        self._init_bias(bias)

    def __repr__(self) -> str:
        extra = f", drop_connect={self.drop_connect}" if self.drop_connect else ""
        return (
            f"SparseLinear({self.in_features}, {self.out_features}, nnz={self.nnz}, "
            f"density={self.weight.density:.4g}, bias={self.bias is not None}{extra})"
        )

    #: The backend seam (:mod:`sprig.backend`) the three products go through; the NumPy/Numba
    #: implementation (its topology object is the :class:`CSRMatrix` itself).
    ops: Any = None

    @property
    def nnz(self) -> int:
        """Number of stored weights."""
        return self.weight.nnz

    def params(self) -> Mapping[str, Param]:
        """``weight`` (the CSR values, per entry) and ``bias``."""
        return {
            "weight": Param(self.weight.data, self.weight_grad, per_entry=True),
            **self._bias_params(),
        }

    def set_weight(self, weight: CSRMatrix, remap: Remap) -> None:
        """Install an edited weight; the gradient buffer is carried through ``remap``.

        Only the trainer's topology update calls this; optimizer state is remapped there.
        """
        if weight.shape != self.weight.shape or weight.dtype != self.dtype:
            raise ValueError(f"edited weight {weight} does not match {self.weight}")
        if remap.old_nnz != self.weight.nnz or remap.new_nnz != weight.nnz:
            raise ValueError("remap does not connect the old and new weights")
        self.weight_grad = remap.apply(self.weight_grad, fill=0.0)
        self.weight = weight

    def forward(
        self,
        X: FloatArray,
        *,
        train: bool,
        input_grad: bool = True,
        activation: str | None = None,
    ) -> tuple[FloatArray, Backprop]:
        """``Y = W X + b 1ᵀ`` in ``O(N · nnz)`` (module docstring).

        ``activation="relu"`` fuses the following ReLU: ``Y = max(W X + b 1ᵀ, 0)`` comes out of
        the product kernel (no extra pass, no pre-activation array kept), and ``backprop(dY)``
        takes the gradient with respect to that ``Y``: it applies the ReLU derivative
        ``dZ = dY ⊙ 1[Y > 0]`` **in place on dY** inside the weight-gradient kernel, then
        ``dW``, ``db`` and ``dX`` use ``dZ``. :class:`~sprig.layers.Sequential` pairs
        ``SparseLinear`` with a directly following ``ActivationLayer(ReLU())`` this way (not
        in forward passes that record taps) and never hands it the caller's gradient array.
        """
        check_input(X, self.in_features, self.dtype, self)
        if activation not in (None, "relu"):
            raise ValueError(f"activation must be None or 'relu', got {activation!r}")
        relu = activation == "relu"
        if not X.flags.c_contiguous:
            X = np.ascontiguousarray(X)
        W, gW, b, gb = self.weight, self.weight_grad, self.bias, self.bias_grad
        ops = self.ops
        R = self._mask((W.nnz,)) if (train and self.drop_connect) else None
        We = W.data if R is None else W.data * R
        Y = ops.spmm(W, We, X, b, relu=relu)

        def backprop(dY: FloatArray) -> FloatArray | None:
            if not dY.flags.c_contiguous:
                dY = np.ascontiguousarray(dY)
            # db = dY 1 (and the fused ReLU's derivative) in the same pass; with the input
            # gradient, both products in one pass (ops.backward)
            mask = Y if relu else None
            dX = None
            if input_grad:
                dX = ops.backward(W, We, dY, X, out=gW, row_sums=gb, mask=mask)[1]
            else:
                ops.sddmm(W, dY, X, out=gW, row_sums=gb, mask=mask)
            if R is not None:
                np.multiply(gW, R, out=gW)
            return dX

        return Y, backprop


def _numpy_ops() -> Any:
    from ..backend.numpy import NumpyOps

    return NumpyOps()


SparseLinear.ops = _numpy_ops()
