r"""Pruning at initialisation: one-shot topology selection (random, SNIP, GraSP, SynFlow).

:func:`prune_at_init` takes a freshly initialised network (dense :class:`~sprig.layers.Linear`
layers; :class:`~sprig.layers.SparseLinear` layers are accepted too, their non-stored entries
being absent and never selected) and returns a **new** :class:`~sprig.models.MLP` in which every
affine layer ``i`` with density :math:`d_i < 1` is a :class:`~sprig.layers.SparseLinear`
holding exactly :math:`k_i =` ``nnz_from_density((K_i, D_i), d_i)`` entries
(:math:`\operatorname{round}(d_i K_i D_i)`, half away from zero) with their **initial values**
(and the initial bias). Affine layers with :math:`d_i = 1` and all other layers (activations,
batch norm, dropout...) are the *same objects* as in the input model.

Methods (``score`` is computed for every present weight; the layer keeps the top
:math:`k_i`, ties broken by the lower row-major position):

``random``
    :math:`k_i` positions drawn uniformly without replacement with ``rng`` (deterministic given
    the generator's state).

``snip`` (Lee et al. 2019, "SNIP: single-shot network pruning based on connection
sensitivity")
    :math:`s = |w \odot \nabla_w L|` with :math:`\nabla_w L` the mean gradient over
    ``iterations`` mini-batches (SNIP uses one). Keep the **largest**. SNIP itself ranks all
    weights of the network against **one global threshold** (normalised scores
    :math:`s / \sum s`, which does not change the ranking); here the default is
    ``scope="layer"`` (top-:math:`k_i` per layer, so the requested per-layer densities hold);
    ``scope="global"`` reproduces SNIP: one top-:math:`\sum_i k_i` over all layers with
    :math:`d_i < 1`, so the overall count is exact while individual layers may end up denser or
    sparser than :math:`d_i` (even empty: "layer collapse").

``grasp`` (Wang, Zhang & Grosse 2020, "Picking winning tickets before training by preserving
gradient flow")
    :math:`S = -w \odot (H g)`, :math:`g = \nabla_w L`, :math:`H = \nabla^2_w L`. The paper's
    criterion removes the weights whose removal *reduces gradient flow the least*, which are the
    weights with the **largest** :math:`S`; the reference code (``pruner/GraSP.py``) computes
    ``-weight * Hg``, takes the top ``ratio`` fraction as the threshold and keeps
    ``score <= threshold``. So GraSP **keeps the smallest** :math:`S` (equivalently the largest
    :math:`w \odot Hg`) — the opposite direction to SNIP. Scores can be negative; no absolute
    value is taken. The reference code ranks globally (``scope="global"`` here) and divides
    the logits by a temperature ``T = 200`` (``temperature=200`` here; the default 1 scores the
    plain loss).

    :math:`Hg` is computed **without autograd** by a forward finite difference of the model's
    own gradients along the unit direction :math:`u = g / \lVert g \rVert` (the norm over all
    affine weights; only present entries):

    .. math:: H g \approx \frac{\nabla L(w + \varepsilon u) - \nabla L(w)}{\varepsilon}
              \lVert g \rVert, \qquad
              \varepsilon = 2 \sqrt{\epsilon_{\text{mach}}}\,(1 + \lVert w \rVert)

    with :math:`\epsilon_{\text{mach}}` the machine epsilon of the scoring dtype — float64,
    so :math:`\varepsilon \approx 3 \cdot 10^{-8}(1 + \lVert w \rVert)` — the usual balance
    between the :math:`O(\varepsilon)` truncation and :math:`O(\epsilon_{\text{mach}} /
    \varepsilon)` rounding errors; ``grasp_eps`` overrides it. Working in float64 matters for
    ReLU networks: a step that moves a pre-activation across 0 adds a spurious
    :math:`O(\lVert g\rVert / \varepsilon)` spike to the rows of that unit (autograd's
    Hessian-vector product ignores the kinks). With float32 steps (anything from
    :math:`3 \cdot 10^{-5}` to :math:`10^{-3}`) such flips are common (measured: errors up to
    100× the largest :math:`|Hg|` on a 64-256-256-10 ReLU network on digits); with float64's
    they are practically absent (relative error :math:`\approx 2 \cdot 10^{-7}` there).
    Cost: two forward/backward passes per mini-batch. Both passes start from the same random
    state of the stochastic layers (dropout) and the same batch-norm statistics, so the
    difference is not noise.

``synflow`` (Tanaka et al. 2020, "Pruning neural networks without any data by iteratively
conserving synaptic flow")
    Data-free (``data`` is ignored). With every affine weight replaced by :math:`|w|`, the
    biases set to zero, the other layers in evaluation mode and an all-ones input
    :math:`\mathbb 1` (one column), :math:`R = \mathbb 1^\top f(\mathbb 1)` and
    :math:`s = |w \odot \partial R / \partial |w||`. Pruning is iterative: over
    ``iterations`` rounds (default 100, as the paper) round :math:`t` keeps the top
    :math:`\operatorname{round}(s_i r_i^{t/T})` of the entries still present, with
    :math:`s_i` the layer's initially present entries and :math:`r_i = k_i / s_i`
    (:math:`r_i \approx d_i` for a dense layer: the exponential schedule
    :math:`d_i^{t/T}`), re-scoring with the pruned weights zeroed; the last round keeps
    exactly :math:`k_i`. ``scope="global"`` (the paper's choice) applies the same schedule to
    the total count and ranks all layers together. (Tanaka et al.'s code takes :math:`|\cdot|`
    of every parameter, biases included; zero biases make :math:`R` exactly homogeneous in the
    input and every weight matrix, which the rescaling below relies on.)

    SynFlow requires the non-affine layers to be **positively homogeneous** on non-negative
    inputs (:math:`h(cx) = c\,h(x)` for :math:`c > 0`): ReLU, leaky ReLU, identity, dropout
    (evaluation mode), batch norm at initialisation (zero running mean and shift). Then
    :math:`R` is a sum of products of :math:`|w|` along paths and the computation can be
    **rescaled** without changing the result: the activations and back-propagated signals are
    normalised to a maximum of 1 after every layer (the scale kept as a float64 logarithm)
    and the affine products run in float64, so deep or wide networks neither overflow nor
    underflow. Global ranking compares :math:`\log s` including the per-layer scales. Every
    non-affine layer is checked (``h(2x) = 2h(x)`` on the actual input) and a ``ValueError``
    names the first that is not homogeneous (tanh, sigmoid, softmax, a non-zero batch-norm
    shift...).

Scores are computed on a private **scoring copy** of the network: deep copies of the
non-affine layers and a dense :class:`~sprig.layers.Linear` per affine layer holding the
initial weights (zeros at absent entries, no DropConnect), in **float64**: a float32 model's
copied layers have their float arrays, dtypes and parameters promoted, and the promoted copy
is used only if its evaluation output on the first batch (SynFlow: an all-ones column) agrees
with the model's; otherwise (a layer that cannot be promoted) the copy keeps the model's
dtype. Gradients (SNIP, GraSP) come from the explicit backprop of that copy
(``forward_fm(Xt, train=True)``, ``backprop(dY)``: training mode, so dropout and batch-norm
batch statistics are active as in a training step). The input model is never touched: not its
weights, its gradient buffers, its layers' random state nor the batch-norm running
statistics.

Memory: scoring needs the dense initial weights, a dense gradient and a dense score array for
every affine layer — :math:`O(\sum_i K_i D_i)` (a few copies for GraSP) — which is the size
of the dense network that had to exist at initialisation anyway. The returned network is
truly sparse: :math:`O(\sum_i k_i)`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..layers.base import Param
from ..layers.linear import Linear, SparseLinear
from ..losses.base import Loss
from ..losses.softmax_cross_entropy import SoftmaxCrossEntropy
from ..matrices.csr import CSRMatrix, nnz_from_density
from ..models.mlp import MLP
from ..typing import FloatArray

__all__ = [
    "INIT_PRUNING_METHODS",
    "grasp_scores",
    "hessian_gradient_product",
    "prune_at_init",
    "snip_scores",
    "synflow_scores",
]

#: The methods :func:`prune_at_init` accepts.
INIT_PRUNING_METHODS: tuple[str, ...] = ("random", "snip", "grasp", "synflow")

#: One mini-batch: ``(Xt (D, N) feature-major inputs, Tt (K, N) one-hot targets)``; a
#: :class:`~sprig.data.batching.Batch` works too (its first two fields).
BatchLike = Sequence[Any]
#: A batch, an iterable of batches, or a callable returning an iterable of batches.
DataLike = BatchLike | Iterable[BatchLike] | Callable[[], Iterable[BatchLike]]

_SCOPES = ("layer", "global")
_SYNFLOW_ITERATIONS = 100


# ============================================================================ public API
def prune_at_init(
    model: MLP,
    method: str,
    densities: Sequence[float],
    *,
    data: DataLike | None = None,
    loss: Loss | None = None,
    rng: np.random.Generator | None = None,
    iterations: int | None = None,
    scope: str = "layer",
    grasp_eps: float | None = None,
    temperature: float = 1.0,
) -> MLP:
    """Select the initial sparse topology of ``model`` by pruning at initialisation.

    Args:
        model: the initialised network (dense ``Linear`` and/or ``SparseLinear`` layers).
        method: ``"random"``, ``"snip"``, ``"grasp"`` or ``"synflow"`` (module docstring).
        densities: one density in ``(0, 1]`` per affine layer of ``model``, in order.
        data: mini-batches ``(Xt (D, N), Tt (K, N))`` for SNIP and GraSP: one batch, an
            iterable of batches or a callable returning one; the first ``iterations`` are
            used. Ignored by ``random`` and ``synflow``.
        loss: the training loss (default ``SoftmaxCrossEntropy()``, mean reduction).
        rng: generator for ``random`` (default: a fresh unseeded one).
        iterations: mini-batches for SNIP/GraSP (default 1); pruning rounds for SynFlow
            (default 100). Ignored by ``random``.
        scope: ``"layer"`` (top-:math:`k_i` per layer, default) or ``"global"`` (one ranking
            over all layers with density < 1 keeping their total count; not for ``random``).
        grasp_eps: GraSP's finite-difference step (default in the module docstring).
        temperature: GraSP only: the loss is evaluated on ``Y / temperature`` (the reference
            code uses 200).

    Returns:
        A new :class:`MLP`; see the module docstring for which layers are new.

    Raises:
        ValueError: unknown method/scope, wrong number of densities, a density outside
            ``(0, 1]`` (the message names it), missing data, more entries requested than a
            sparse input layer stores, or (SynFlow) a non-homogeneous layer.
    """
    if method not in INIT_PRUNING_METHODS:
        raise ValueError(
            f"unknown pruning method {method!r}; known: {', '.join(INIT_PRUNING_METHODS)}"
        )
    if scope not in _SCOPES:
        raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
    if method == "random" and scope != "layer":
        raise ValueError("scope='global' is not defined for method 'random' (use 'layer')")
    if temperature != 1.0 and method != "grasp":
        raise ValueError(f"temperature applies to method 'grasp' only, got method {method!r}")
    linear = model.linear_layers()
    dens = _check_densities(densities, len(linear))
    targets: dict[int, int] = {}
    for (i, layer), d in zip(linear.items(), dens, strict=True):
        if d < 1.0:
            k = nnz_from_density((layer.out_features, layer.in_features), d)
            if k > layer.nnz:
                raise ValueError(
                    f"layer {i} ({layer!r}) stores {layer.nnz} entries; density {d!r} asks for {k}"
                )
            targets[i] = k
    if not targets:
        return MLP(list(model.net))

    if method == "random":
        gen = rng if rng is not None else np.random.default_rng()
        keep = {i: _random_keys(linear[i], k, gen) for i, k in targets.items()}
    elif method == "synflow":
        n_iter = _check_iterations(iterations, _SYNFLOW_ITERATIONS)
        keep = _synflow_keep(model, targets, n_iter, scope)
    else:
        if data is None:
            raise ValueError(f"method {method!r} needs data= (mini-batches (Xt, Tt))")
        batches = _take_batches(data, _check_iterations(iterations, 1), model)
        lossf = loss if loss is not None else SoftmaxCrossEntropy()
        if method == "snip":
            prio = snip_scores(model, batches, loss=lossf, iterations=len(batches))
        else:  # GraSP keeps the smallest S = -w ⊙ Hg: priority = -S
            S = grasp_scores(
                model, batches, loss=lossf, iterations=len(batches), eps=grasp_eps,
                temperature=temperature,
            )  # fmt: skip
            prio = {i: -s for i, s in S.items()}
        cand = _candidates(model)
        keep = _select(
            {i: (cand[i], prio[i].reshape(-1)[cand[i]]) for i in targets}, targets, scope
        )
    return _build(model, keep)


def snip_scores(
    model: MLP, data: DataLike, *, loss: Loss | None = None, iterations: int | None = None
) -> dict[int, FloatArray]:
    r"""SNIP connection sensitivities :math:`|w \odot \bar g|` per affine layer.

    :math:`\bar g` is the mean loss gradient over the first ``iterations`` (default 1)
    mini-batches of ``data`` (forms as in :func:`prune_at_init`). Returns float64 ``(K, D)``
    arrays by layer index; absent entries of sparse layers score 0.
    """
    batches = _take_batches(data, _check_iterations(iterations, 1), model)
    lossf = loss if loss is not None else SoftmaxCrossEntropy()
    scorer, lin = _scoring_copy(model, batches[0][0])
    with _Preserved(scorer) as keeper:
        g = _mean_gradient(scorer, lin, batches, lossf, 1.0, keeper)
    return {i: np.abs(lin[i].weight.astype(np.float64) * g[i]) for i in lin}


def hessian_gradient_product(
    model: MLP,
    data: DataLike,
    *,
    loss: Loss | None = None,
    iterations: int | None = None,
    eps: float | None = None,
    temperature: float = 1.0,
) -> tuple[dict[int, FloatArray], dict[int, FloatArray]]:
    r"""``(g, Hg)`` per affine layer by the forward difference of the module docstring.

    ``g`` is the mean loss gradient over the first ``iterations`` (default 1) mini-batches of
    ``data`` and ``Hg`` the Hessian (of the mean loss,
    with respect to the present affine weights) times ``g``; both float64 ``(K, D)``, zero at
    absent entries. ``eps`` is the step :math:`\varepsilon` along :math:`g / \lVert g\rVert`.
    """
    batches = _take_batches(data, _check_iterations(iterations, 1), model)
    lossf = loss if loss is not None else SoftmaxCrossEntropy()
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    scorer, lin = _scoring_copy(model, batches[0][0])
    masks = {i: m.reshape(lin[i].weight.shape) for i, m in _present_masks(model).items()}
    with _Preserved(scorer) as keeper:
        g = _mean_gradient(scorer, lin, batches, lossf, temperature, keeper)
        for i in g:
            g[i] *= masks[i]
        gnorm = float(np.sqrt(sum(float(np.sum(v * v)) for v in g.values())))
        if gnorm == 0.0 or not np.isfinite(gnorm):
            return g, {i: np.zeros_like(v) for i, v in g.items()}
        if eps is None:
            wnorm = float(
                np.sqrt(
                    sum(float(np.sum(la.weight.astype(np.float64) ** 2)) for la in lin.values())
                )
            )
            step = 2.0 * float(np.sqrt(np.finfo(scorer.dtype).eps)) * (1.0 + wnorm)
        else:
            step = float(eps)
            if not (np.isfinite(step) and step > 0):
                raise ValueError(f"eps must be a positive number, got {eps!r}")
        for i, la in lin.items():
            la.weight += (g[i] * (step / gnorm)).astype(la.dtype)
        g_step = _mean_gradient(scorer, lin, batches, lossf, temperature, keeper)
    Hg = {i: (g_step[i] - g[i]) * masks[i] * (gnorm / step) for i in g}
    return g, Hg


def grasp_scores(
    model: MLP,
    data: DataLike,
    *,
    loss: Loss | None = None,
    iterations: int | None = None,
    eps: float | None = None,
    temperature: float = 1.0,
) -> dict[int, FloatArray]:
    r"""GraSP scores :math:`S = -w \odot (Hg)` per affine layer (float64 ``(K, D)``).

    GraSP keeps the **smallest** scores (module docstring).
    """
    _, Hg = hessian_gradient_product(
        model, data, loss=loss, iterations=iterations, eps=eps, temperature=temperature
    )
    W = _dense_weights(model)
    return {i: -W[i] * Hg[i] for i in Hg}


def synflow_scores(
    model: MLP, masks: Mapping[int, Any] | None = None, *, log: bool = False
) -> dict[int, FloatArray]:
    r"""SynFlow scores :math:`|w \odot \partial R / \partial |w||` per affine layer.

    Args:
        model: the network (its weights are read, never modified).
        masks: optional boolean ``(K, D)`` (or flat) arrays by layer index; entries outside
            the mask (and absent entries of sparse layers) count as zero weights.
        log: return :math:`\log s` (``-inf`` for zero scores) — always finite in float64,
            even where :math:`s` itself would overflow; the plain scores are ``exp`` of it.

    Returns:
        float64 ``(K, D)`` arrays by layer index.

    Raises:
        ValueError: if a non-affine layer is not positively homogeneous (module docstring).
    """
    absw = {i: np.abs(w) for i, w in _dense_weights(model).items()}
    if masks is not None:
        for i, m in masks.items():
            absw[i] = absw[i] * np.asarray(m, dtype=bool).reshape(absw[i].shape)
    logs = _synflow_log_scores(_scoring_copy(model, None)[0], absw)
    if log:
        return logs
    with np.errstate(over="ignore", under="ignore"):
        return {i: np.exp(v) for i, v in logs.items()}


# ============================================================================ checks & data
def _check_densities(densities: Sequence[float], n_layers: int) -> list[float]:
    dens = list(densities)
    if len(dens) != n_layers:
        raise ValueError(
            f"got {len(dens)} densities for {n_layers} linear layers; give one per layer"
        )
    out: list[float] = []
    for j, d in enumerate(dens):
        try:
            v = float(d)
        except (TypeError, ValueError):
            raise ValueError(f"densities[{j}] must be a number in (0, 1], got {d!r}") from None
        if not (np.isfinite(v) and 0.0 < v <= 1.0):
            raise ValueError(f"densities[{j}] must be in (0, 1], got {d!r}")
        out.append(v)
    return out


def _check_iterations(iterations: int | None, default: int) -> int:
    if iterations is None:
        return default
    if isinstance(iterations, bool) or not isinstance(iterations, int | np.integer):
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    if iterations < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    return int(iterations)


def _is_batch(x: Any) -> bool:
    return (
        isinstance(x, tuple | list)
        and len(x) >= 2
        and isinstance(x[0], np.ndarray)
        and isinstance(x[1], np.ndarray)
    )


def _take_batches(data: DataLike, limit: int, model: MLP) -> list[tuple[FloatArray, FloatArray]]:
    """The first ``limit`` batches as C-contiguous model-dtype arrays."""
    src: Any = data() if callable(data) else data
    items: Iterator[Any] = iter([src]) if _is_batch(src) else iter(src)
    out: list[tuple[FloatArray, FloatArray]] = []
    for item in items:
        if len(out) >= limit:
            break
        if not _is_batch(item):
            raise ValueError(
                f"a mini-batch must be a pair (Xt (D, N), Tt (K, N)) of arrays, got {type(item)}"
            )
        Xt = np.ascontiguousarray(item[0], dtype=model.dtype)
        Tt = np.ascontiguousarray(item[1], dtype=model.dtype)
        if Xt.ndim != 2 or Xt.shape[0] != model.in_features:
            raise ValueError(
                f"Xt must be feature-major ({model.in_features}, N), got shape {Xt.shape}"
            )
        if Tt.shape != (model.out_features, Xt.shape[1]):
            raise ValueError(
                f"Tt must have shape ({model.out_features}, {Xt.shape[1]}), got {Tt.shape}"
            )
        out.append((Xt, Tt))
    if not out:
        raise ValueError("data yielded no mini-batch")
    return out


# ============================================================================ weights & masks
def _dense_weights(model: MLP) -> dict[int, FloatArray]:
    """float64 dense copy of every affine weight (zeros at absent entries)."""
    out: dict[int, FloatArray] = {}
    for i, la in model.linear_layers().items():
        if isinstance(la, SparseLinear):
            out[i] = la.weight.toarray().astype(np.float64)
        else:
            out[i] = la.weight.astype(np.float64)
    return out


def _present_masks(model: MLP) -> dict[int, Any]:
    """Flat boolean masks of the present entries by layer index."""
    out: dict[int, Any] = {}
    for i, la in model.linear_layers().items():
        m = np.zeros(la.out_features * la.in_features, dtype=bool)
        if isinstance(la, SparseLinear):
            m[la.weight.keys] = True
        else:
            m[:] = True
        out[i] = m
    return out


def _candidates(model: MLP) -> dict[int, Any]:
    """Flat row-major positions of the present entries (sorted) by layer index."""
    return {i: np.flatnonzero(m) for i, m in _present_masks(model).items()}


def _scoring_copy(model: MLP, probe: FloatArray | None) -> tuple[MLP, dict[int, Linear]]:
    """A private scoring network (module docstring), float64 when possible.

    Deep copies of the non-affine layers and a dense ``Linear`` per affine layer holding the
    initial weights (zeros at absent entries, no DropConnect). A float32 model's copies are
    promoted to float64 (float arrays, dtypes and :class:`Param` s among the layers'
    attributes) and kept only if an evaluation forward on ``probe`` (``(D, N)``; default one
    all-ones column) agrees with the model's; otherwise the copy stays in the model's dtype.
    """
    others = {i: la for i, la in enumerate(model.net) if not isinstance(la, Linear | SparseLinear)}
    if model.dtype != np.float64:
        clones = copy.deepcopy(others)
        if _promote(list(clones.values())):
            out = _assemble(model, clones, np.dtype(np.float64))
            X = np.ones((model.in_features, 1), model.dtype) if probe is None else probe
            if _agrees(model, out[0], np.ascontiguousarray(X, dtype=model.dtype)):
                return out
    return _assemble(model, copy.deepcopy(others), model.dtype)


def _assemble(
    model: MLP, others: Mapping[int, Any], dtype: np.dtype[Any]
) -> tuple[MLP, dict[int, Linear]]:
    def zeros(n: int, fan_in: Any, fan_out: float, rng: np.random.Generator) -> FloatArray:
        return np.zeros(n)

    layers: list[Any] = []
    lin: dict[int, Linear] = {}
    for i, la in enumerate(model.net):
        if isinstance(la, Linear | SparseLinear):
            c = Linear(
                la.in_features, la.out_features, bias=la.bias is not None, init=zeros,
                rng=np.random.default_rng(0), dtype=dtype,
            )  # fmt: skip
            c.weight[...] = la.weight.toarray() if isinstance(la, SparseLinear) else la.weight
            if la.bias is not None and c.bias is not None:
                c.bias[...] = la.bias
            lin[i] = c
            layers.append(c)
        else:
            layers.append(others[i])
    return MLP(layers), lin


def _to_float64(v: Any) -> Any:
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return v.astype(np.float64)
    if isinstance(v, np.dtype) and v.kind == "f":
        return np.dtype(np.float64)
    if isinstance(v, Param):
        return Param(_to_float64(v.value), _to_float64(v.grad), v.per_entry)
    if type(v) is dict:
        return {k: _to_float64(x) for k, x in v.items()}
    if type(v) is list:
        return [_to_float64(x) for x in v]
    if type(v) is tuple:
        return tuple(_to_float64(x) for x in v)
    return v


def _promote(layers: Sequence[Any]) -> bool:
    """Convert the float state of (copied) layers to float64 in place; False if impossible."""
    try:
        for la in layers:
            for name, v in list(vars(la).items()):
                setattr(la, name, _to_float64(v))
    except Exception:  # any layer we cannot convert keeps the model's dtype
        return False
    return True


def _agrees(model: MLP, scorer: MLP, X: FloatArray) -> bool:
    """Do the model and its promoted copy compute the same evaluation output on ``X``?"""
    try:
        with np.errstate(all="ignore"):
            Y0, _ = model.forward_fm(X, train=False)
            Y1, _ = scorer.forward_fm(X.astype(np.float64), train=False)
            Y0 = Y0.astype(np.float64)
            scale = max(1.0, float(np.max(np.abs(Y0), initial=0.0)))
            return bool(
                Y1.shape == Y0.shape
                and np.all(np.isfinite(Y1))
                and np.allclose(Y1, Y0, rtol=1e-3, atol=1e-4 * scale)
            )
    except Exception:  # a copy that cannot run is not used
        return False


class _Preserved:
    """Snapshot of the scoring copy's random state and buffers, reset before each pass.

    Paired passes over the same batches (GraSP's two gradients) then see the same dropout
    masks and batch-norm statistics.
    """

    def __init__(self, scorer: MLP) -> None:
        self.layers: list[Any] = [la for la in scorer.net if not isinstance(la, Linear)]

    def __enter__(self) -> _Preserved:
        self.rng_states: list[tuple[Any, Any]] = [
            (la.rng, la.rng.bit_generator.state)
            for la in self.layers
            if isinstance(getattr(la, "rng", None), np.random.Generator)
        ]
        self.buffers: list[tuple[Any, Any]] = []
        for la in self.layers:
            get = getattr(la, "buffers", None)
            if get is not None:
                self.buffers += [(v, np.array(v, copy=True)) for v in get().values()]
        return self

    def reset(self) -> None:
        for gen, state in self.rng_states:
            gen.bit_generator.state = state
        for live, saved in self.buffers:
            live[...] = saved

    def __exit__(self, *exc: object) -> None:
        self.reset()


# ============================================================================ gradients
def _mean_gradient(
    scorer: MLP,
    lin: Mapping[int, Linear],
    batches: Sequence[tuple[FloatArray, FloatArray]],
    loss: Loss,
    temperature: float,
    keeper: _Preserved,
) -> dict[int, FloatArray]:
    """Mean over the batches of the dense weight gradients (float64), model's own backprop.

    The shared layers' random state and buffers are reset first, so two calls on the same
    batches see the same dropout masks.
    """
    keeper.reset()
    acc: dict[int, FloatArray] = {i: np.zeros(la.weight.shape, np.float64) for i, la in lin.items()}
    with np.errstate(under="ignore"):
        for Xt, Tt in batches:
            Y, backprop = scorer.forward_fm(Xt.astype(scorer.dtype, copy=False), train=True)
            Tt = Tt.astype(Y.dtype, copy=False)
            if temperature != 1.0:
                T = Y.dtype.type(temperature)
                dY: FloatArray = loss.grad(Y / T, Tt) / T
            else:
                dY = loss.grad(Y, Tt)
            backprop(np.ascontiguousarray(dY, dtype=Y.dtype))
            for i, la in lin.items():
                acc[i] += la.weight_grad
    for v in acc.values():
        v /= len(batches)
    return acc


# ============================================================================ SynFlow
def _synflow_log_scores(scorer: MLP, absw: Mapping[int, FloatArray]) -> dict[int, FloatArray]:
    """``log |w ⊙ ∂R/∂w|`` with rescaled float64 propagation (module docstring).

    The affine layers of ``scorer`` are replaced by ``absw``; its other layers run in
    evaluation mode.
    """
    layers = list(scorer.net)
    a = np.ones((scorer.in_features, 1), np.float64)
    log_a = 0.0
    fwd: dict[int, tuple[FloatArray, float]] = {}
    closures: dict[int, Any] = {}
    with np.errstate(under="ignore", divide="ignore"):
        for i, la in enumerate(layers):
            if i in absw:
                fwd[i] = (a, log_a)
                a = absw[i] @ a
            else:
                dt = getattr(la, "dtype", np.dtype(np.float64))
                x = a.astype(dt)
                y, bp = la.forward(x, train=False, input_grad=True)
                y2, _ = la.forward(x * dt.type(2), train=False, input_grad=False)
                y64 = y.astype(np.float64)
                tol = 64 * float(np.finfo(dt).eps) * max(1.0, float(np.max(np.abs(y64), initial=0)))
                if not np.allclose(y2.astype(np.float64), 2.0 * y64, rtol=1e-4, atol=tol):
                    raise ValueError(
                        f"synflow needs positively homogeneous layers (ReLU-like activations, "
                        f"no shifts); layer {i} ({la!r}) is not: h(2x) != 2 h(x)"
                    )
                closures[i] = (bp, dt)
                a = y64
            s = float(np.max(np.abs(a), initial=0.0))
            if s > 0.0:
                a = a / s
                log_a += float(np.log(s))
        d = np.ones_like(a)  # ∂R/∂output, R = 1ᵀ out
        log_d = 0.0
        out: dict[int, FloatArray] = {}
        for i in range(len(layers) - 1, -1, -1):
            if i in absw:
                x, log_x = fwd[i]
                grad = d @ x.T
                out[i] = np.log(absw[i]) + np.log(np.abs(grad)) + (log_d + log_x)
                d = absw[i].T @ d
            else:
                bp, dt = closures[i]
                d = np.asarray(bp(d.astype(dt)), dtype=np.float64)
            s = float(np.max(np.abs(d), initial=0.0))
            if s > 0.0:
                d = d / s
                log_d += float(np.log(s))
    return out


def _synflow_keep(
    model: MLP, targets: Mapping[int, int], iterations: int, scope: str
) -> dict[int, Any]:
    """Iterative SynFlow with the exponential schedule; kept flat positions per layer."""
    W = _dense_weights(model)
    absw = {i: np.abs(w) for i, w in W.items()}
    present = _present_masks(model)
    scorer, _ = _scoring_copy(model, None)
    start = {i: int(present[i].sum()) for i in targets}
    total0, total_k = sum(start.values()), sum(targets.values())
    keep: dict[int, Any] = {i: np.flatnonzero(present[i]) for i in targets}
    for t in range(1, iterations + 1):
        frac = t / iterations
        masked = {}
        for i, w in absw.items():
            if i in keep:
                m = np.zeros(w.size, dtype=bool)
                m[keep[i]] = True
                masked[i] = w * m.reshape(w.shape)
            else:
                masked[i] = w
        logs = _synflow_log_scores(scorer, masked)
        entries = {i: (keep[i], logs[i].reshape(-1)[keep[i]]) for i in targets}
        if scope == "layer":
            counts = {
                i: (k if t == iterations else _schedule(start[i], k, frac))
                for i, k in targets.items()
            }
            keep = _select(entries, counts, "layer")
        else:
            n = total_k if t == iterations else _schedule(total0, total_k, frac)
            keep = _select(entries, {-1: n}, "global")
    return keep


def _schedule(start: int, final: int, frac: float) -> int:
    """``round(start · (final/start)^frac)``, clipped to ``[final, start]``."""
    if start == 0:
        return 0
    n = int(np.floor(start * (final / start) ** frac + 0.5))
    return min(start, max(final, n))


# ============================================================================ selection
def _top(priority: FloatArray, k: int) -> Any:
    """Indices of the ``k`` largest priorities; ties broken by the lower index."""
    if k >= priority.size:
        return np.arange(priority.size)
    order = np.argsort(-priority, kind="stable")
    return np.sort(order[:k])


def _select(
    entries: Mapping[int, tuple[Any, FloatArray]], counts: Mapping[int, int], scope: str
) -> dict[int, Any]:
    """Keep the top entries. ``entries[i] = (flat positions, priority)``.

    ``scope="layer"``: ``counts[i]`` per layer; ``"global"``: ``sum(counts.values())`` over
    the concatenation (in layer order, so ties favour earlier layers).
    """
    if scope == "layer":
        return {i: pos[_top(p, counts[i])] for i, (pos, p) in entries.items()}
    idx = list(entries)
    pri = np.concatenate([entries[i][1] for i in idx])
    sel = _top(pri, sum(counts.values()))
    bounds = np.cumsum([0] + [entries[i][0].size for i in idx])
    return {
        i: entries[i][0][sel[(sel >= bounds[j]) & (sel < bounds[j + 1])] - bounds[j]]
        for j, i in enumerate(idx)
    }


def _random_keys(layer: Linear | SparseLinear, k: int, rng: np.random.Generator) -> Any:
    size = layer.out_features * layer.in_features
    if isinstance(layer, SparseLinear):
        pos = rng.choice(layer.nnz, size=k, replace=False)
        return np.sort(layer.weight.keys[pos])
    return np.sort(rng.choice(size, size=k, replace=False))


# ============================================================================ result
def _build(model: MLP, keep: Mapping[int, Any]) -> MLP:
    layers: list[Any] = []
    for i, la in enumerate(model.net):
        if i not in keep:
            layers.append(la)
            continue
        assert isinstance(la, Linear | SparseLinear)
        keys = np.asarray(keep[i], dtype=np.int64)
        D = la.in_features
        if isinstance(la, SparseLinear):
            pos = np.searchsorted(la.weight.keys, keys)
            values = la.weight.data[pos]
        else:
            values = la.weight.reshape(-1)[keys]
        W = CSRMatrix.from_coords(
            (la.out_features, D), keys // D, keys % D, values.copy(), dtype=la.dtype
        )
        new = SparseLinear(
            D, la.out_features, weight=W, bias=la.bias is not None,
            drop_connect=la.drop_connect, rng=la.rng, dtype=la.dtype,
        )  # fmt: skip
        if la.bias is not None and new.bias is not None:
            new.bias[...] = la.bias
        layers.append(new)
    return MLP(layers)
