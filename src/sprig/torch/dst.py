r"""Dynamic sparse training for torch models: :class:`TopologyUpdater`.

It runs sprig's DST algorithms (:mod:`sprig.sparsity.algorithms`, built from the same spec
strings as ``sprig train --dst``: ``"SET(0.3)"``, ``"RigL(fraction=0.3, every=100)"``, ...) on the
:class:`~sprig.torch.SparseLinear` modules of a model, keyed by their module path names
(``"blocks.0.attn.q"``), applies the edits (``CSRMatrix.edit`` + ``Remap``) and carries the
gradient and every per-entry optimizer state tensor through the remap: ``momentum_buffer`` of
``torch.optim.SGD``; ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``) of ``Adam``/``AdamW``
(their scalar ``step`` is shared and kept); ``exp_avg``, ``exp_avg_sq`` and the per-entry
``step`` of :class:`~sprig.torch.SMET`. Inserted entries get zeros. The ``values`` parameters
keep their ``nn.Parameter`` objects, so the optimizer keeps working without a rebuild.

Usage, one call after every ``optimizer.step()``::

    updater = TopologyUpdater(model, optimizer, "RigL(fraction=0.3, every=100)",
                              epochs=10, steps_per_epoch=len(loader))
    for epoch in range(10):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            updater.step()

When updates happen (``t`` = optimizer steps taken, counted by :meth:`TopologyUpdater.step`):

* step-unit algorithms (RigL, GraNet, GMP): after step ``t`` when ``due(t)``;
* epoch-unit algorithms (SET, MagRan, SNFS, MEST): after the last step of epoch ``e − 1``
  (``t = e · steps_per_epoch``) when ``due(e)`` — i.e. at the start of epoch ``e`` as in
  sprig's trainer.

Gradient information: algorithms that grow by gradient (RigL, GraNet, SNFS) get the layer's
batch gradient in factored form ``dW = dYᵀ X`` (:class:`~sprig.sparsity.GradientSample`),
recorded by the layers' backward pass of the batch just before the update (the updater arms
the recording for that batch only; sprig's trainer probes the next epoch's first batch
instead for epoch-unit algorithms); MEST gets ``values.grad``; SNFS's redistribution gets
``exp_avg / (√exp_avg_sq + eps)`` (Adam-like) or ``momentum_buffer`` (SGD).

Data-parallel (``torch.distributed`` initialised with more than one rank, or ``group=``): the
gradient samples of all ranks are gathered (the sample of the global batch), ``values.grad``
is averaged, rank ``src`` proposes the edits and broadcasts them (:mod:`sprig.torch.distributed`),
every rank applies the same edits and records the same statistics, so topologies are identical
on every rank after every update. Weights must already agree (DDP or
:func:`~sprig.torch.distributed.all_reduce_gradients`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..sparsity import algorithms as A
from ..sparsity.info import GradientSample, LayerInfo
from . import distributed as D
from .linear import SparseLinear, torch_threads

__all__ = ["TopologyUpdater"]

#: Last entropy word of the DST generator's seed (ASCII "DST"), as sprig's trainer.
DST_TAG = 0x445354


def _needs(alg: A.DSTAlgorithm) -> tuple[bool, bool, bool]:
    """(gradient sample, gradient, momentum): what the algorithm declares it reads
    (``DSTAlgorithm.needs``, the same declaration sprig's own trainer reads)."""
    from ..sparsity.info import GRADIENT, GRADIENT_SAMPLE, MOMENTUM

    return GRADIENT_SAMPLE in alg.needs, GRADIENT in alg.needs, MOMENTUM in alg.needs


def _np(t: Any) -> np.ndarray:
    if isinstance(t, np.ndarray):
        a = t
    else:
        a = t.detach().cpu()
        if a.dtype not in (torch.float32, torch.float64):
            a = a.float()
        a = a.numpy()
    return np.ascontiguousarray(a)


class TopologyUpdater:
    """Apply a DST algorithm to a torch model's :class:`SparseLinear` layers (module docstring).

    Args:
        model: the model (``DistributedDataParallel`` is unwrapped).
        optimizer: the ``torch.optim.Optimizer`` whose state follows the edits (``None``:
            no optimizer state to carry).
        dst: a spec string (``"SET(0.3)"``, ``"RigL(fraction=0.3, every=100)"``, ... as
            ``sprig train --dst``) or a :class:`~sprig.sparsity.DSTAlgorithm`.
        epochs, steps_per_epoch: the run's length (needed by specs, as the trainer's);
            ``steps_per_epoch`` also places epoch-unit updates.
        final_density: target of the dense-to-sparse algorithms (GMP, GraNet).
        seed: seeds the algorithm's random stream.
        group: process group for data-parallel training (default: the world, if initialised).
        src: the rank that proposes the edits.

    Raises:
        ConfigError: on a bad spec, missing ``epochs``/``steps_per_epoch``, or a model without
            sparse layers.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        dst: str | A.DSTAlgorithm = "SET(0.3)",
        *,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        final_density: float | None = None,
        seed: int = 0,
        group: Any = None,
        src: int = 0,
    ) -> None:
        model = getattr(model, "module", model)  # DDP
        self.model, self.optimizer = model, optimizer
        self.layers: dict[str, SparseLinear] = {
            n: m for n, m in model.named_modules() if isinstance(m, SparseLinear)
        }
        if not self.layers:
            raise ConfigError("the model has no SparseLinear layers (call sprig.torch.sparsify)")
        for name, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if isinstance(dst, A.DSTAlgorithm):
            self.algorithm = dst
        else:
            if epochs is None or steps_per_epoch is None:
                raise ConfigError(
                    f"dst={dst!r} needs epochs= and steps_per_epoch= (the run's length)"
                )
            from ..training.dst import make_algorithm

            self.algorithm = make_algorithm(
                dst, epochs=epochs, steps_per_epoch=steps_per_epoch, final_density=final_density
            )
        if self.algorithm.update.unit == "epoch" and steps_per_epoch is None:
            raise ConfigError(f"{self.algorithm.name} updates per epoch: give steps_per_epoch=")
        self.steps_per_epoch = steps_per_epoch
        self.needs_sample, self.needs_grad, self.needs_momentum = _needs(self.algorithm)
        self.rng = np.random.default_rng([seed, DST_TAG])
        self.group, self.src = group, src
        self.t = 0
        self.history: list[dict[str, Any]] = []
        self._arm()

    # ------------------------------------------------------------------ schedule
    def _due(self, t: int) -> tuple[bool, int]:
        """Is an update due after optimizer step ``t``, and at which ``t`` of its unit?"""
        if self.algorithm.update.unit == "step":
            return self.algorithm.due(t), t
        spe = self.steps_per_epoch
        assert spe is not None
        if t % spe:
            return False, t // spe
        return self.algorithm.due(t // spe), t // spe

    def _arm(self) -> None:
        want = self.needs_sample and self._due(self.t + 1)[0]
        for m in self.layers.values():
            m._record_sample = want
            if not want:
                m._sample = None

    def step(self) -> dict[str, Any] | None:
        """Count one optimizer step; update the topology if due. Returns the update's
        per-layer statistics (``{name: UpdateStats}`` under ``"layers"``) or ``None``."""
        self.t += 1
        due, t = self._due(self.t)
        if due:
            with torch_threads():  # sprig's CPU kernels at PyTorch's thread count
                out = self.update(t)
        else:
            out = None
        self._arm()
        return out

    # ------------------------------------------------------------------ the update
    def _distributed(self) -> bool:
        return D.is_distributed(self.group)

    def _optimizer_state(self, p: torch.Tensor) -> dict[str, Any]:
        if self.optimizer is None:
            return {}
        return self.optimizer.state.get(p, {})

    def _momentum(self, m: SparseLinear) -> np.ndarray | None:
        st = self._optimizer_state(m.values)
        if "exp_avg" in st and "exp_avg_sq" in st:
            return _np(st["exp_avg"] / (st["exp_avg_sq"].sqrt() + 1e-8))
        if st.get("momentum_buffer") is not None:
            return _np(st["momentum_buffer"])
        return None

    def _info(self, name: str, m: SparseLinear, dist_on: bool) -> LayerInfo:
        sample = grad = mom = None
        if self.needs_sample:
            if m._sample is None:
                raise RuntimeError(
                    f"{self.algorithm.name} needs the gradient of the last batch of layer "
                    f"{name!r}, but none was recorded: call updater.step() once after every "
                    "optimizer.step(), with a backward pass through the layer in between"
                )
            Xt, dYt = (_np(a) for a in m._sample)
            if dist_on:
                world = torch.distributed.get_world_size(self.group)
                Xt = D.all_gather_columns(Xt, self.group)
                dYt = D.all_gather_columns(dYt, self.group) / dYt.dtype.type(world)
            sample = GradientSample(Xt, dYt.astype(Xt.dtype))
        if self.needs_grad:
            if m.values.grad is None:
                raise RuntimeError(f"{self.algorithm.name} needs values.grad of layer {name!r}")
            grad = _np(m.values.grad).copy()
            if dist_on:
                D.all_reduce_arrays([grad], self.group)
        if self.needs_momentum:
            mom = self._momentum(m)
        return LayerInfo(grad=grad, momentum=mom, sample=sample)

    def update(self, t: int) -> dict[str, Any]:
        """Run one topology update at ``t`` (in the algorithm's unit), regardless of
        :meth:`DSTAlgorithm.due`; :meth:`step` calls it when due."""
        dist_on = self._distributed()
        rank = torch.distributed.get_rank(self.group) if dist_on else self.src
        names = list(self.layers)
        csr = {n: m.to_csr() for n, m in self.layers.items()}
        layers = {n: (csr[n], self._info(n, m, dist_on)) for n, m in self.layers.items()}
        if rank == self.src:
            edits = self.algorithm.propose_all(layers, t, self.rng)
        if dist_on:
            sent = D.broadcast_edits(
                edits if rank == self.src else None, names, src=self.src, group=self.group
            )
            if rank != self.src:
                edits = sent  # keep the ITOP record (and the statistics) in step
                for n in names:
                    self.algorithm.record.observe(n, csr[n])
                edits = {
                    n: A.Edit(
                        e.drop,
                        e.add_rows,
                        e.add_cols,
                        e.add_values,
                        self.algorithm.record.record(n, csr[n], e, t),
                    )
                    for n, e in edits.items()
                }
        stats = {}
        for n in names:
            edit = edits[n]
            assert edit.stats is not None
            self.apply(n, edit, W=csr[n], nnz=edit.stats.nnz)
            stats[n] = edit.stats
        for m in self.layers.values():
            m._sample = None
        row = {"t": t, "step": self.t, "layers": stats}
        self.history.append(row)
        return row

    def apply(self, name: str, edit: A.Edit, *, W: Any = None, nnz: int | None = None) -> Any:
        """Apply ``edit`` to layer ``name``, carrying ``values.grad`` and the optimizer's
        per-entry state through the remap (inserted entries get 0); returns the
        :class:`~sprig.matrices.Remap`. ``nnz``: the intended count (checked)."""
        from ..backend.torch import TorchOps

        m = self.layers[name]
        W2, remap = A.apply_edit(m.to_csr() if W is None else W, edit)
        if nnz is not None:
            A.check_nnz(W2, nnz, name)
        ops = TorchOps()
        p = m.values
        old_nnz = p.numel()
        grad = p.grad
        st = self._optimizer_state(p)
        m.set_topology(W2.indptr, W2.indices, torch.from_numpy(W2.data))
        if grad is not None:
            p.grad = ops.remap(grad, remap, 0)
        for k, v in list(st.items()):
            if isinstance(v, torch.Tensor) and v.dim() >= 1 and v.shape[0] == old_nnz:
                st[k] = ops.remap(v, remap, 0)
        return remap

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Step count, random stream and ITOP record (tensors, ints and strings only)."""
        rec = self.algorithm.record.state_dict()
        return {
            "t": self.t,
            "rng": self.rng.bit_generator.state,
            "initial_nnz": dict(rec["initial_nnz"]),
            "ever_active": {k: torch.from_numpy(v) for k, v in rec["ever_active"].items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.t = int(state["t"])
        self.rng.bit_generator.state = dict(state["rng"])
        self.algorithm.record.load_state_dict(
            {
                "initial_nnz": state["initial_nnz"],
                "ever_active": {k: np.asarray(v) for k, v in state["ever_active"].items()},
            }
        )
        self._arm()
