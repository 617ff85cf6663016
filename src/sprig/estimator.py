"""A scikit-learn-style classifier backed by a truly sparse MLP.

``SparseMLPClassifier(...).fit(X, y).predict(X)`` follows scikit-learn's estimator
conventions (constructor arguments stored unchanged, ``get_params``/``set_params``, works with
``sklearn.base.clone``, fitted attributes end in ``_``). Without scikit-learn it works on its
own; with it (the ``sklearn`` extra) it is a real ``ClassifierMixin``/``BaseEstimator`` that
passes ``sklearn.utils.estimator_checks.check_estimator`` and works in ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``. Inputs are validated as scikit-learn does: NaN/inf
and complex values are refused in ``fit`` *and* ``predict``, sparse matrices (any SciPy
format) are accepted and densified row-wise for the network's input, continuous targets are
refused ("Unknown label type: continuous"), and predicting on a different number of
features than was fitted is an error. For two classes ``decision_function`` returns one
score per sample (positive means ``classes_[1]``), as scikit-learn's classifiers do.
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

try:  # scikit-learn is optional (the `sklearn` extra)
    from sklearn.base import BaseEstimator as _Base
    from sklearn.base import ClassifierMixin as _Mixin
    from sklearn.exceptions import NotFittedError as _SkNotFitted

    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised where scikit-learn is absent
    _Base = type("_Base", (), {})  # type: ignore[assignment,misc]
    _Mixin = type("_Mixin", (), {})  # type: ignore[assignment,misc]
    _SkNotFitted = AttributeError  # type: ignore[assignment,misc]
    HAVE_SKLEARN = False


class NotFittedError(_SkNotFitted, RuntimeError):  # type: ignore[misc,valid-type]
    """``predict`` before ``fit`` (scikit-learn's ``NotFittedError`` when it is installed)."""


def _features(X: Any) -> Any:
    """Validated ``(N, D)`` float64 features without scikit-learn (sparse → dense)."""
    if hasattr(X, "toarray"):
        X = X.toarray()
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise DataError("complex data not supported; X must be real numbers")
    try:
        X = X.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"X must be numeric ({e})") from None
    if X.ndim != 2:
        raise DataError(f"X must be 2-D (samples, features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise DataError("Input X contains NaN or infinity; features must be finite")
    return X


def _targets(y: Any) -> Any:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y must be 1-D class labels, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise DataError("Input y contains NaN or infinity; labels must be finite")
        if not np.array_equal(y, np.round(y)):
            raise DataError(
                "Unknown label type: continuous (y holds non-integer floats); a classifier "
                "needs class labels"
            )
    return y


class SparseMLPClassifier(_Mixin, _Base):  # type: ignore[misc,valid-type]
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
        dtype: ``"float64"`` (default: predictions then do not depend on the order or
            grouping of the samples, which scikit-learn's checks require) or ``"float32"``
            (faster; results move in the 7th digit with the batch composition).
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
        dtype: str = "float64",
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

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.sparse = True  # accepted and densified
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------------ validation
    def _validate(self, X: Any, y: Any = None, *, reset: bool) -> Any:
        """Features (and labels when fitting) checked as scikit-learn checks them."""
        if HAVE_SKLEARN:
            from sklearn.utils.validation import validate_data

            if reset:
                X, y = validate_data(
                    self, X, y, accept_sparse=True, dtype=[np.float64, np.float32], reset=True
                )
            else:
                X = validate_data(
                    self, X, accept_sparse=True, dtype=[np.float64, np.float32], reset=False
                )
            if hasattr(X, "toarray"):
                X = X.toarray()
            X = np.asarray(X, dtype=np.float64)
            if reset:
                from sklearn.utils.multiclass import check_classification_targets

                try:
                    check_classification_targets(y)
                except ValueError as e:
                    raise DataError(f"{e}; a classifier needs class labels") from None
            return (X, y) if reset else X
        X = _features(X)
        if reset:
            y = _targets(y)
            if len(X) != len(y):
                raise DataError(f"X has {len(X)} rows but y has {len(y)} labels")
            self.n_features_in_ = X.shape[1]
            return X, y
        if X.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {X.shape[1]} features, but SparseMLPClassifier is expecting "
                f"{self.n_features_in_} features as input"
            )
        return X

    # ------------------------------------------------------------------ fitting
    def fit(
        self, X: Any, y: Any, *, callbacks: list[Callback] | None = None
    ) -> SparseMLPClassifier:
        """Train on ``X (N, D)`` (dense or SciPy sparse) and labels ``y (N,)`` (any hashable
        class labels)."""
        from .sparsity import density as density_mod

        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        X, y = self._validate(X, y, reset=True)
        y = np.asarray(y)
        if len(X) == 0:
            raise DataError(f"X must have at least one sample, got shape {X.shape}")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataError(
                f"need at least 2 classes, got 1 class ({self.classes_[0]!r}); a classifier "
                "cannot train on one class"
            )
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
            raise NotFittedError("this SparseMLPClassifier is not fitted yet; call fit first")

    def _logits(self, X: Any) -> Any:
        self._check_fitted()
        X = self._validate(X, reset=False)
        return self.model_.predict(self.normalization_.apply(X)).astype(np.float64)

    def decision_function(self, X: Any) -> Any:
        """Network outputs (logits) ``(N, n_classes)``; for two classes one score per sample,
        ``logit[1] - logit[0]`` (positive means ``classes_[1]``), as in scikit-learn."""
        Z = self._logits(X)
        return Z[:, 1] - Z[:, 0] if Z.shape[1] == 2 else Z

    def predict_proba(self, X: Any) -> Any:
        """Softmax of the outputs, ``(N, n_classes)``."""
        Z = self._logits(X)
        Z -= Z.max(axis=1, keepdims=True)
        with np.errstate(under="ignore"):
            E = np.exp(Z)
        return E / E.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> Any:
        """Predicted class labels."""
        Z = self._logits(X)
        return self.classes_[np.argmax(Z, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy (weighted by ``sample_weight`` when given)."""
        hit = (self.predict(X) == np.asarray(y)).astype(np.float64)
        if sample_weight is None:
            return float(np.mean(hit))
        return float(np.average(hit, weights=np.asarray(sample_weight, dtype=np.float64)))
