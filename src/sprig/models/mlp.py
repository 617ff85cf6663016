"""The multilayer perceptron: a :class:`Sequential` with a batch-first public face.

:class:`MLP` is the boundary between the user's batch-first arrays ``(N, features)`` and the
feature-major layout the layers compute in; it transposes once on the way in and once on the
way out. It owns no training logic (that is :mod:`sprig.training`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import CheckpointError, DataError
from ..io import load_npz, save_npz
from ..layers.base import Backprop, Layer, Param
from ..layers.linear import Linear, SparseLinear
from ..layers.sequential import Sequential, Taps
from ..matrices import kernels
from ..matrices.csr import CSRMatrix
from ..matrices.remap import Remap
from ..typing import FloatArray

WEIGHTS_FORMAT = "sprig-weights-1"


class MLP:
    """A sequential network of dense and sparse layers.

    Args:
        layers: the layers, in order (feature-major :class:`~sprig.layers.base.Layer` s).

    Examples:
        >>> import numpy as np
        >>> from sprig.layers import SparseLinear, ActivationLayer
        >>> from sprig.activations import ReLU
        >>> rng = np.random.default_rng(0)
        >>> model = MLP([SparseLinear(4, 8, density=0.5, rng=rng),
        ...              ActivationLayer(ReLU(), 8), SparseLinear(8, 3, density=0.5, rng=rng)])
        >>> model.predict(np.ones((2, 4), np.float32)).shape
        (2, 3)
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.net = Sequential(layers)
        linear = [layer for layer in self.net if isinstance(layer, Linear | SparseLinear)]
        if not linear:
            raise ValueError("an MLP needs at least one Linear or SparseLinear layer")
        self.in_features = linear[0].in_features
        self.out_features = linear[-1].out_features
        self.dtype = linear[0].dtype

    def __repr__(self) -> str:
        return f"MLP({self.net!r})"

    # ------------------------------------------------------------------ computation
    def _to_fm(self, X: Any) -> FloatArray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise DataError(f"expected input of shape (N, {self.in_features}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise DataError("input contains NaN or infinite values")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        return kernels.gather_transpose(X, np.arange(X.shape[0]))

    def forward(self, X: Any, *, train: bool = False) -> tuple[FloatArray, Backprop]:
        """Batch-first forward: ``X (N, in)`` → ``Y (N, out)`` and ``backprop(dY) -> dX``."""
        Y, bp = self.net.forward(self._to_fm(X), train=train)

        def backprop(dY: FloatArray) -> FloatArray | None:
            dY = np.asarray(dY, dtype=self.dtype)
            if dY.shape != Y.T.shape:
                raise ValueError(f"dY must have shape {Y.T.shape}, got {dY.shape}")
            dX = bp(np.ascontiguousarray(dY.T))
            return None if dX is None else np.ascontiguousarray(dX.T)

        return np.ascontiguousarray(Y.T), backprop

    def forward_fm(
        self, Xt: FloatArray, *, train: bool, input_grad: bool = False, taps: Taps | None = None
    ) -> tuple[FloatArray, Backprop]:
        """Feature-major forward used by the trainer (no transposes, no input gradient)."""
        return self.net.forward(Xt, train=train, input_grad=input_grad, taps=taps)

    def predict(self, X: Any, *, batch_size: int = 1024) -> FloatArray:
        """Network outputs ``(N, out)`` in evaluation mode, computed in batches."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise DataError(f"expected input of shape (N, {self.in_features}), got {X.shape}")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        out = np.empty((X.shape[0], self.out_features), dtype=self.dtype)
        widest = max(max(la.in_features, la.out_features) for la in self.linear_layers().values())
        batch_size = kernels.eval_rows(batch_size, widest, X.itemsize)  # bounded memory
        for s in range(0, X.shape[0], batch_size):
            idx = np.arange(s, min(s + batch_size, X.shape[0]))
            Y, _ = self.net.forward(kernels.gather_transpose(X, idx), train=False, input_grad=False)
            out[idx] = Y.T
        return out

    def predict_classes(self, X: Any, *, batch_size: int = 1024) -> Any:
        """``argmax`` of :meth:`predict` along the class axis."""
        return np.argmax(self.predict(X, batch_size=batch_size), axis=1)

    # ------------------------------------------------------------------ parameters
    def params(self) -> Mapping[str, Param]:
        """All trainable parameters, named ``"<layer index>.<name>"``."""
        return self.net.params()

    def sparse_layers(self) -> dict[int, SparseLinear]:
        """The truly sparse layers by index."""
        return {i: layer for i, layer in enumerate(self.net) if isinstance(layer, SparseLinear)}

    def linear_layers(self) -> dict[int, Linear | SparseLinear]:
        """Dense and sparse affine layers by index."""
        return {i: la for i, la in enumerate(self.net) if isinstance(la, Linear | SparseLinear)}

    def replace_weight(self, index: int, weight: CSRMatrix, remap: Remap) -> None:
        """Install an edited sparse weight in layer ``index`` (see ``SparseLinear.set_weight``)."""
        layer = self.net[index]
        if not isinstance(layer, SparseLinear):
            raise TypeError(f"layer {index} is not sparse")
        layer.set_weight(weight, remap)

    def count(self) -> dict[str, int]:
        """Parameter counts and bytes: stored weights, dense-equivalent size, memory."""
        nnz = dense = nbytes = 0
        for layer in self.linear_layers().values():
            nnz += layer.nnz
            dense += layer.in_features * layer.out_features
        for p in self.params().values():
            nbytes += p.value.nbytes
        for layer in self.sparse_layers().values():
            nbytes += layer.weight.indices.nbytes + layer.weight.indptr.nbytes
        for v in self.net.buffers().values():
            nbytes += v.nbytes
        total = sum(p.value.size for p in self.params().values())
        return {
            "weights_nnz": nnz,
            "weights_dense": dense,
            "parameters": int(total),
            "bytes": int(nbytes),
        }

    def summary(self) -> str:
        """A table of layers with shapes, stored weights, density and memory."""
        rows = [("#", "layer", "shape", "nnz", "density", "bytes")]
        for i, layer in enumerate(self.net):
            if isinstance(layer, Linear | SparseLinear):
                shape = f"{layer.out_features}x{layer.in_features}"
                dense = layer.in_features * layer.out_features
                nbytes = sum(p.value.nbytes for p in layer.params().values())
                if isinstance(layer, SparseLinear):
                    nbytes += layer.weight.indices.nbytes + layer.weight.indptr.nbytes
                rows.append(
                    (
                        str(i),
                        type(layer).__name__,
                        shape,
                        str(layer.nnz),
                        f"{layer.nnz / dense:.4%}",
                        _human(nbytes),
                    )
                )
            else:
                rows.append((str(i), repr(layer), "", "", "", ""))
        c = self.count()
        widths = [max(len(r[k]) for r in rows) for k in range(6)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        ]
        lines.append(
            f"stored weights: {c['weights_nnz']} of {c['weights_dense']} "
            f"({c['weights_nnz'] / c['weights_dense']:.4%}); parameters: {c['parameters']}; "
            f"memory: {_human(c['bytes'])}"
        )
        return "\n".join(lines)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Every parameter and buffer, with the topology of the sparse weights.

        Sparse weights appear as ``"<i>.weight.indptr"``, ``".indices"``, ``".data"`` and
        ``".shape"``; everything else under its parameter or buffer name. Arrays are copies.
        """
        out: dict[str, Any] = {}
        for i, layer in enumerate(self.net):
            for name, p in layer.params().items():
                if isinstance(layer, SparseLinear) and name == "weight":
                    W = layer.weight
                    out[f"{i}.weight.indptr"] = W.indptr.copy()
                    out[f"{i}.weight.indices"] = W.indices.copy()
                    out[f"{i}.weight.data"] = W.data.copy()
                    out[f"{i}.weight.shape"] = np.array(W.shape, dtype=np.int64)
                else:
                    out[f"{i}.{name}"] = p.value.copy()
        out.update({k: np.array(v, copy=True) for k, v in self.net.buffers().items()})
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load :meth:`state_dict` output in place (topologies of sparse layers included).

        Raises:
            CheckpointError: on missing or unexpected keys, shape/dtype mismatches or an
                invalid topology; the model is unchanged in that case.
        """
        expected = set(self.state_dict())
        got = set(state)
        if expected != got:
            missing, extra = sorted(expected - got), sorted(got - expected)
            raise CheckpointError(
                "weights do not match this architecture"
                + (f"; missing {missing[:5]}" if missing else "")
                + (f"; unexpected {extra[:5]}" if extra else "")
            )
        staged: list[tuple[Any, ...]] = []
        for i, layer in enumerate(self.net):
            for name, p in layer.params().items():
                if isinstance(layer, SparseLinear) and name == "weight":
                    shape = tuple(int(s) for s in state[f"{i}.weight.shape"])
                    try:
                        W = CSRMatrix(
                            shape,  # type: ignore[arg-type]
                            np.ascontiguousarray(state[f"{i}.weight.indptr"], np.int64),
                            np.ascontiguousarray(state[f"{i}.weight.indices"], np.int32),
                            np.ascontiguousarray(state[f"{i}.weight.data"], layer.dtype),
                        )
                    except ValueError as e:
                        raise CheckpointError(f"layer {i} sparse weight is invalid: {e}") from None
                    if not np.all(np.isfinite(W.data)):
                        raise CheckpointError(f"{i}.weight.data contains NaN or infinite values")
                    if W.shape != layer.weight.shape:
                        raise CheckpointError(
                            f"layer {i} weight has shape {W.shape}, model has {layer.weight.shape}"
                        )
                    staged.append(("sparse", layer, W))
                else:
                    _stage_array(staged, f"{i}.{name}", p.value, state)
        for key, buf in self.net.buffers().items():
            _stage_array(staged, key, buf, state)
        for item in staged:  # all checks passed: now mutate
            if item[0] == "sparse":
                _, layer, W = item
                layer.weight = W
                layer.weight_grad = np.zeros(W.nnz, layer.dtype)
            else:
                _, target, value = item
                target[...] = value

    def save_weights(self, path: str | os.PathLike[str]) -> None:
        """Atomically write :meth:`state_dict` to an ``.npz`` (no pickle)."""
        save_npz(path, self.state_dict(), meta={"format": WEIGHTS_FORMAT})

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Load weights written by :meth:`save_weights` (validated; see load_state_dict)."""
        arrays, meta = load_npz(path, what="weights file")
        if not isinstance(meta, dict) or meta.get("format") != WEIGHTS_FORMAT:
            raise CheckpointError(f"{path} is not a sprig weights file (format {meta!r})")
        self.load_state_dict(arrays)


def _stage_array(
    staged: list[tuple[Any, ...]], key: str, target: Any, state: Mapping[str, Any]
) -> None:
    value = np.asarray(state[key])
    if value.shape != target.shape:
        raise CheckpointError(f"{key} has shape {value.shape}, model has {target.shape}")
    if value.dtype.kind != "f":
        raise CheckpointError(f"{key} has non-float dtype {value.dtype}")
    if not np.all(np.isfinite(value)):
        raise CheckpointError(f"{key} contains NaN or infinite values")
    staged.append(("dense", target, value))


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
