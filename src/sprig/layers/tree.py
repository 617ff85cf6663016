r"""Model trees: containers with named children, and a dotted path name for everything.

A model is a tree. Its leaves are layers (the :class:`~sprig.layers.base.Layer` protocol:
``forward`` + ``params`` with *local* names such as ``"weight"``); its inner nodes are
:class:`Module` s whose children are found by attribute (a layer or module held in an
attribute, or a list/tuple of them), PyTorch/equinox style. Every node has a path:

* a child held in attribute ``trunk`` is ``"trunk"``; the ``i``-th element of a list attribute
  ``heads`` is ``"heads.i"`` (:class:`~sprig.layers.sequential.Sequential` and
  :class:`Parallel` name their children ``"0"``, ``"1"``, ...);
* a parameter is ``"<path of its layer>.<local name>"``: ``"trunk.0.weight"``,
  ``"heads.2.1.weight"``, and for a plain sequential network ``"0.weight"``, ``"3.bias"``.

These names key everything a run keeps per parameter: optimizer rules and state, gradient
taps, DST state, statistics, checkpoints. A node reachable along two paths (a shared layer)
is visited once, under its first path, so its parameters have one name and one gradient.

Containers' ``forward`` additionally takes ``taps`` and ``prefix``: when ``taps`` is a dict,
their ``backprop`` records, for every *leaf* at path ``p``, ``taps[p] = (X, dY)`` (its input and
the gradient arriving at its output): what gradient-based growth (RigL) needs, without
touching the layers.

Examples:
    >>> import numpy as np
    >>> from sprig.layers import ActivationLayer, Linear, Sequential, SparseLinear
    >>> from sprig.activations import ReLU
    >>> from sprig.layers import Parallel
    >>> rng = np.random.default_rng(0)
    >>> trunk = Sequential([SparseLinear(4, 8, density=0.5, rng=rng), ActivationLayer(ReLU(), 8)])
    >>> heads = Parallel([Sequential([Linear(8, 3, rng=rng)]) for _ in range(2)])
    >>> net = Sequential([trunk, heads])
    >>> sorted(net.params())
    ['0.0.bias', '0.0.weight', '1.0.0.bias', '1.0.0.weight', '1.1.0.bias', '1.1.0.weight']
    >>> list(net.sparse_modules())
    ['0.0']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from ..typing import FloatArray
from .base import Backprop, Layer, Param

#: ``taps[path] = (X, dY)`` of the leaves, filled by a container's ``backprop``.
Taps = dict[str, tuple[FloatArray, FloatArray]]
#: What flows between nodes: one feature-major array, or a tuple of them (several outputs).
Value = Any


def _is_node(v: object) -> bool:
    return isinstance(v, Module) or (not isinstance(v, type) and isinstance(v, Layer))


class Module:
    """Base class of inner nodes: children are the attributes holding layers or modules.

    Subclasses implement ``forward(X, *, train, input_grad=True, taps=None, prefix="")``
    (returning ``(Y, backprop)``; ``Y`` may be a tuple for several outputs) and may override
    :meth:`named_children` to name their children differently. ``params()`` and
    ``buffers()`` of a module are those of the whole subtree, by path relative to it.
    """

    def named_children(self) -> list[tuple[str, Any]]:
        """``(name, child)`` in attribute order: layers/modules, and lists/tuples of them."""
        out: list[tuple[str, Any]] = []
        for attr, v in vars(self).items():
            if attr.startswith("_"):
                continue
            if _is_node(v):
                out.append((attr, v))
            elif isinstance(v, list | tuple) and v and all(_is_node(x) for x in v):
                out.extend((f"{attr}.{i}", x) for i, x in enumerate(v))
        return out

    def params(self) -> dict[str, Param]:
        """Every parameter of the subtree, by dotted path."""
        return named_parameters(self)

    def buffers(self) -> dict[str, Any]:
        """Every buffer of the subtree, by dotted path."""
        return named_buffers(self)

    def sparse_modules(self) -> dict[str, Any]:
        """The truly sparse layers of the subtree by path."""
        return sparse_modules(self)

    def io_features(self) -> tuple[Any, Any]:
        """``(in_features, out_features)`` of the subtree (``None`` if it does not fix them;
        ``out_features`` is a tuple for several outputs). Default: a chain of the children."""
        return _chain_features([c for _, c in self.named_children()])

    def _child_forward(
        self,
        child: Any,
        path: str,
        X: Value,
        train: bool,
        input_grad: bool,
        taps: Taps | None,
    ) -> tuple[Value, Backprop]:
        """Forward one child at ``path``; for a leaf, wrap its backprop to record taps."""
        if isinstance(child, Module):
            return child.forward(  # type: ignore[attr-defined,no-any-return]
                X, train=train, input_grad=input_grad, taps=taps, prefix=path + "."
            )
        Y, bp = child.forward(X, train=train, input_grad=input_grad)
        if taps is None:
            return Y, bp

        def backprop(dY: FloatArray) -> FloatArray | None:
            taps[path] = (X, dY)
            return bp(dY)

        return Y, backprop


def leaf_features(layer: Any) -> tuple[Any, Any]:
    """``(in, out)`` of a leaf: affine layers have both; shape-preserving layers neither."""
    if isinstance(layer, Module):
        return layer.io_features()
    return getattr(layer, "in_features", None), getattr(layer, "out_features", None)


def _chain_features(children: Sequence[Any]) -> tuple[Any, Any]:
    ins = outs = None
    for c in children:
        i, o = leaf_features(c)
        if ins is None and i is not None:
            ins = i
        if o is not None:
            outs = o
    return ins, outs


class IndexedModule(Module):
    """A module whose children are one list, named ``"0"``, ``"1"``, ... (``children`` names
    the attribute holding it); indexable and iterable like the list."""

    children: ClassVar[str]

    def _items(self) -> list[Any]:
        return getattr(self, self.children)  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items())

    def __getitem__(self, i: int) -> Any:
        return self._items()[i]

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({i}) {c!r}" for i, c in enumerate(self._items()))
        return f"{type(self).__name__}(\n{inner}\n)"

    def named_children(self) -> list[tuple[str, Any]]:
        return [(str(i), c) for i, c in enumerate(self._items())]


class Parallel(IndexedModule):
    """One input, several outputs: every branch sees the same ``X``; the output is the tuple
    of the branches' outputs and ``backprop`` takes a tuple of their gradients, returning
    the **sum** of the branches' input gradients (a shared trunk receives the gradient of
    every head). Children are named ``"0"``, ``"1"``, ...

    Args:
        branches: the branches (layers or modules), at least one.
    """

    children = "branches"

    def __init__(self, branches: Sequence[Any]) -> None:
        self.branches = list(branches)
        if not self.branches:
            raise ValueError("Parallel needs at least one branch")
        for i, b in enumerate(self.branches):
            if not _is_node(b):
                raise TypeError(f"branch {i} ({type(b).__name__}) is not a layer or module")

    def io_features(self) -> tuple[Any, Any]:
        feats = [leaf_features(b) for b in self.branches]
        ins = {f[0] for f in feats if f[0] is not None}
        if len(ins) > 1:
            raise ValueError(f"Parallel branches expect different input widths {sorted(ins)}")
        return (ins.pop() if ins else None), tuple(f[1] for f in feats)

    def forward(
        self,
        X: Value,
        *,
        train: bool,
        input_grad: bool = True,
        taps: Taps | None = None,
        prefix: str = "",
    ) -> tuple[tuple[Any, ...], Any]:
        outs, bps = [], []
        for i, b in enumerate(self.branches):
            Y, bp = self._child_forward(b, f"{prefix}{i}", X, train, input_grad, taps)
            outs.append(Y)
            bps.append(bp)

        def backprop(dYs: Sequence[Any]) -> Any:
            if len(dYs) != len(bps):
                raise ValueError(f"expected {len(bps)} output gradients, got {len(dYs)}")
            total = None
            for bp, dY in zip(bps, dYs, strict=True):
                dX = bp(dY)
                if dX is not None:
                    total = dX if total is None else total + dX
            return total

        return tuple(outs), backprop


# --------------------------------------------------------------------------- walking
def named_modules(root: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every node of the tree (root first, path ``""``), pre-order, each object once."""
    seen: set[int] = set()

    def walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
        if id(node) in seen:
            return
        seen.add(id(node))
        yield path, node
        if isinstance(node, Module):
            for name, child in node.named_children():
                yield from walk(child, f"{path}.{name}" if path else name)

    yield from walk(root, prefix)


def leaves(root: Any) -> Iterator[tuple[str, Any]]:
    """The layers (non-module nodes) of the tree by path."""
    for path, node in named_modules(root):
        if not isinstance(node, Module):
            yield path, node


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def named_parameters(root: Any) -> dict[str, Param]:
    """Every trainable parameter by dotted path (``"trunk.0.weight"``)."""
    out: dict[str, Param] = {}
    for path, layer in leaves(root):
        for name, p in layer.params().items():
            out[_join(path, name)] = p
    return out


def named_buffers(root: Any) -> dict[str, Any]:
    """Every non-trainable state array (batch-norm running statistics...) by dotted path."""
    out: dict[str, Any] = {}
    for path, layer in leaves(root):
        get = getattr(layer, "buffers", None)
        if get is not None:
            out.update({_join(path, k): v for k, v in get().items()})
    return out


def named_rngs(root: Any) -> dict[str, np.random.Generator]:
    """The random generators of the layers that draw (dropout, DropConnect) by path."""
    out = {}
    for path, layer in leaves(root):
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator):
            out[path] = rng
    return out


def sparse_modules(root: Any) -> dict[str, Any]:
    """The truly sparse layers (:class:`~sprig.layers.SparseLinear`) by path."""
    from .linear import SparseLinear

    return {p: la for p, la in leaves(root) if isinstance(la, SparseLinear)}


def sparse_weights(root: Any) -> dict[str, Any]:
    """Parameter path → the sparse weight (:class:`~sprig.matrices.CSRMatrix`)."""
    return {_join(p, "weight"): la.weight for p, la in sparse_modules(root).items()}


def affine_modules(root: Any) -> dict[str, Any]:
    """Dense and sparse affine layers by path."""
    from .linear import Linear, SparseLinear

    return {p: la for p, la in leaves(root) if isinstance(la, Linear | SparseLinear)}


def get_module(root: Any, path: str) -> Any:
    """The node at ``path`` (``""`` is the root). Raises ``KeyError`` naming the path."""
    for p, node in named_modules(root):
        if p == path:
            return node
    raise KeyError(f"no module at path {path!r}")


def weight_owner(root: Any, name: str) -> tuple[str, Any]:
    """``(module path, layer)`` of the sparse weight parameter ``name`` (``"0.weight"``)."""
    path, _, local = name.rpartition(".")
    mods = sparse_modules(root)
    if local != "weight" or path not in mods:
        raise KeyError(f"{name!r} is not a sparse weight; sparse weights: {sorted(mods)}")
    return path, mods[path]


def map_outputs(fn: Any, Y: Value) -> Value:
    """Apply ``fn`` to one output or to each of a tuple of outputs."""
    return tuple(fn(y) for y in Y) if isinstance(Y, tuple) else fn(Y)


__all__ = [
    "Module",
    "Parallel",
    "Taps",
    "affine_modules",
    "get_module",
    "leaves",
    "map_outputs",
    "named_buffers",
    "named_modules",
    "named_parameters",
    "named_rngs",
    "sparse_modules",
    "sparse_weights",
    "weight_owner",
]
