r"""Post-training pruning of a trained dense model: magnitude and Wanda, to truly sparse layers.

Both criteria keep, in every covered layer, the stored weights of largest score and return a
:class:`~sprig.matrices.CSRMatrix` holding only those (no mask remains):

* ``"magnitude"`` — score ``|w_ij|``, compared over the whole layer: the layer keeps exactly
  ``nnz_from_density(shape, d)`` weights (``round(d · out · in)``);
* ``"wanda"`` (Sun et al. 2024, "A simple and effective pruning approach for large language
  models") — score ``S_ij = |w_ij| · ‖X_j‖₂``, where ``‖X_j‖₂`` is the 2-norm of input
  feature ``j`` over every calibration sample (every token of every calibration batch),
  compared **per output row** ``i``: each row keeps its ``round(d · in)`` highest-scoring
  weights, so the layer keeps ``out · round(d · in)``.

Ties are broken deterministically (the smaller column, or row-major position, is kept first).
The scores are dense ``(out, in)`` arrays: the input is a trained *dense* layer, whose weight
already has that size; nothing dense remains afterwards.

Calibration norms are accumulated as sums of squares (:class:`ActivationNorms`) so any number
of batches can be streamed through the model.

>>> W = np.array([[1.0, -2.0, 0.5], [0.1, 0.2, -3.0]])
>>> wanda_scores(W, np.array([4.0, 1.0, 1.0]))  # ‖X‖ = (2, 1, 1)
array([[2. , 2. , 0.5],
       [0.2, 0.2, 3. ]])
>>> prune_dense(W, 1 / 3, "wanda", sq_norms=np.array([4.0, 1.0, 1.0])).toarray()
array([[ 1.,  0.,  0.],
       [ 0.,  0., -3.]])
>>> prune_dense(W, 1 / 3, "magnitude").toarray()
array([[ 0., -2.,  0.],
       [ 0.,  0., -3.]])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..layers import tree
from ..layers.linear import Linear, SparseLinear
from ..matrices import CSRMatrix, nnz_from_density
from ..typing import FloatArray

__all__ = [
    "METHODS",
    "ActivationNorms",
    "densify",
    "keep_pattern",
    "prune_dense",
    "prune_model",
    "replace_layer",
    "wanda_scores",
]

#: Post-training pruning criteria.
METHODS = ("magnitude", "wanda")


def check_method(method: str) -> str:
    """``method`` if it is one of :data:`METHODS`, else a one-line :class:`ConfigError`."""
    if method not in METHODS:
        raise ConfigError(f"post-training pruning method must be one of {METHODS}, got {method!r}")
    return method


def check_density(density: Any, what: str = "density") -> float:
    """``density`` as a float in ``(0, 1]`` or a one-line :class:`ConfigError`."""
    if isinstance(density, bool) or not isinstance(density, int | float | np.floating):
        raise ConfigError(f"{what} must be a number in (0, 1], got {density!r}")
    if not 0.0 < float(density) <= 1.0:
        raise ConfigError(f"{what} must be in (0, 1], got {density!r}")
    return float(density)


class ActivationNorms:
    """Running ``Σ x_j²`` of every input feature ``j`` of a layer over calibration samples.

    ``add(X, axis)`` takes a batch whose feature axis is ``axis`` (sprig: feature-major
    ``(in, N)``, ``axis=0``; torch: ``(..., in)``, ``axis=-1``); :attr:`sq` is the sum of
    squares per feature and :attr:`count` the number of samples seen.
    """

    def __init__(self, features: int) -> None:
        self.sq = np.zeros(features, dtype=np.float64)
        self.count = 0

    def add(self, X: Any, axis: int = 0) -> None:
        """Accumulate one batch (float64 sums)."""
        A = np.moveaxis(np.asarray(X, dtype=np.float64), axis, -1).reshape(-1, self.sq.size)
        self.sq += np.einsum("nj,nj->j", A, A)
        self.count += A.shape[0]


def wanda_scores(W: FloatArray, sq_norms: FloatArray) -> FloatArray:
    """``S_ij = |w_ij| · ‖X_j‖₂`` from the calibration sums of squares ``sq_norms = Σ x_j²``."""
    W = np.asarray(W)
    sq = np.asarray(sq_norms, dtype=np.float64)
    if sq.shape != (W.shape[1],):
        raise ValueError(f"sq_norms has shape {sq.shape}, expected ({W.shape[1]},)")
    return np.abs(W).astype(np.float64) * np.sqrt(sq)[None, :]


def keep_pattern(
    W: FloatArray, density: float, method: str = "magnitude", sq_norms: Any = None
) -> np.ndarray:
    """Boolean ``(out, in)`` pattern of the weights ``method`` keeps at ``density``."""
    check_method(method)
    d = check_density(density)
    W = np.asarray(W)
    out_f, in_f = W.shape
    if method == "wanda":
        if sq_norms is None:
            raise ConfigError("Wanda pruning needs calibration activations (sq_norms)")
        S = wanda_scores(W, sq_norms)
        k = int(np.floor(d * in_f + 0.5))
        # Stable sort of the negated scores: among equal scores the smaller column is kept.
        order = np.argsort(-S, axis=1, kind="stable")[:, :k]
        keep = np.zeros(W.shape, dtype=bool)
        np.put_along_axis(keep, order, True, axis=1)
        return keep
    k = nnz_from_density((out_f, in_f), d)
    order = np.argsort(-np.abs(W).reshape(-1), kind="stable")[:k]
    keep = np.zeros(out_f * in_f, dtype=bool)
    keep[order] = True
    return keep.reshape(W.shape)


def prune_dense(
    W: FloatArray,
    density: float,
    method: str = "magnitude",
    *,
    sq_norms: Any = None,
    dtype: Any = None,
) -> CSRMatrix:
    """A CSR matrix holding the weights of ``W`` that ``method`` keeps at ``density``."""
    W = np.asarray(W)
    pattern = keep_pattern(W, density, method, sq_norms)
    return CSRMatrix.from_dense(W, pattern=pattern, dtype=dtype or W.dtype)


# --------------------------------------------------------------------------- sprig models
def replace_layer(root: Any, old: Any, new: Any) -> Any:
    """Put ``new`` wherever the tree ``root`` holds the node ``old`` (every parent); returns
    the root (``new`` if ``old`` was the root)."""
    from ..layers.sequential import Sequential

    if root is old:
        return new
    for _, node in tree.named_modules(root):
        if not isinstance(node, tree.Module):
            continue
        for cname, child in node.named_children():
            if child is not old:
                continue
            if isinstance(node, Sequential):
                node.layers[int(cname)] = new
            elif isinstance(node, tree.Parallel):
                node.branches[int(cname)] = new
            elif "." in cname:
                attr, i = cname.split(".")
                seq = list(getattr(node, attr))
                seq[int(i)] = new
                orig = getattr(node, attr)
                setattr(node, attr, seq if isinstance(orig, list) else tuple(seq))
            else:
                setattr(node, cname, new)
    return root


def calibration_norms(
    model: Any, batches: Iterable[Any], layers: Mapping[str, Linear]
) -> dict[str, ActivationNorms]:
    """Stream calibration inputs (batch-first arrays ``(N, in)``) through ``model`` (a
    :class:`~sprig.models.Model`) in evaluation mode and accumulate the input norms of
    ``layers`` (path → dense layer)."""
    norms = {p: ActivationNorms(la.in_features) for p, la in layers.items()}
    wrapped = []
    for p, layer in layers.items():
        base = layer.forward

        def recording(
            X: FloatArray, *, train: bool, input_grad: bool = True, _p: str = p, _f: Any = base
        ) -> Any:
            norms[_p].add(X, axis=0)  # feature-major (in, N)
            return _f(X, train=train, input_grad=input_grad)

        layer.forward = recording  # type: ignore[method-assign]  # shadows the method
        wrapped.append(layer)
    try:
        for X in batches:
            model.forward(X, train=False)
    finally:
        for layer in wrapped:
            del layer.forward
    return norms


def prune_model(
    model: Any,
    density: float | Mapping[str, float],
    method: str = "magnitude",
    *,
    calibration: Iterable[Any] | None = None,
    include: Callable[[str, Any], bool] | None = None,
) -> dict[str, dict[str, Any]]:
    """Post-training pruning of a sprig model's dense :class:`~sprig.layers.Linear` layers,
    in place: each becomes a :class:`~sprig.layers.SparseLinear` holding only the kept weights
    (values, bias, dtype, DropConnect and random stream kept).

    Args:
        model: a :class:`~sprig.models.Model` (an :class:`~sprig.models.MLP`, a tree...).
        density: one density for every covered layer, or path → density (layers absent or
            at density 1 stay dense).
        method: ``"magnitude"`` or ``"wanda"``.
        calibration: batch-first input arrays ``(N, in)`` (Wanda only), e.g. a few training
            batches.
        include: ``(path, layer) -> bool`` choosing the layers (default: every dense
            ``Linear``).

    Returns:
        per pruned layer path: ``{"shape", "nnz", "density"}``.

    Raises:
        ConfigError: bad method or density, Wanda without calibration data, or no layer to
            prune.
    """
    check_method(method)
    dense = {
        p: la
        for p, la in model.affine_modules().items()
        if isinstance(la, Linear) and (include is None or include(p, la))
    }
    if isinstance(density, Mapping):
        unknown = sorted(set(density) - set(dense))
        if unknown:
            raise ConfigError(f"no dense linear layer at {unknown}; layers: {sorted(dense)}")
        dens = {p: check_density(d, f"density of {p!r}") for p, d in density.items()}
    else:
        d = check_density(density)
        dens = dict.fromkeys(dense, d)
    todo = {p: dense[p] for p in dens if dens[p] < 1.0}
    if not todo:
        raise ConfigError("post-training pruning found no dense linear layer to prune")
    norms: dict[str, ActivationNorms] = {}
    if method == "wanda":
        if calibration is None:
            raise ConfigError("Wanda pruning needs calibration batches")
        norms = calibration_norms(model, calibration, todo)
        if any(n.count == 0 for n in norms.values()):
            raise ConfigError("Wanda pruning got no calibration samples")
    report: dict[str, dict[str, Any]] = {}
    for p, layer in todo.items():
        C = prune_dense(
            layer.weight,
            dens[p],
            method,
            sq_norms=norms[p].sq if p in norms else None,
            dtype=layer.dtype,
        )
        sparse = SparseLinear(
            layer.in_features,
            layer.out_features,
            weight=C,
            bias=layer.bias is not None,
            drop_connect=layer.drop_connect,
            rng=layer.rng,
            dtype=layer.dtype,
        )
        if layer.bias is not None and sparse.bias is not None:
            sparse.bias[...] = layer.bias
        model.net = replace_layer(model.net, layer, sparse)
        report[p] = {"shape": C.shape, "nnz": C.nnz, "density": C.density}
    return report


#: Calibration samples drawn from the training split for Wanda (Wanda's default is 128).
CALIBRATION_SAMPLES = 128


def prune_config_model(model: Any, config: Any, data: Any, seed: int) -> dict[str, Any]:
    """The assembler's ``post_pruning`` step (``sprig train --post-pruning``): prune the
    loaded dense ``model`` to ``config.densities`` (one per linear layer, in order) with
    ``config.post_pruning``; Wanda calibrates on :data:`CALIBRATION_SAMPLES` training samples
    drawn with ``seed``."""
    method = check_method(config.post_pruning)
    if config.init_pruning is not None:
        raise ConfigError("give post_pruning (trained weights) or init_pruning, not both")
    if not config.load_weights:
        raise ConfigError(
            f"post_pruning={method!r} prunes a trained dense model: give load_weights "
            "(a weights file of the same architecture trained dense)"
        )
    layers = list(model.affine_modules())
    dens = list(config.densities)
    if len(dens) != len(layers):
        raise ConfigError(f"{len(dens)} densities for {len(layers)} linear layers")
    calib = None
    if method == "wanda":
        rng = np.random.default_rng([seed, 0x534546])  # "SEF"
        n = len(data.x_train)
        rows = np.sort(rng.choice(n, size=min(n, CALIBRATION_SAMPLES), replace=False))
        calib = [np.asarray(data.x_train[rows])]
    return prune_model(model, dict(zip(layers, dens, strict=True)), method, calibration=calib)


def densify(model: Any) -> list[str]:
    """Dense fine-tuning baseline for sprig models: replace every
    :class:`~sprig.layers.SparseLinear` by a dense :class:`~sprig.layers.Linear` holding the
    same weights (zeros elsewhere), in place; every weight then trains and the sparsity is
    lost. Returns the replaced paths."""
    out = []
    for path, layer in model.sparse_modules().items():
        lin = Linear(
            layer.in_features,
            layer.out_features,
            bias=layer.bias is not None,
            drop_connect=layer.drop_connect,
            rng=layer.rng,
            dtype=layer.dtype,
        )
        lin.weight[...] = layer.weight.toarray()
        if lin.bias is not None:
            lin.bias[...] = layer.bias
        model.net = replace_layer(model.net, layer, lin)
        out.append(path)
    return out
