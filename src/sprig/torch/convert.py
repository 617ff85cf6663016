r"""Make any PyTorch model truly sparse, and back: :func:`sparsify` and :func:`densify`.

:func:`sparsify` replaces the ``nn.Linear`` layers of a model in place by
:class:`~sprig.torch.SparseLinear` (attention projections and MLP blocks of a transformer
included), splitting one overall density across them by ERK, ER or uniform
(:mod:`sprig.sparsity.density`, the same rules as sprig's own models). Excluded, and reported:

* layers matching ``exclude`` (regular expressions searched in the module path name, module
  types (the layer or a module containing it), or a predicate ``(name, module) -> bool``); by
  default the output heads (``head``, ``lm_head``, ``classifier``), since embeddings and
  norms are not ``nn.Linear``;
* the projections of ``nn.MultiheadAttention``: it keeps its input projection as a raw
  parameter and reads ``out_proj.weight`` directly, so it is left dense (and said so in the
  report) rather than broken. Write attention with ``nn.Linear`` projections to make it sparse;
* layers the density rule makes dense (ERK gives density 1 to small layers): kept ``nn.Linear``.

The overall density counts every replaced layer and every layer kept dense by the rule (as
sprig's models do); excluded layers are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..matrices import CSRMatrix, nnz_from_density
from ..sparsity.density import densities
from .linear import SparseLinear

__all__ = ["DEFAULT_EXCLUDE", "LayerReport", "SparsifyReport", "densify", "sparsify"]

#: Path-name patterns excluded by default: output heads.
DEFAULT_EXCLUDE: tuple[str, ...] = (r"(^|\.)(lm_)?head$", r"(^|\.)classifier$")
INITS = ("sparse", "keep", "magnitude")

Exclude = str | type | Callable[[str, nn.Module], bool]


@dataclass(frozen=True)
class LayerReport:
    """What :func:`sparsify` did with one ``nn.Linear``.

    Attributes:
        name: module path (``"blocks.0.attn.q"``).
        shape: ``(out_features, in_features)``.
        status: ``"sparse"``, ``"dense (density rule)"``, ``"excluded"`` or
            ``"left dense (nn.MultiheadAttention)"``.
        density, nnz: after the call.
    """

    name: str
    shape: tuple[int, int]
    status: str
    density: float
    nnz: int


@dataclass(frozen=True)
class SparsifyReport:
    """Per-layer outcome of :func:`sparsify`; ``str()`` gives a table."""

    layers: list[LayerReport] = field(default_factory=list)

    @property
    def overall_density(self) -> float:
        """Stored / total weights of the layers the density rule covered."""
        rows = [r for r in self.layers if r.status in ("sparse", "dense (density rule)")]
        size = sum(r.shape[0] * r.shape[1] for r in rows)
        return sum(r.nnz for r in rows) / size if size else 1.0

    def __str__(self) -> str:
        w = max([len(r.name) for r in self.layers] + [5])
        lines = [f"{'layer':<{w}}  {'shape':>12}  {'density':>8}  {'nnz':>10}  status"]
        for r in self.layers:
            shape = f"{r.shape[0]}x{r.shape[1]}"
            lines.append(f"{r.name:<{w}}  {shape:>12}  {r.density:>8.4f}  {r.nnz:>10}  {r.status}")
        lines.append(f"overall density of the sparsified layers: {self.overall_density:.4f}")
        return "\n".join(lines)


def _excluded(root: nn.Module, name: str, module: nn.Module, rules: Sequence[Exclude]) -> bool:
    parts = name.split(".")
    chain = [root.get_submodule(".".join(parts[:i])) for i in range(1, len(parts) + 1)]
    for rule in rules:
        if isinstance(rule, str):
            if re.search(rule, name):
                return True
        elif isinstance(rule, type):  # the layer or any module containing it
            if any(isinstance(m, rule) for m in chain):
                return True
        elif callable(rule):
            if rule(name, module):
                return True
        else:
            raise ConfigError(
                f"exclude entries must be regex strings, module types or predicates, got {rule!r}"
            )
    return False


def _set_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def _initial_csr(
    linear: nn.Linear, density: float, init: Any, rng: np.random.Generator
) -> tuple[CSRMatrix, Any]:
    shape = (linear.out_features, linear.in_features)
    W = linear.weight.detach()
    if init == "magnitude":  # the largest |w| of the dense layer (one-shot magnitude pruning)
        nnz = nnz_from_density(shape, density)
        flat = W.abs().reshape(-1).cpu()
        keys = torch.topk(flat, nnz, sorted=False).indices.numpy() if nnz else np.zeros(0)
        pattern = np.zeros(shape[0] * shape[1], bool)
        pattern[keys.astype(np.int64)] = True
        dense = W.cpu().double().numpy()
        return CSRMatrix.from_dense(dense, pattern=pattern.reshape(shape), dtype=np.float64), None
    C = CSRMatrix.random(shape, density=density, rng=rng, dtype=np.float64)
    if init == "keep":
        rows = torch.as_tensor(C.row_of.astype(np.int64))
        cols = torch.as_tensor(C.indices.astype(np.int64))
        C.data[:] = W.cpu()[rows, cols].double().numpy()
    elif init == "sparse" or callable(init):
        fan_in = np.diff(C.indptr)[C.row_of].astype(np.float64)
        fn = init if callable(init) else None
        if fn is None:
            C.data[:] = rng.uniform(-1.0, 1.0, C.nnz) / np.sqrt(np.maximum(fan_in, 1))
        else:
            C.data[:] = np.asarray(fn(C.nnz, fan_in, float(shape[0]), rng), dtype=np.float64)
    return C, None


def sparsify(
    module: nn.Module,
    density: float,
    *,
    distribution: str = "erk",
    exclude: Iterable[Exclude] = DEFAULT_EXCLUDE,
    init: str | Callable[..., Any] = "sparse",
    rng: np.random.Generator | int | None = None,
    kernel: str = "auto",
) -> SparsifyReport:
    """Replace ``module``'s ``nn.Linear`` layers by :class:`SparseLinear`, in place.

    Args:
        module: any model.
        density: overall density in ``(0, 1]`` of the covered layers.
        distribution: ``"erk"``, ``"er"`` or ``"uniform"`` (:mod:`sprig.sparsity.density`).
        exclude: layers to leave dense: regexes searched in the path name, module types, or
            predicates ``(name, module) -> bool`` (default :data:`DEFAULT_EXCLUDE`).
        init: values of the stored weights: ``"sparse"`` (default, fresh
            ``U(±1/√fan_in)`` with each row's stored fan-in, positions uniform at random),
            ``"keep"`` (the dense weights at uniformly random positions), ``"magnitude"``
            (the largest ``|w|`` of each dense layer, for pretrained models), or an
            initializer ``(n, fan_in, fan_out, rng) -> values``. Biases are kept.
        rng: NumPy generator or seed for the positions and values.
        kernel: :attr:`SparseLinear.kernel` of the new layers.

    Returns:
        a :class:`SparsifyReport` of every ``nn.Linear`` found.

    Raises:
        ConfigError: on a bad ``density``, ``distribution``, ``init`` or ``exclude`` entry.

    Examples:
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64))
        >>> model.head = nn.Linear(64, 10)
        >>> report = sparsify(model, 0.1, distribution="uniform", rng=0)
        >>> [r.status for r in report.layers]
        ['sparse', 'sparse', 'excluded']
        >>> round(report.overall_density, 3)
        0.1
    """
    if not (isinstance(density, float | int) and 0.0 < density <= 1.0):
        raise ConfigError(f"density must be a number in (0, 1], got {density!r}")
    if not (callable(init) or init in INITS):
        raise ConfigError(f"init must be one of {INITS} or an initializer, got {init!r}")
    rules = list(exclude)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    mha_owned: set[str] = set()
    for name, m in module.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            mha_owned.update(f"{name}.{n}" if name else n for n, _ in m.named_modules())
    found = [
        (n, m)
        for n, m in module.named_modules()
        if isinstance(m, nn.Linear) and not isinstance(m, SparseLinear)
    ]
    rows: dict[str, LayerReport] = {}
    covered: list[tuple[str, nn.Linear]] = []
    for n, m in found:
        shape = (m.out_features, m.in_features)
        if n in mha_owned:
            rows[n] = LayerReport(
                n, shape, "left dense (nn.MultiheadAttention)", 1.0, m.weight.numel()
            )
        elif _excluded(module, n, m, rules):
            rows[n] = LayerReport(n, shape, "excluded", 1.0, m.weight.numel())
        else:
            covered.append((n, m))
    if covered:
        try:
            ds = densities(
                distribution, [(m.out_features, m.in_features) for _, m in covered], density
            )
        except (KeyError, ValueError) as e:
            raise ConfigError(str(e).strip("'\"")) from e
        for (n, m), d in zip(covered, ds, strict=True):
            shape = (m.out_features, m.in_features)
            if d >= 1.0:
                rows[n] = LayerReport(n, shape, "dense (density rule)", 1.0, m.weight.numel())
                continue
            C, _ = _initial_csr(m, d, init, gen)
            dtype, device = m.weight.dtype, m.weight.device
            bias = None if m.bias is None else m.bias.detach().cpu().double().numpy()
            new = SparseLinear.from_csr(C, bias, device=device, dtype=dtype)
            new.kernel = kernel
            new.train(m.training)
            _set_module(module, n, new)
            rows[n] = LayerReport(n, shape, "sparse", new.density, new.nnz)
    return SparsifyReport([rows[n] for n, _ in found])


def densify(module: nn.Module) -> nn.Module:
    """Replace every :class:`SparseLinear` in ``module`` by an equivalent ``nn.Linear``, in
    place (for export); returns ``module`` (or the new layer if ``module`` itself is one)."""
    if isinstance(module, SparseLinear):
        return _dense_of(module)
    for name, m in list(module.named_modules()):
        if isinstance(m, SparseLinear):
            _set_module(module, name, _dense_of(m))
    return module


def _dense_of(m: SparseLinear) -> nn.Linear:
    lin = nn.Linear(
        m.in_features,
        m.out_features,
        m.bias is not None,
        device=m.values.device,
        dtype=m.values.dtype,
    )
    with torch.no_grad():
        lin.weight.copy_(m.dense_weight())
        if m.bias is not None:
            lin.bias.copy_(m.bias)
    lin.train(m.training)
    return lin
