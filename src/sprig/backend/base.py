r"""The backend interface (see the package docstring).

Conventions shared by every implementation:

* a *topology* is the backend's own object for the index arrays of a CSR weight of shape
  ``(K, D)`` (rows sorted, columns sorted and unique within a row), made by :meth:`Ops.topology`
  from a :class:`~sprig.matrices.CSRMatrix`; values travel separately as a ``(nnz,)`` array, so
  an optimizer can update them in place without touching the topology;
* activations are feature-major: ``Xt`` is ``(D, N)``, ``dYt`` is ``(K, N)``;
* per-entry arrays (gradients, optimizer moments, step counters) are aligned with the values.

Update rules of the fused optimizer steps (element-wise over one flat array, in place; these
are exactly :mod:`sprig.optimizers`' rules, see ``optimizers/_kernels.py``):

* ``sgd_step``: ``w ← w − lr (g + wd w)``;
* ``momentum_step``: ``d ← μ d − lr (g + wd w)``; ``w ← w + d`` (Nesterov:
  ``w ← w + μ d − lr (g + wd w)``);
* ``adam_step``: :class:`sprig.optimizers.Adam`'s rule; ``step`` is an int (shared counter,
  already incremented by the caller) or an int32 per-entry array (incremented here, SMET).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ..matrices import CSRMatrix, Remap


class Ops(ABC):
    """The sparse-training operations of one array library (NumPy, PyTorch)."""

    name: ClassVar[str]

    @abstractmethod
    def topology(self, W: CSRMatrix, device: Any = None) -> Any:
        """The backend's topology object for ``W``'s index arrays (values not included)."""

    @abstractmethod
    def values(self, W: CSRMatrix, device: Any = None) -> Any:
        """``W``'s values as a ``(nnz,)`` array of this backend."""

    @abstractmethod
    def to_csr(self, topo: Any, values: Any) -> CSRMatrix:
        """A :class:`CSRMatrix` (NumPy, host memory) holding ``topo`` and ``values``."""

    @abstractmethod
    def spmm(self, topo: Any, values: Any, Xt: Any, bias: Any = None, *, relu: bool = False) -> Any:
        """``Yt = W Xt + b 1ᵀ``: ``(K, N)`` from ``Xt: (D, N)``; cost ``O(N · nnz)``.
        ``relu`` returns ``max(Yt, 0)`` (a fused following ReLU)."""

    @abstractmethod
    def spmm_t(self, topo: Any, values: Any, dYt: Any) -> Any:
        """``dXt = Wᵀ dYt``: ``(D, N)`` from ``dYt: (K, N)``; cost ``O(N · nnz)``."""

    @abstractmethod
    def sddmm(
        self,
        topo: Any,
        dYt: Any,
        Xt: Any,
        *,
        out: Any = None,
        row_sums: Any = None,
        mask: Any = None,
    ) -> Any:
        """``(dYt Xtᵀ)[i, j]`` at every stored ``(i, j)``: ``(nnz,)``; cost ``O(N · nnz)``.

        Written into ``out`` when given. ``row_sums`` (``(K,)``) receives ``dYt 1`` (the bias
        gradient) in the same pass; ``mask`` (shape of ``dYt``) first zeroes ``dYt`` **in
        place** where ``mask <= 0`` (the derivative of a fused ReLU whose output is ``mask``).
        """

    def backward(
        self,
        topo: Any,
        values: Any,
        dYt: Any,
        Xt: Any,
        *,
        out: Any = None,
        row_sums: Any = None,
        mask: Any = None,
    ) -> tuple[Any, Any]:
        """Both backward products, ``(sddmm(topo, dYt, Xt, out=, row_sums=, mask=),
        spmm_t(topo, values, dYt))``; a backend may fuse them (NumPy: one pass)."""
        grad = self.sddmm(topo, dYt, Xt, out=out, row_sums=row_sums, mask=mask)
        return grad, self.spmm_t(topo, values, dYt)

    @abstractmethod
    def edit(
        self, topo: Any, drop: Any = (), add_rows: Any = (), add_cols: Any = ()
    ) -> tuple[Any, Remap]:
        """Remove stored positions ``drop`` and insert ``(add_rows, add_cols)`` (as
        :meth:`CSRMatrix.edit`); returns the new topology and the entry :class:`Remap`."""

    @abstractmethod
    def remap(self, arr: Any, remap: Remap, fill: Any = 0) -> Any:
        """Carry a per-entry array through ``remap``; inserted entries get ``fill``."""

    @abstractmethod
    def sgd_step(self, w: Any, g: Any, *, lr: float, weight_decay: float = 0.0) -> None:
        """Plain SGD, in place."""

    @abstractmethod
    def momentum_step(
        self,
        w: Any,
        g: Any,
        d: Any,
        *,
        lr: float,
        momentum: float,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        """SGD with (Nesterov) momentum, velocity ``d``, in place."""

    @abstractmethod
    def adam_step(
        self,
        w: Any,
        g: Any,
        m: Any,
        v: Any,
        step: Any,
        *,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
        warmup_steps: int = 0,
    ) -> None:
        """Adam / AdamW with SMET's options, in place (module docstring)."""
