"""Losses on feature-major ``(K, N)`` batches, and their registry.

``REGISTRY`` maps each spec name (``Loss.name``) to its class: every ``@LOSSES.register``
declaration of the modules below.
"""

from ..specs.registry import LOSSES as _LOSSES
from .base import Loss as Loss
from .base import Reduction as Reduction
from .base import check_targets as check_targets
from .cross_entropy import CrossEntropy as CrossEntropy
from .heads import HeadsLoss as HeadsLoss
from .logistic_cross_entropy import LogisticCrossEntropy as LogisticCrossEntropy
from .mean_squared_error import MeanSquaredError as MeanSquaredError
from .negative_log_likelihood import NegativeLogLikelihood as NegativeLogLikelihood
from .softmax_cross_entropy import SoftmaxCrossEntropy as SoftmaxCrossEntropy
from .squared_error import SquaredError as SquaredError

REGISTRY: dict[str, type[Loss]] = _LOSSES.implementations()
