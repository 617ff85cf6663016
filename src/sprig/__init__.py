"""sprig: truly sparse neural networks (CSR weights, O(nnz) kernels, dynamic sparse training)."""

from .matrices import CSRMatrix as CSRMatrix
from .matrices import Remap as Remap
from .runtime import set_num_threads as set_num_threads

__version__ = "0.1.0"
