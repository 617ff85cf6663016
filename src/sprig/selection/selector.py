"""``SparseFeatureSelector``: QuickSelection / neuron attribution as a scikit-learn transformer.

Needs scikit-learn (the optional ``sklearn`` extra); :mod:`sprig.selection` imports this
module lazily, so ``import sprig.selection`` works without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator
    from sklearn.feature_selection import SelectorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "SparseFeatureSelector needs scikit-learn: pip install 'sprig[sklearn]'"
    ) from e

from .attribution import VARIANTS, train_attribution
from .quickselection import train_sparse_dae
from .rankings import RANKINGS, top_k

__all__ = ["METHODS", "SparseFeatureSelector"]

#: Selection methods and their default ranking / accumulation variant.
METHODS = {"quickselection": "strength", "attribution": "sum_epoch"}


class SparseFeatureSelector(SelectorMixin, BaseEstimator):  # type: ignore[misc]
    """Select the ``k`` most important features with a truly sparse network.

    ``method="quickselection"`` (unsupervised, ``y`` ignored) trains QuickSelection's sparse
    denoising autoencoder with SET (:func:`~sprig.selection.train_sparse_dae`) and ranks features
    by ``ranking`` (default ``"strength"``; any of :data:`~sprig.selection.RANKINGS`).
    ``method="attribution"`` (supervised, needs class labels ``y``) trains a sparse MLP with
    ``dst`` (``"set"`` or ``"rigl"``; :func:`~sprig.selection.train_attribution`) and ranks by
    the neuron-attribution variant ``ranking`` (default ``"sum_epoch"``; or ``"epoch"``,
    ``"itr"``, ``"strength"``).

    Args:
        k: number of features to keep (``"all"`` keeps all; an int larger than the number of
            features is an error).
        method: ``"quickselection"`` or ``"attribution"``.
        ranking: ranking / variant name; ``None`` for the method's default.
        epochs: training epochs (``None``: 100 for QuickSelection, 200 for attribution).
        hidden: hidden width(s); ``None`` for the published ``1000`` / ``(1000, 100)``.
        density: overall ERK density of the attribution MLP.
        epsilon: SET's ``ε`` of the autoencoder (``ε (n_in + n_out)`` weights per layer).
        dst: ``"set"`` or ``"rigl"`` (attribution only; the autoencoder always uses SET).
        learning_rate: ``None`` for the published 0.01 (SGD+momentum) / 1e-3 (Adam).
        batch_size: mini-batch size.
        standardize: scale each feature to zero mean, unit variance before training (the
            scores are computed on the scaled data; ``transform`` returns the original columns).
        random_state: seed of the topology, weights, noise and batch order.

    Attributes:
        feature_importances_: ``(n_features,)`` scores (larger = more important).
        ranking_: all feature indices, most important first.
        n_features_in_, feature_names_in_: as scikit-learn.
        classes_: class labels (attribution only).
    """

    def __init__(
        self,
        k: int | str = 50,
        *,
        method: str = "quickselection",
        ranking: str | None = None,
        epochs: int | None = None,
        hidden: int | tuple[int, ...] | None = None,
        density: float = 0.2,
        epsilon: float = 13.0,
        dst: str = "set",
        learning_rate: float | None = None,
        batch_size: int = 100,
        standardize: bool = True,
        random_state: int | None = 0,
    ) -> None:
        self.k = k
        self.method = method
        self.ranking = ranking
        self.epochs = epochs
        self.hidden = hidden
        self.density = density
        self.epsilon = epsilon
        self.dst = dst
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.standardize = standardize
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.method == "attribution"
        return tags

    def _check_params(self, n_features: int) -> str:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        ranking = self.ranking if self.ranking is not None else METHODS[self.method]
        allowed = tuple(RANKINGS) if self.method == "quickselection" else VARIANTS
        if ranking not in allowed:
            raise ValueError(
                f"ranking {ranking!r} is not one of method {self.method!r}'s: {', '.join(allowed)}"
            )
        k = self.k
        if isinstance(k, str):
            if k != "all":
                raise ValueError(f"k must be a positive integer or 'all', got {k!r}")
        elif isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer or 'all', got {k!r}")
        elif k > n_features:
            raise ValueError(
                f"k={k} is larger than n_features = {n_features}; use k <= n_features or 'all'"
            )
        return ranking

    def fit(self, X: Any, y: Any = None) -> SparseFeatureSelector:
        """Train the sparse network on ``X`` (and ``y`` for attribution); score the features."""
        supervised = self.method == "attribution"
        if supervised:
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
            check_classification_targets(y)
            self.classes_, y_idx = np.unique(y, return_inverse=True)
        else:
            X = validate_data(self, X, dtype=[np.float64, np.float32])
        d = X.shape[1]
        ranking = self._check_params(d)
        Xs = np.asarray(X, dtype=np.float64)
        if self.standardize:
            mean = Xs.mean(axis=0)
            std = Xs.std(axis=0)
            std[~(std > 1e-12)] = 1.0
            Xs = (Xs - mean) / std
        seed = 0 if self.random_state is None else int(self.random_state)
        common: dict[str, Any] = {"batch_size": self.batch_size, "seed": seed}
        if self.epochs is not None:
            common["epochs"] = self.epochs
        if self.learning_rate is not None:
            common["lr"] = self.learning_rate
        if supervised:
            hidden = (1000, 100) if self.hidden is None else self.hidden
            hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
            result = train_attribution(
                Xs, y_idx, hidden=hidden, density=self.density, dst=self.dst, **common
            )
            scores = result.importances[ranking]
        else:
            hidden_dae = 1000 if self.hidden is None else self.hidden
            if not isinstance(hidden_dae, int | np.integer):
                raise ValueError(f"quickselection takes one hidden width, got {hidden_dae!r}")
            dae = train_sparse_dae(Xs, hidden=int(hidden_dae), epsilon=self.epsilon, **common)
            scores = dae.scores(ranking)
        self.feature_importances_ = np.asarray(scores, dtype=np.float64)
        self.ranking_ = top_k(self.feature_importances_, d)
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self)
        d = self.feature_importances_.size
        n = d if self.k == "all" else min(int(self.k), d)
        mask = np.zeros(d, dtype=bool)
        mask[self.ranking_[:n]] = True
        return mask
