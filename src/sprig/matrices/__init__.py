"""Sparse matrices: the CSR type, its edit mapping and the JIT kernels."""

from .csr import CSRMatrix as CSRMatrix
from .csr import nnz_from_density as nnz_from_density
from .remap import Remap as Remap
