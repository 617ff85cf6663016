"""Sparsity: layer densities, prune and grow criteria, schedules and DST algorithms.

``REGISTRY`` maps kind → name → constructor/criterion: ``REGISTRY["algorithm"]["rigl"]``,
``REGISTRY["prune"]["magnitude"]``, ``REGISTRY["grow"]["gradient"]``,
``REGISTRY["density"]["erk"]``.
"""

from .algorithms import ALGORITHMS as ALGORITHMS
from .algorithms import DSTAlgorithm as DSTAlgorithm
from .algorithms import Edit as Edit
from .algorithms import NnzMismatchError as NnzMismatchError
from .algorithms import TopologyRecord as TopologyRecord
from .algorithms import UpdateStats as UpdateStats
from .algorithms import apply_edit as apply_edit
from .algorithms import check_nnz as check_nnz
from .algorithms import gmp as gmp
from .algorithms import granet as granet
from .algorithms import magran as magran
from .algorithms import mest as mest
from .algorithms import rigl as rigl
from .algorithms import seft as seft
from .algorithms import set_ as set_
from .algorithms import snfs as snfs
from .algorithms import static as static
from .density import DENSITY_RULES as DENSITY_RULES
from .density import erdos_renyi as erdos_renyi
from .density import erk as erk
from .density import layer_nnz as layer_nnz
from .density import set_epsilon as set_epsilon
from .density import shapes_from_sizes as shapes_from_sizes
from .density import uniform as uniform
from .grow import GROW_CRITERIA as GROW_CRITERIA
from .grow import gradient_grow as gradient_grow
from .grow import momentum_grow as momentum_grow
from .grow import random_grow as random_grow
from .grow import sampled_gradient_grow as sampled_gradient_grow
from .grow import snfs_redistribute as snfs_redistribute
from .info import GradientSample as GradientSample
from .info import LayerInfo as LayerInfo
from .info import momentum_of as momentum_of
from .init_pruning import INIT_PRUNING_METHODS as INIT_PRUNING_METHODS
from .init_pruning import prune_at_init as prune_at_init
from .prune import PRUNE_CRITERIA as PRUNE_CRITERIA
from .schedules import SoftMemoryBound as SoftMemoryBound
from .schedules import UpdateSchedule as UpdateSchedule

REGISTRY = {
    "algorithm": ALGORITHMS,
    "prune": PRUNE_CRITERIA,
    "grow": GROW_CRITERIA,
    "density": DENSITY_RULES,
    "init_pruning": {name: prune_at_init for name in INIT_PRUNING_METHODS},
}
