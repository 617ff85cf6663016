"""A scikit-learn-style classifier backed by a truly sparse MLP.

``SparseMLPClassifier(...).fit(X, y).predict(X)`` follows scikit-learn's estimator
conventions (constructor arguments stored unchanged, ``get_params``/``set_params``, works with
``sklearn.base.clone``, fitted attributes end in ``_``) without requiring scikit-learn.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from .data.datasets import Dataset
from .data.normalization import Normalization
from .errors import ConfigError, DataError
from .models.mlp import MLP
from .specs.types import parse_layer
from .training.callbacks import Callback


class SparseMLPClassifier:
    """Multilayer perceptron classifier with CSR weights.

    Args:
        hidden_layer_sizes: widths of the hidden layers.
        density: overall density in ``(0, 1]`` spread over the layers by ``density_method``.
        density_method: ``"erk"``, ``"er"`` or ``"uniform"``.
        activation: hidden activation spec, e.g. ``"relu"``, ``"leaky_relu(0.1)"``.
        optimizer: optimizer spec, e.g. ``"momentum(0.9)"``, ``"adam"``.
        learning_rate: a number or a schedule spec (parameters in epochs).
        epochs: training epochs.
        batch_size: mini-batch size.
        dst: dynamic sparse training algorithm spec (``"static"``, ``"set"``, ``"rigl"``...).
        normalize: input normalization fitted on the training data (``"standardize"``,
            ``"scale"``, ``"none"``...).
        seed: seeds the initial topology, the weights and the batch order.
        dtype: ``"float32"`` or ``"float64"``.
        verbose: show a progress bar and per-epoch lines.
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (256, 256),
        *,
        density: float = 0.1,
        density_method: str = "erk",
        activation: str = "relu",
        optimizer: str = "momentum(0.9)",
        learning_rate: float | str = 0.01,
        epochs: int = 20,
        batch_size: int = 32,
        dst: str = "static",
        normalize: str = "standardize",
        seed: int = 0,
        dtype: str = "float32",
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.density = density
        self.density_method = density_method
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.dst = dst
        self.normalize = normalize
        self.seed = seed
        self.dtype = dtype
        self.verbose = verbose

    # ------------------------------------------------------------------ sklearn protocol
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> SparseMLPClassifier:
        """Set constructor arguments; unknown names raise ``ValueError``."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"invalid parameter {key!r} for SparseMLPClassifier; valid: {', '.join(valid)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults[k].default != v]
        return f"SparseMLPClassifier({', '.join(changed)})"

    # ------------------------------------------------------------------ fitting
    def fit(
        self, X: Any, y: Any, *, callbacks: list[Callback] | None = None
    ) -> SparseMLPClassifier:
        """Train on ``X (N, D)`` and labels ``y (N,)`` (any hashable class labels)."""
        from .sparsity import density as density_mod

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y) or len(X) == 0:
            raise DataError(f"X must be (N, D) with N = len(y) > 0; got X {X.shape}, y {y.shape}")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataError(f"need at least 2 classes, got {list(self.classes_)}")
        dtype = np.dtype(self.dtype)
        data = Dataset.from_arrays(
            X, y_idx, X[:0], y_idx[:0], name="fit", num_classes=len(self.classes_)
        )
        self.normalization_ = Normalization.fit(self.normalize, data.x_train)
        data = self.normalization_.apply_dataset(data)
        sizes = [X.shape[1], *map(int, self.hidden_layer_sizes), len(self.classes_)]
        try:
            densities = density_mod.densities(
                self.density_method, density_mod.shapes_from_sizes(sizes), self.density
            )
        except ValueError as e:
            raise ConfigError(str(e)) from None
        from .specs.config import TrainConfig
        from .training.assemble import assemble

        act = parse_layer(self.activation)
        config = TrainConfig.from_dict(
            {
                "layers": (act,) * (len(sizes) - 2) + (parse_layer("linear"),),
                "layer_sizes": tuple(sizes),
                "densities": tuple(densities),
                "optimizers": self.optimizer,
                "learning_rate": self.learning_rate,
                "loss": "softmax_cross_entropy",
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "dst": None if self.dst in ("static", None) else self.dst,
                "seed": self.seed,
                "dtype": dtype.name,
                "normalize": "none",
            }
        )
        run = assemble(
            config,
            data=data,
            normalization=self.normalization_,
            resolve=False,
            progress=self.verbose,
            lines=self.verbose,
            callbacks=list(callbacks or []),
        )
        assert isinstance(run.model, MLP)  # the estimator builds sequential networks
        self.model_: MLP = run.model
        self.history_ = run.fit()
        self.n_features_in_ = X.shape[1]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this SparseMLPClassifier is not fitted yet; call fit first")

    def decision_function(self, X: Any) -> Any:
        """Network outputs (logits) ``(N, n_classes)``."""
        self._check_fitted()
        X = self.normalization_.apply(np.asarray(X, dtype=np.float64))
        return self.model_.predict(X)

    def predict_proba(self, X: Any) -> Any:
        """Softmax of the outputs, ``(N, n_classes)``."""
        Z = self.decision_function(X).astype(np.float64)
        Z -= Z.max(axis=1, keepdims=True)
        with np.errstate(under="ignore"):
            E = np.exp(Z)
        return E / E.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> Any:
        """Predicted class labels."""
        self._check_fitted()
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def score(self, X: Any, y: Any) -> float:
        """Mean accuracy."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
