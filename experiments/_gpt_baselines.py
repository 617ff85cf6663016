"""The masked baseline of the GPT experiments (what users of mask-based DST libraries run today)
and the memory accounting shared by ``experiments/gpt_char.py`` and ``benchmarks/gpt_step.py``.

``MaskedLinear`` is a dense ``nn.Linear`` whose weight is multiplied by a fixed binary mask in
every forward pass (the approach of ``torch.nn.utils.prune``, sparse_learning, rigl-torch):
the full ``(out × in)`` weight, its gradient and its Adam moments are stored, and every product
is a dense GEMM. :func:`masked_magran` is MagRan on such masks (drop the ``round(p·nnz)``
smallest ``|w|`` of each layer, regrow as many positions uniformly at random among the
inactive ones, new weights 0, the new entries' Adam moments reset to 0 — rigl's
``reset_momentum``); the Adam step counter stays shared, as in those libraries.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class MaskedLinear(nn.Linear):
    """``nn.Linear`` with ``weight * mask`` in the forward pass (``mask``: a bool buffer)."""

    mask: torch.Tensor

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, mask: torch.Tensor):
        out_f, in_f = weight.shape
        super().__init__(in_f, out_f, bias is not None, dtype=weight.dtype)
        with torch.no_grad():
            self.weight.copy_(weight * mask)
            if bias is not None:
                self.bias.copy_(bias)
        self.register_buffer("mask", mask.to(torch.bool).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def masked_from_sparse(model: nn.Module) -> nn.Module:
    """Replace every ``SparseLinear`` of ``model`` (in place) by a :class:`MaskedLinear` with the
    same topology, values and bias, so the masked run starts exactly where the sparse one does."""
    from sprig.torch.linear import SparseLinear

    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, SparseLinear):
                W = child.dense_weight()
                bias = None if child.bias is None else child.bias.detach()
                setattr(module, child_name, MaskedLinear(W, bias, W != 0))
        del name
    return model


def masked_layers(model: nn.Module) -> list[MaskedLinear]:
    return [m for m in model.modules() if isinstance(m, MaskedLinear)]


@torch.no_grad()
def masked_magran(
    model: nn.Module, optimizer: torch.optim.Optimizer, fraction: float, gen: torch.Generator
) -> int:
    """One MagRan update of every :class:`MaskedLinear` (see the module docstring); returns
    the number of regrown positions."""
    total = 0
    for layer in masked_layers(model):
        mask = layer.mask.view(-1)
        w = layer.weight.view(-1)
        active = mask.nonzero().view(-1)
        k = round(fraction * active.numel())
        if k == 0:
            continue
        drop = active[torch.topk(w[active].abs(), k, largest=False).indices]
        mask[drop] = False
        free = (~mask).nonzero().view(-1)
        grow = free[torch.randperm(free.numel(), generator=gen)[:k]]
        mask[grow] = True
        w[drop] = 0.0
        w[grow] = 0.0
        state = optimizer.state.get(layer.weight, {})
        for key in ("exp_avg", "exp_avg_sq", "momentum_buffer"):
            if key in state:
                state[key].view(-1)[grow] = 0.0
        total += k
    return total


def tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def memory_bytes(model: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict[str, int]:
    """Bytes of the model's parameters + buffers (index arrays, masks) and of the optimizer
    state (every tensor in ``optimizer.state``, step counters included)."""
    params = sum(tensor_bytes(p) for p in model.parameters())
    buffers = sum(tensor_bytes(b) for b in model.buffers())
    opt = 0
    if optimizer is not None:
        for state in optimizer.state.values():
            for value in state.values():
                if isinstance(value, torch.Tensor):
                    opt += tensor_bytes(value)
    return {
        "parameters": params,
        "buffers": buffers,
        "optimizer": opt,
        "total": params + buffers + opt,
    }


def linear_stats(model: nn.Module) -> dict[str, Any]:
    """Stored weights of the blocks' linear layers (all kinds) and their overall density."""
    from sprig.torch.linear import SparseLinear

    stored = full = 0
    for name, m in model.named_modules():
        if not name.startswith("blocks."):
            continue
        if isinstance(m, SparseLinear):
            stored += m.nnz
            full += m.in_features * m.out_features
        elif isinstance(m, MaskedLinear):
            stored += int(m.mask.sum())
            full += m.weight.numel()
        elif isinstance(m, nn.Linear):
            stored += m.weight.numel()
            full += m.weight.numel()
    return {"stored": stored, "full": full, "density": stored / max(full, 1)}
