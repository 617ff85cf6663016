"""The backend seam: the few operations sparse training needs, behind one small interface.

Everything a truly sparse layer, an optimizer or a topology update does to the arrays goes
through an :class:`~sprig.backend.base.Ops` (thinc's ``Ops`` is the model):

* the three products of a training step, in sprig's feature-major convention
  (``W: (K, D)``, ``Xt: (D, N)``): ``spmm`` (``W Xt + b 1ᵀ``), ``spmm_t`` (``Wᵀ dYt``) and
  ``sddmm`` (``dYt Xtᵀ`` at the stored positions only);
* the topology edit (``edit``) and the carrying of a per-entry array through its
  :class:`~sprig.matrices.Remap` (``remap``);
* the fused element-wise optimizer updates (``sgd_step``, ``momentum_step``, ``adam_step``).

:class:`NumpyOps` runs on NumPy arrays with sprig's Numba kernels; ``TorchOps``
(``sprig.backend.torch``, needs PyTorch) runs on torch tensors of any device with
``torch.sparse`` (cuSPARSE on CUDA). Both take the topology as a backend object made from a
:class:`~sprig.matrices.CSRMatrix` by ``ops.topology(W)``. sprig's own
:class:`~sprig.layers.SparseLinear` runs its three products through ``SparseLinear.ops`` (a
:class:`NumpyOps`); ``sprig.torch.SparseLinear`` through the same interface on torch tensors.
The optimizer updates of :class:`NumpyOps` are sprig's optimizer classes themselves and the
topology edit is :meth:`CSRMatrix.edit`, so each rule exists once.
"""

from .base import Ops as Ops
from .numpy import NumpyOps as NumpyOps

__all__ = ["NumpyOps", "Ops", "get_ops"]


def get_ops(name: str) -> Ops:
    """The backend called ``name``: ``"numpy"`` or ``"torch"`` (needs PyTorch).

    Raises:
        ValueError: for any other name.
    """
    if name == "numpy":
        return NumpyOps()
    if name == "torch":
        from .torch import TorchOps

        return TorchOps()
    raise ValueError(f"unknown backend {name!r}; allowed: 'numpy', 'torch'")
