r"""SMET as a ``torch.optim.Optimizer``: Adam with per-entry steps, momentum warm-up and a
density-aware learning rate, state only for the stored entries.

The update rule is :class:`sprig.optimizers.SMET`'s (``sprig.optimizers.Adam`` with
``per_entry_steps=True, warmup_steps=W``), run by the same code: on CPU float32/float64
parameters through :class:`sprig.backend.NumpyOps` (sprig's fused Numba loop, on NumPy views
of the torch tensors), elsewhere through :class:`sprig.backend.torch.TorchOps` (the same
formula in torch operations). State per parameter ``p``: ``exp_avg`` and ``exp_avg_sq`` (shape
and dtype of ``p``) and ``step`` (an int32 counter per entry): for a
:class:`~sprig.torch.SparseLinear` they are ``(nnz,)``, aligned with ``values``, and
:class:`~sprig.torch.TopologyUpdater` carries them through topology edits (inserted entries get
zeros, so their first update is a fresh Adam's first update, then warmed up over ``W`` steps).

Density-aware learning rate: the ``values`` of a sparse layer with density ``d`` are updated
with ``lr · d^(−density_lr_power)`` (other parameters with ``lr``), recomputed every step;
``density_lr_power = 1`` is SMET's released ``lr / density``, 0 (default) turns it off, as
sprig's trainer option of the same name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..backend.numpy import NumpyOps
from ..backend.torch import TorchOps
from ..errors import ConfigError
from ..optimizers import SMET as _SprigSMET

__all__ = ["SMET"]

_NUMPY = NumpyOps()
_TORCH = TorchOps()


def _density(p: torch.Tensor) -> float | None:
    size = getattr(p, "sparse_size", None)
    return None if not size else p.numel() / size


class SMET(torch.optim.Optimizer):
    """SMET (module docstring).

    Args:
        params: parameters or parameter groups.
        lr: learning rate ``>= 0``.
        betas, eps, weight_decay: as :class:`sprig.optimizers.Adam` (coupled L2 decay).
        warmup_steps: momentum warm-up ``W >= 0`` (SMET's default 100; 0 turns it off).
        density_lr_power: ``p >= 0`` of the density-aware learning rate.
        backend: ``"auto"``, ``"numpy"`` (CPU float32/float64 only) or ``"torch"``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        warmup_steps: int = 100,
        density_lr_power: float = 0.0,
        backend: str = "auto",
    ) -> None:
        # Validate with sprig's own class: one set of constraints and messages.
        _SprigSMET(
            betas=tuple(betas),  # type: ignore[arg-type]
            eps=eps,
            weight_decay=weight_decay,
            warmup_steps=warmup_steps,
        )
        if not (isinstance(lr, float | int) and lr >= 0):
            raise ConfigError(f"lr must be a number >= 0, got {lr!r}")
        if not (isinstance(density_lr_power, float | int) and density_lr_power >= 0):
            raise ConfigError(f"density_lr_power must be a number >= 0, got {density_lr_power!r}")
        if backend not in ("auto", "numpy", "torch"):
            raise ConfigError(f"backend must be 'auto', 'numpy' or 'torch', got {backend!r}")
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "warmup_steps": warmup_steps,
            "density_lr_power": density_lr_power,
        }
        self.backend = backend
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise ValueError("SMET does not take sparse gradient tensors")
                st = self.state[p]
                if not st:
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
                    st["step"] = torch.zeros(p.shape, dtype=torch.int32, device=p.device)
                lr = float(group["lr"])
                d = _density(p)
                if d and group["density_lr_power"]:
                    lr *= d ** (-float(group["density_lr_power"]))
                kw = {
                    "lr": lr,
                    "betas": group["betas"],
                    "eps": float(group["eps"]),
                    "weight_decay": float(group["weight_decay"]),
                    "warmup_steps": int(group["warmup_steps"]),
                }
                m, v, t = st["exp_avg"], st["exp_avg_sq"], st["step"]
                numpy_ok = p.device.type == "cpu" and p.dtype in (torch.float32, torch.float64)
                use_numpy = self.backend == "numpy" or (self.backend == "auto" and numpy_ok)
                if use_numpy:
                    if not (numpy_ok and p.is_contiguous()):
                        raise ValueError("backend='numpy' needs contiguous CPU float32/64 params")
                    _NUMPY.adam_step(
                        p.detach().numpy(), p.grad.numpy(), m.numpy(), v.numpy(), t.numpy(), **kw
                    )
                else:
                    _TORCH.adam_step(p, p.grad, m, v, t, **kw)
        return loss
