"""A model: any tree of layers with a batch-first public face and path-named state.

:class:`Model` wraps the root of a model tree (:mod:`sprig.layers.tree`) — a
:class:`~sprig.layers.Sequential`, a trunk with several heads, anything built from
:class:`~sprig.layers.tree.Module` s — and is the boundary between the user's batch-first
arrays ``(N, features)`` and the feature-major layout the layers compute in. Everything it
exposes is keyed by **path name**: parameters (``"trunk.0.weight"``), sparse layers
(``"trunk.0"``), buffers, random streams, the weights file. A model may have several outputs
(a tuple, e.g. one per head); :meth:`Model.combine` turns them into one prediction (the mean of
the heads' outputs by default, NeuroTrails' ensemble rule). It owns no training logic (that is
:mod:`sprig.training`). :class:`~sprig.models.MLP` is the sequential special case.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import CheckpointError, DataError
from ..io import check_state_arrays, load_npz, save_npz
from ..layers import tree
from ..layers.activation import ActivationLayer
from ..layers.base import Param
from ..layers.linear import Linear, SparseLinear
from ..matrices import kernels
from ..matrices.csr import CSRMatrix
from ..matrices.remap import Remap
from ..typing import FloatArray

#: Format tag of weights files; ``-2`` adds the architecture (``-1`` files still load).
WEIGHTS_FORMAT = "sprig-weights-2"
WEIGHTS_FORMATS = ("sprig-weights-1", WEIGHTS_FORMAT)


def describe(layer: Any) -> str:
    """What a weights file must agree on for a leaf: its kind, widths and activation."""
    name = type(layer).__name__
    if isinstance(layer, Linear | SparseLinear):
        return f"{name}({layer.in_features}, {layer.out_features}, bias={layer.bias is not None})"
    if isinstance(layer, ActivationLayer):
        return f"{name}({layer.activation!r}, {layer.features})"
    features = getattr(layer, "features", None)
    return name if features is None else f"{name}({features})"


class Model:
    """A model tree with a batch-first public face.

    Args:
        net: the root node (a layer or a :class:`~sprig.layers.tree.Module`).
        combine: ``outputs -> output`` for models with several outputs (default: the mean,
            the ensemble prediction of a multi-head model); ignored with one output.
    """

    def __init__(self, net: Any, *, combine: Any = None) -> None:
        self.net = net
        affine = tree.affine_modules(net)
        if not affine:
            raise ValueError("a model needs at least one Linear or SparseLinear layer")
        first = next(iter(affine.values()))
        ins, outs = tree.leaf_features(net)
        self.in_features: int = first.in_features if ins is None else ins
        self.out_features: Any = outs
        self.dtype = first.dtype
        self._combine = combine

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.net!r})"

    @property
    def num_outputs(self) -> int:
        """1, or the number of outputs (heads) of the tree."""
        return len(self.out_features) if isinstance(self.out_features, tuple) else 1

    @property
    def output_features(self) -> int:
        """Width of the (combined) prediction."""
        outs = self.out_features
        if isinstance(outs, tuple):
            if len(set(outs)) != 1:
                raise ValueError(f"the outputs have different widths {outs}; no combined output")
            return int(outs[0])
        return int(outs)

    # ------------------------------------------------------------------ computation
    def _check_input(self, X: Any) -> Any:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise DataError(f"expected input of shape (N, {self.in_features}), got {X.shape}")
        return X

    def _to_fm(self, X: Any) -> FloatArray:
        X = self._check_input(X)
        if not np.all(np.isfinite(X)):
            raise DataError("input contains NaN or infinite values")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        return kernels.gather_transpose(X, np.arange(X.shape[0]))

    def combine(self, Y: Any) -> Any:
        """One prediction from the tree's output(s): identity for one output, else
        ``combine`` (default: the mean of the outputs)."""
        if not isinstance(Y, tuple):
            return Y
        if self._combine is not None:
            return self._combine(Y)
        out = Y[0].copy()
        for y in Y[1:]:
            out += y
        out /= len(Y)
        return out

    def forward(self, X: Any, *, train: bool = False) -> tuple[Any, Any]:
        """Batch-first forward: ``X (N, in)`` → ``Y (N, out)`` (a tuple for several outputs)
        and ``backprop(dY) -> dX``."""
        Y, bp = self.forward_fm(self._to_fm(X), train=train, input_grad=True)

        def to_bf(y: FloatArray) -> FloatArray:
            return np.ascontiguousarray(y.T)

        def backprop(dY: Any) -> FloatArray | None:
            def to_fm(pair: tuple[Any, FloatArray]) -> FloatArray:
                d, y = pair
                d = np.asarray(d, dtype=self.dtype)
                if d.shape != y.T.shape:
                    raise ValueError(f"dY must have shape {y.T.shape}, got {d.shape}")
                return np.ascontiguousarray(d.T)

            if isinstance(Y, tuple):
                if not isinstance(dY, tuple | list) or len(dY) != len(Y):
                    raise ValueError(f"expected a tuple of {len(Y)} output gradients")
                g: Any = tuple(to_fm(p) for p in zip(dY, Y, strict=True))
            else:
                g = to_fm((dY, Y))
            dX = bp(g)
            return None if dX is None else np.ascontiguousarray(dX.T)

        return tree.map_outputs(to_bf, Y), backprop

    def forward_fm(
        self,
        Xt: FloatArray,
        *,
        train: bool,
        input_grad: bool = False,
        taps: tree.Taps | None = None,
    ) -> tuple[Any, Any]:
        """Feature-major forward used by the trainer; ``taps`` is keyed by layer path."""
        if isinstance(self.net, tree.Module):
            return self.net.forward(  # type: ignore[attr-defined,no-any-return]
                Xt, train=train, input_grad=input_grad, taps=taps
            )
        return self._leaf_forward(Xt, train, input_grad, taps)

    def _leaf_forward(
        self, Xt: FloatArray, train: bool, input_grad: bool, taps: tree.Taps | None
    ) -> tuple[Any, Any]:
        Y, bp = self.net.forward(Xt, train=train, input_grad=input_grad)
        if taps is None:
            return Y, bp

        def backprop(dY: FloatArray) -> FloatArray | None:
            taps[""] = (Xt, dY)
            return bp(dY)  # type: ignore[no-any-return]

        return Y, backprop

    def predict_outputs(self, X: Any, *, batch_size: int = 1024) -> Any:
        """Every output of the tree ``(N, out_k)`` in evaluation mode, in batches (a tuple
        for several outputs)."""
        X = np.ascontiguousarray(self._check_input(X), dtype=self.dtype)
        widest = self.widest_layer()
        batch_size = kernels.eval_rows(batch_size, widest, X.itemsize)  # bounded memory
        outs = self.out_features if isinstance(self.out_features, tuple) else (self.out_features,)
        results = [np.empty((X.shape[0], k), dtype=self.dtype) for k in outs]
        for s in range(0, X.shape[0], batch_size):
            idx = np.arange(s, min(s + batch_size, X.shape[0]))
            Y, _ = self.forward_fm(kernels.gather_transpose(X, idx), train=False)
            for r, y in zip(results, Y if isinstance(Y, tuple) else (Y,), strict=True):
                r[idx] = y.T
        return tuple(results) if isinstance(self.out_features, tuple) else results[0]

    def predict(self, X: Any, *, batch_size: int = 1024) -> FloatArray:
        """The (combined) network output ``(N, out)`` in evaluation mode, in batches."""
        out = self.predict_outputs(X, batch_size=batch_size)
        return self.combine(out) if isinstance(out, tuple) else out  # type: ignore[no-any-return]

    def predict_classes(self, X: Any, *, batch_size: int = 1024) -> Any:
        """``argmax`` of :meth:`predict` along the class axis."""
        return np.argmax(self.predict(X, batch_size=batch_size), axis=1)

    # ------------------------------------------------------------------ parameters
    def params(self) -> dict[str, Param]:
        """All trainable parameters by path (``"0.weight"``, ``"trunk.1.bias"``)."""
        return tree.named_parameters(self.net)

    named_parameters = params

    def named_buffers(self) -> dict[str, Any]:
        """Non-trainable state arrays by path."""
        return tree.named_buffers(self.net)

    def named_rngs(self) -> dict[str, np.random.Generator]:
        """Random streams of the layers by path (checkpointed)."""
        return tree.named_rngs(self.net)

    def widest_layer(self) -> int:
        """The largest input or output width of a layer (affine layers and layers wrapping
        one, e.g. LoRA adapters); bounds the evaluation batches."""
        return max(
            (
                max(m.in_features, m.out_features)
                for m in self.named_modules().values()
                if isinstance(getattr(m, "in_features", None), int)
                and isinstance(getattr(m, "out_features", None), int)
            ),
            default=1,
        )

    def named_modules(self) -> dict[str, Any]:
        """Every node of the tree by path (root ``""``)."""
        return dict(tree.named_modules(self.net))

    def sparse_modules(self) -> dict[str, SparseLinear]:
        """The truly sparse layers by path."""
        return tree.sparse_modules(self.net)

    def sparse_weights(self) -> dict[str, CSRMatrix]:
        """Parameter path (``"trunk.0.weight"``) → the sparse weight."""
        return tree.sparse_weights(self.net)

    def affine_modules(self) -> dict[str, Linear | SparseLinear]:
        """Dense and sparse affine layers by path."""
        return tree.affine_modules(self.net)

    def replace_weight(self, name: str, weight: CSRMatrix, remap: Remap) -> None:
        """Install an edited sparse weight as parameter ``name`` (``"trunk.0.weight"``)."""
        _, layer = tree.weight_owner(self.net, name)
        layer.set_weight(weight, remap)

    def architecture(self) -> list[str]:
        """One line per layer, ``"<path>: <kind(widths, activation)>"``: what a weights file
        written by this model records and what reading one checks."""
        return [f"{p}: {describe(layer)}" for p, layer in tree.leaves(self.net)]

    def count(self) -> dict[str, int]:
        """Parameter counts and bytes: stored weights, dense-equivalent size, memory."""
        nnz = dense = nbytes = 0
        for layer in self.affine_modules().values():
            nnz += layer.nnz
            dense += layer.in_features * layer.out_features
        params = self.params()
        for p in params.values():
            nbytes += p.value.nbytes
        for layer in self.sparse_modules().values():
            nbytes += layer.weight.indices.nbytes + layer.weight.indptr.nbytes
        for v in self.named_buffers().values():
            nbytes += v.nbytes
        total = sum(p.value.size for p in params.values())
        return {
            "weights_nnz": nnz,
            "weights_dense": dense,
            "parameters": int(total),
            "bytes": int(nbytes),
        }

    def summary(self) -> str:
        """A table of layers by path with shapes, stored weights, density and memory."""
        rows = [("path", "layer", "shape", "nnz", "density", "bytes")]
        for path, layer in tree.leaves(self.net):
            if isinstance(layer, Linear | SparseLinear):
                shape = f"{layer.out_features}x{layer.in_features}"
                dense = layer.in_features * layer.out_features
                nbytes = sum(p.value.nbytes for p in layer.params().values())
                if isinstance(layer, SparseLinear):
                    nbytes += layer.weight.indices.nbytes + layer.weight.indptr.nbytes
                rows.append(
                    (
                        path,
                        type(layer).__name__,
                        shape,
                        str(layer.nnz),
                        f"{layer.nnz / dense:.4%}",
                        _human(nbytes),
                    )
                )
            else:
                rows.append((path, repr(layer), "", "", "", ""))
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
        """Every parameter and buffer by path, with the topology of the sparse weights.

        Sparse weights appear as ``"<path>.weight.indptr"``, ``".indices"``, ``".data"`` and
        ``".shape"``; everything else under its parameter or buffer name. Arrays are copies.
        """
        out: dict[str, Any] = {}
        sparse = set(self.sparse_weights())
        for name, p in self.params().items():
            if name in sparse:
                _, layer = tree.weight_owner(self.net, name)
                W = layer.weight
                out[f"{name}.indptr"] = W.indptr.copy()
                out[f"{name}.indices"] = W.indices.copy()
                out[f"{name}.data"] = W.data.copy()
                out[f"{name}.shape"] = np.array(W.shape, dtype=np.int64)
            else:
                out[name] = p.value.copy()
        out.update({k: np.array(v, copy=True) for k, v in self.named_buffers().items()})
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
        sparse = set(self.sparse_weights())
        for name, p in self.params().items():
            if name in sparse:
                _, layer = tree.weight_owner(self.net, name)
                staged.append(("sparse", layer, _load_csr(name, layer, state)))
            else:
                _stage_array(staged, name, p.value, state)
        for key, buf in self.named_buffers().items():
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
        """Atomically write :meth:`state_dict` and the architecture to an ``.npz``."""
        meta = {"format": WEIGHTS_FORMAT, "architecture": self.architecture()}
        save_npz(path, self.state_dict(), meta=meta)

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Load weights written by :meth:`save_weights` (validated; see load_state_dict).

        Raises:
            CheckpointError: not a weights file, or written by another architecture
                (layers, widths or activations differ; files of sprig 0.1.0 carry no
                architecture and are checked by names and shapes only).
        """
        arrays, meta = load_npz(path, what="weights file")
        check_state_arrays(arrays, str(path))
        if not isinstance(meta, dict) or meta.get("format") not in WEIGHTS_FORMATS:
            raise CheckpointError(f"{path} is not a sprig weights file (format {meta!r})")
        self.check_architecture(meta.get("architecture"), str(path))
        self.load_state_dict(arrays)

    def check_architecture(self, saved: Any, where: str) -> None:
        """Raise :class:`CheckpointError` if ``saved`` (an :meth:`architecture` list, or
        ``None`` for files without one) differs from this model's."""
        if saved is None:
            return
        mine = self.architecture()
        if not isinstance(saved, list) or saved != mine:
            if not isinstance(saved, list):
                raise CheckpointError(f"{where}: architecture record is invalid")
            diff = next(
                (
                    f"{a!r} in the file, {b!r} here"
                    for a, b in zip(saved, mine, strict=False)
                    if a != b
                ),
                f"{len(saved)} layers in the file, {len(mine)} here",
            )
            raise CheckpointError(f"{where} was written by another architecture: {diff}")


def _load_csr(name: str, layer: SparseLinear, state: Mapping[str, Any]) -> CSRMatrix:
    shape = tuple(int(s) for s in np.asarray(state[f"{name}.shape"]).ravel())
    for part in ("indptr", "indices"):
        arr = np.asarray(state[f"{name}.{part}"])
        if arr.dtype.kind not in "iu":
            raise CheckpointError(f"{name}.{part} has non-integer dtype {arr.dtype}")
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= 2**31):
            raise CheckpointError(f"{name}.{part} has entries outside [0, 2**31)")
    try:
        W = CSRMatrix(
            shape,  # type: ignore[arg-type]
            np.ascontiguousarray(state[f"{name}.indptr"], np.int64),
            np.ascontiguousarray(state[f"{name}.indices"], np.int32),
            np.ascontiguousarray(state[f"{name}.data"], layer.dtype),
        )
    except (ValueError, OverflowError) as e:
        raise CheckpointError(f"sparse weight {name} is invalid: {e}") from None
    if not np.all(np.isfinite(W.data)):
        raise CheckpointError(f"{name}.data contains NaN or infinite values")
    if W.shape != layer.weight.shape:
        raise CheckpointError(f"{name} has shape {W.shape}, model has {layer.weight.shape}")
    return W


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
