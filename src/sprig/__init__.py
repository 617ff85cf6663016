"""sprig: truly sparse neural networks (CSR weights, O(nnz) kernels, dynamic sparse training).

Start with :func:`sparse_mlp` and :func:`fit`, the ``sprig`` command, or
:class:`~sprig.estimator.SparseMLPClassifier`.
"""

from .api import fit as fit
from .api import sparse_mlp as sparse_mlp
from .errors import CheckpointError as CheckpointError
from .errors import ConfigError as ConfigError
from .errors import DataError as DataError
from .errors import DivergenceError as DivergenceError
from .errors import SprigError as SprigError
from .matrices import CSRMatrix as CSRMatrix
from .matrices import Remap as Remap
from .models import MLP as MLP
from .runtime import set_num_threads as set_num_threads
from .training.loop import Trainer as Trainer

__version__ = "0.1.0"
