r"""SEFT for PyTorch models: post-training pruning to :class:`~sprig.torch.SparseLinear`,
repair by sparse fine-tuning, and the baselines, in one loop.

* :func:`prune` — magnitude or Wanda pruning (:mod:`sprig.seft.pruning`) of a trained dense
  model's ``nn.Linear`` layers (output heads excluded by default, as
  :func:`sprig.torch.sparsify`); Wanda's input norms come from forward pre-hooks over
  calibration batches. The pruned layers are truly sparse (no masks).
* :func:`finetune` — repair with one of :data:`METHODS`:

  - ``"seft"``: sparse fine-tuning; every ΔT steps the ``seft`` DST algorithm
    (:func:`sprig.sparsity.algorithms.seft`) regrows the non-stored positions of largest
    ``|∇w|`` and prunes back as many stored weights of smallest ``|w · ∇w|``, through
    :class:`sprig.torch.TopologyUpdater` (optimizer state carried through the remap, new
    entries' state zero); the nnz of every sparse layer is checked after every step;
  - ``"static"``: sparse fine-tuning with the topology frozen;
  - ``"dense"``: the sparse layers are densified (:func:`sprig.torch.densify`) and every
    weight is trained — the sparsity is lost (reported);
  - ``"lora"``: the model is frozen and rank-``r`` adapters (:class:`LoRALinear`) are added
    to every sparse layer; only the adapters train. :func:`merge_lora` folds them into dense
    ``nn.Linear`` layers (sparsity after merging reported).

  It returns a :class:`FinetuneResult`: trainable parameters, optimizer-state bytes, seconds,
  and the density of the covered layers after the run (after merging for LoRA).

The DST algorithm is one of sprig's (``"SEFT(fraction=0.1, every=20)"`` is parsed by the same
registry as ``sprig train --dst``), so sprig's own models run the same algorithm through
:class:`sprig.training.dst.TopologyUpdate`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..sparsity import algorithms as A
from ..torch.convert import DEFAULT_EXCLUDE, Exclude, _excluded, _set_module, densify
from ..torch.dst import TopologyUpdater
from ..torch.linear import SparseLinear
from . import lora as L
from .pruning import ActivationNorms, check_density, check_method, prune_dense

__all__ = [
    "METHODS",
    "FinetuneResult",
    "LoRALinear",
    "add_lora",
    "covered_density",
    "finetune",
    "merge_lora",
    "optimizer_state_bytes",
    "prune",
    "trainable_parameters",
]

#: Repair methods of :func:`finetune`.
METHODS = ("seft", "static", "dense", "lora")


# --------------------------------------------------------------------------- pruning
@torch.no_grad()
def prune(
    model: nn.Module,
    density: float,
    method: str = "magnitude",
    *,
    calibration: Iterable[Any] | None = None,
    forward: Callable[[nn.Module, Any], Any] | None = None,
    exclude: Iterable[Exclude] = DEFAULT_EXCLUDE,
    kernel: str = "auto",
) -> dict[str, dict[str, Any]]:
    """Post-training pruning of ``model``'s ``nn.Linear`` layers to ``density``, in place.

    Every covered layer (not matched by ``exclude``: path regexes, module types or predicates,
    default the output heads) becomes a :class:`~sprig.torch.SparseLinear` with only the kept
    weights (bias, dtype and device kept).

    Args:
        model: a trained dense model.
        density: density in ``(0, 1]`` of every covered layer.
        method: ``"magnitude"`` (per layer) or ``"wanda"`` (``|w|·‖x_j‖₂``, per output row).
        calibration: batches for Wanda, passed to ``forward(model, batch)`` (default
            ``model(batch)``), e.g. a few training inputs.
        exclude: layers to leave dense.
        kernel: :attr:`SparseLinear.kernel` of the new layers.

    Returns:
        per pruned layer: ``{"shape", "nnz", "density"}``.
    """
    check_method(method)
    d = check_density(density)
    rules = list(exclude)
    found = [
        (n, m)
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and not _excluded(model, n, m, rules)
    ]
    if not found:
        raise ConfigError("post-training pruning found no nn.Linear layer to prune")
    norms: dict[str, ActivationNorms] = {}
    if method == "wanda":
        if calibration is None:
            raise ConfigError("Wanda pruning needs calibration batches")
        norms = {n: ActivationNorms(m.in_features) for n, m in found}
        hooks = [
            m.register_forward_pre_hook(
                lambda mod, args, _n=n: norms[_n].add(args[0].detach().double().cpu(), axis=-1)
            )
            for n, m in found
        ]
        was = model.training
        model.eval()
        try:
            for batch in calibration:
                (forward or (lambda mdl, b: mdl(b)))(model, batch)
        finally:
            for h in hooks:
                h.remove()
            model.train(was)
        if any(v.count == 0 for v in norms.values()):
            raise ConfigError("Wanda pruning got no calibration samples through every layer")
    report = {}
    for n, m in found:
        W = m.weight.detach().cpu().double().numpy()
        C = prune_dense(W, d, method, sq_norms=norms[n].sq if n in norms else None)
        bias = None if m.bias is None else m.bias.detach().cpu().double().numpy()
        new = SparseLinear.from_csr(C, bias, device=m.weight.device, dtype=m.weight.dtype)
        new.kernel = kernel
        new.train(m.training)
        _set_module(model, n, new)
        report[n] = {"shape": C.shape, "nnz": C.nnz, "density": C.density}
    return report


# --------------------------------------------------------------------------- LoRA
class LoRALinear(nn.Module):
    r"""A frozen base layer plus a trainable rank-``r`` adapter:
    ``y = base(x) + (alpha / r) · x Aᵀ Bᵀ``.

    ``A (r × in)`` is drawn as ``nn.Linear``'s weight (Kaiming-uniform), ``B (out × r)``
    starts at zero, so the adapted layer starts equal to the base (Hu et al. 2022).
    """

    def __init__(
        self,
        base: nn.Module,
        rank: int = 8,
        alpha: float = 16.0,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ConfigError(f"LoRA rank must be a positive integer, got {rank!r}")
        self.base: Any = base
        for p in base.parameters():
            p.requires_grad_(False)
        b: Any = base
        out_f, in_f = int(b.out_features), int(b.in_features)
        ref = next(base.parameters())
        self.rank, self.scale = rank, float(alpha) / rank
        self.lora_A = nn.Parameter(torch.empty(rank, in_f, dtype=ref.dtype, device=ref.device))
        self.lora_B = nn.Parameter(torch.zeros(out_f, rank, dtype=ref.dtype, device=ref.device))
        bound = 1.0 / math.sqrt(in_f)  # kaiming_uniform_(a=√5) of nn.Linear
        with torch.no_grad():
            u = torch.rand(rank, in_f, generator=generator, dtype=torch.float64)
            self.lora_A.copy_((2 * u - 1) * bound)

    @property
    def in_features(self) -> int:
        return int(self.base.in_features)

    @property
    def out_features(self) -> int:
        return int(self.base.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale

    def merged(self) -> nn.Linear:
        """The merged dense ``nn.Linear``: ``W + (alpha / r) · B A`` (:func:`.lora.merge`)."""
        base = self.base
        W = base.to_csr() if isinstance(base, SparseLinear) else base.weight.detach().cpu().numpy()
        merged = L.merge(
            W,
            self.lora_A.detach().cpu().numpy(),
            self.lora_B.detach().cpu().numpy(),
            scale=self.scale,
        )
        ref = self.lora_A
        lin = nn.Linear(
            self.in_features,
            self.out_features,
            base.bias is not None,
            device=ref.device,
            dtype=ref.dtype,
        )
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(merged))
            if base.bias is not None:
                lin.bias.copy_(base.bias)
        return lin


def add_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0, *, seed: int = 0) -> list[str]:
    """Freeze every parameter of ``model`` and wrap each :class:`SparseLinear` in a
    :class:`LoRALinear`, in place; returns the wrapped paths."""
    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    names = [n for n, m in model.named_modules() if isinstance(m, SparseLinear)]
    if not names:
        raise ConfigError("LoRA: the model has no SparseLinear layer (prune it first)")
    for n in names:
        _set_module(model, n, LoRALinear(model.get_submodule(n), rank, alpha, generator=gen))
    return names


def merge_lora(model: nn.Module) -> dict[str, float]:
    """Replace every :class:`LoRALinear` by its merged dense ``nn.Linear``, in place;
    returns each merged layer's sparsity (fraction of exact zeros)."""
    out = {}
    for n, m in list(model.named_modules()):
        if isinstance(m, LoRALinear):
            lin = m.merged()
            _set_module(model, n, lin)
            out[n] = L.merged_sparsity(lin.weight.detach().cpu().numpy())
    return out


# --------------------------------------------------------------------------- accounting
def trainable_parameters(model: nn.Module) -> int:
    """Number of parameter entries with ``requires_grad``."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in the optimizer's state (moments, per-entry steps...)."""
    total = 0
    for st in optimizer.state.values():
        for v in st.values():
            if isinstance(v, torch.Tensor):
                total += v.numel() * v.element_size()
    return int(total)


def covered_density(model: nn.Module, paths: Iterable[str]) -> tuple[int, int]:
    """``(nonzero weights, dense size)`` over the layers at ``paths`` (sparse: stored entries;
    dense ``nn.Linear``: nonzero entries)."""
    nz = size = 0
    for n in paths:
        m: Any = model.get_submodule(n)
        if isinstance(m, SparseLinear):
            nz += m.nnz
        else:
            nz += int(torch.count_nonzero(m.weight.detach()))
        size += m.in_features * m.out_features
    return nz, size


@dataclass
class FinetuneResult:
    """What :func:`finetune` measured.

    Attributes:
        method: the repair method.
        steps: optimizer steps taken.
        seconds: wall time of the fine-tuning loop (excluding merging).
        trainable: trainable parameter entries.
        optimizer_bytes: bytes of optimizer state at the end.
        density: nonzero fraction of the covered layers after the run (after merging).
        losses: training loss of every step.
        topology_updates: SEFT updates performed.
        nnz_checked: steps after which every sparse layer's nnz was checked (SEFT).
    """

    method: str
    steps: int
    seconds: float
    trainable: int
    optimizer_bytes: int
    density: float
    losses: list[float] = field(default_factory=list)
    topology_updates: int = 0
    nnz_checked: int = 0


def _batches(batches: Iterable[Any] | Callable[[int], Any]) -> Iterator[Any]:
    if callable(batches):
        i = 0
        while True:
            yield batches(i)
            i += 1
    yield from batches


def finetune(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    batches: Iterable[Any] | Callable[[int], Any],
    *,
    steps: int,
    method: str = "seft",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    dst: str | A.DSTAlgorithm = "SEFT",
    rank: int = 8,
    alpha: float = 16.0,
    seed: int = 0,
    clip: float | None = 1.0,
) -> FinetuneResult:
    """Repair a pruned model (from :func:`prune`) with ``method``, in place (see the module
    docstring). ``loss_fn(model, batch) -> loss``; ``batches``: an iterable or
    ``step -> batch``. AdamW (``lr``, ``weight_decay``) over the trainable parameters;
    gradient-norm clipping at ``clip``. ``dst`` is the SEFT algorithm or its spec (its
    ``every``/``end`` are relative to ``steps``). For ``"lora"`` the adapters are merged at the
    end; the model then holds dense layers.
    """
    if method not in METHODS:
        raise ConfigError(f"fine-tuning method must be one of {METHODS}, got {method!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    covered = [n for n, m in model.named_modules() if isinstance(m, SparseLinear)]
    if not covered:
        raise ConfigError("fine-tuning: the model has no SparseLinear layer (prune it first)")
    if method == "dense":
        densify(model)
    elif method == "lora":
        add_lora(model, rank, alpha, seed=seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    updater = None
    targets: dict[str, int] = {}
    if method == "seft":
        updater = TopologyUpdater(model, opt, dst, epochs=1, steps_per_epoch=steps, seed=seed)
        targets = {n: m.nnz for n, m in updater.layers.items()}
    result = FinetuneResult(method, 0, 0.0, trainable_parameters(model), 0, float("nan"))
    model.train()
    t0 = time.perf_counter()
    it = _batches(batches)
    for _ in range(steps):
        batch = next(it)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        result.losses.append(float(loss.detach()))
        result.steps += 1
        if updater is not None:
            if updater.step() is not None:
                result.topology_updates += 1
            for n, m in updater.layers.items():
                if m.nnz != targets[n] or m.col_indices.numel() != targets[n]:
                    raise A.NnzMismatchError(f"{n}: nnz {m.nnz} after step, target {targets[n]}")
            result.nnz_checked += 1
    result.seconds = time.perf_counter() - t0
    result.optimizer_bytes = optimizer_state_bytes(opt)
    if method == "lora":
        merge_lora(model)
    nz, size = covered_density(model, covered)
    result.density = nz / size if size else float("nan")
    return result
