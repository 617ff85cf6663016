r"""The validated in-memory dataset every loader returns.

A :class:`Dataset` is batch-first: ``x_train`` has shape ``(N, D)`` (one sample per row,
``float32``, C-contiguous) and ``y_train`` holds integer class labels ``0..K-1`` (``int64``).
Images are stored flattened in **channel-planar** order ``(C, H, W)`` — all red values, then
all green, then all blue for CIFAR-10 — whatever the source, so every loader of the same data
gives the same feature order; ``image_shape`` records ``(C, H, W)`` when known.

Batches for training are built from it by :class:`sprig.data.batching.Batches`, which turns
rows into feature-major ``(D, B)`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..typing import FloatArray, IntArray, check_float_dtype

#: Last entropy word of the validation split's generator (ASCII "VAL").
VALIDATION_TAG = 0x56414C


def one_hot(y: IntArray, num_classes: int, dtype: Any = np.float32) -> FloatArray:
    r"""Feature-major one-hot targets: ``T[k, n] = 1`` if ``y[n] == k`` else 0.

    Args:
        y: integer labels of shape ``(N,)`` in ``0..num_classes-1``.
        num_classes: ``K``.
        dtype: float32 or float64.

    Returns:
        C-contiguous array of shape ``(K, N)``.

    Raises:
        DataError: a label is outside ``0..K-1``.

    Examples:
        >>> one_hot(np.array([2, 0]), 3).tolist()
        [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]]
    """
    dt = check_float_dtype(dtype)
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"labels must be 1-D, got shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(
            f"label out of range: found {y.min()}..{y.max()}, allowed 0..{num_classes - 1}"
        )
    T = np.zeros((num_classes, len(y)), dtype=dt)
    T[y, np.arange(len(y))] = 1
    return T


def _labels(name: str, y: Any) -> IntArray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{name} must be 1-D class labels, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.array_equal(y, np.round(y)):
            raise DataError(f"{name} must hold integer class labels, found non-integer values")
    elif y.dtype.kind not in "iub":
        raise DataError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    return np.ascontiguousarray(y, dtype=np.int64)


def _features(name: str, x: Any) -> FloatArray:
    x = np.asarray(x)
    if x.dtype.kind not in "iubf":
        raise DataError(f"{name} must be numeric, got dtype {x.dtype}")
    if x.ndim != 2:
        raise DataError(f"{name} must be 2-D (samples, features), got shape {x.shape}")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(
                f"{name} has {int(bad.sum())} NaN/inf value(s), first at row {row}, "
                f"feature {col} ({x[row, col]}); features must be finite"
            )
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(x, dtype=np.float32)
    if x.dtype.kind == "f" and not np.all(np.isfinite(out)):
        raise DataError(f"{name} has values outside the float32 range (max |x| = {abs(x).max()})")
    return out


def stratified_choice(y: IntArray, n: int, rng: np.random.Generator) -> IntArray:
    """Pick ``n`` of ``len(y)`` indices with class proportions kept (largest remainder).

    Deterministic given ``rng``; the result is sorted, so the original order is kept.
    """
    y = np.asarray(y)
    if not 0 <= n <= len(y):
        raise ConfigError(f"cannot take {n} samples out of {len(y)}")
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * (n / len(y)) if len(y) else counts.astype(float)
    take = np.floor(quota).astype(np.int64)
    rest = n - int(take.sum())
    if rest:
        # Largest fractional parts first; ties broken by class order (stable sort).
        order = np.argsort(-(quota - take), kind="stable")
        take[order[:rest]] += 1
    perm = rng.permutation(len(y))
    chosen = [perm[y[perm] == c][:k] for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset: train and test features and labels, validated.

    Construction converts features to ``float32`` C-contiguous ``(N, D)`` arrays and labels to
    ``int64``, then checks: 2-D features, a non-empty train set, the same ``D`` for train and
    test, one label per row, finite features, labels in ``0..num_classes-1``. Treat the
    arrays as read-only (they may be shared between datasets derived with :meth:`subset`
    or ``dataclasses.replace``).

    Attributes:
        x_train: ``(N, D)`` float32.
        y_train: ``(N,)`` int64.
        x_test: ``(M, D)`` float32 (``M`` may be 0).
        y_test: ``(M,)`` int64.
        num_classes: ``K``; labels lie in ``0..K-1``.
        name: a short name for logs (``"mnist"``, ``"digits"``, a file stem).
        image_shape: ``(C, H, W)`` when the rows are flattened channel-planar images.
        pixel_max: the nominal maximum of the raw values (255 for 8-bit images, 16 for
            digits), used by the ``"scale"``/``"minmax"`` normalizations; ``None`` if unknown
            or after normalization.

    Raises:
        DataError: any check above fails.
    """

    x_train: FloatArray
    y_train: IntArray
    x_test: FloatArray
    y_test: IntArray
    num_classes: int
    name: str = "dataset"
    image_shape: tuple[int, int, int] | None = None
    pixel_max: float | None = None
    x_val: FloatArray | None = None
    y_val: IntArray | None = None
    t_train: FloatArray | None = None
    t_val: FloatArray | None = None
    t_test: FloatArray | None = None

    def __post_init__(self) -> None:
        self._check_optional()
        x_train = _features(f"{self.name}: x_train", self.x_train)
        x_test = _features(f"{self.name}: x_test", self.x_test)
        y_train = _labels(f"{self.name}: y_train", self.y_train)
        y_test = _labels(f"{self.name}: y_test", self.y_test)
        if x_train.shape[0] == 0:
            raise DataError(f"{self.name}: the training set is empty")
        if x_train.shape[1] == 0:
            raise DataError(f"{self.name}: samples have no features (shape {x_train.shape})")
        if x_test.shape[1] != x_train.shape[1]:
            raise DataError(
                f"{self.name}: x_test has {x_test.shape[1]} features, x_train has "
                f"{x_train.shape[1]}; they must match"
            )
        for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            if len(x) != len(y):
                raise DataError(
                    f"{self.name}: x_{part} has {len(x)} rows but y_{part} has {len(y)} labels"
                )
        k = self.num_classes
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise DataError(f"{self.name}: num_classes must be a positive integer, got {k!r}")
        for part, y in (("train", y_train), ("test", y_test)):
            if y.size and (y.min() < 0 or y.max() >= k):
                raise DataError(
                    f"{self.name}: y_{part} label out of range: found {y.min()}..{y.max()}, "
                    f"allowed 0..{k - 1} (num_classes={k})"
                )
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            if len(shape) != 3 or int(np.prod(shape)) != x_train.shape[1]:
                raise DataError(
                    f"{self.name}: image_shape {self.image_shape} (C, H, W) does not match "
                    f"{x_train.shape[1]} features"
                )
            object.__setattr__(self, "image_shape", shape)
        if self.pixel_max is not None:
            if not (np.isfinite(self.pixel_max) and self.pixel_max > 0):
                raise DataError(f"{self.name}: pixel_max must be > 0, got {self.pixel_max}")
            object.__setattr__(self, "pixel_max", float(self.pixel_max))
        object.__setattr__(self, "x_train", x_train)
        object.__setattr__(self, "x_test", x_test)
        object.__setattr__(self, "y_train", y_train)
        object.__setattr__(self, "y_test", y_test)
        object.__setattr__(self, "num_classes", int(k))

    def _check_optional(self) -> None:
        """Validate the validation split and the regression targets (when present)."""
        if (self.x_val is None) != (self.y_val is None):
            raise DataError(f"{self.name}: x_val and y_val must be given together")
        if self.x_val is not None:
            object.__setattr__(self, "x_val", _features(f"{self.name}: x_val", self.x_val))
            object.__setattr__(self, "y_val", _labels(f"{self.name}: y_val", self.y_val))
            if len(self.x_val) != len(self.y_val):  # type: ignore[arg-type]
                raise DataError(f"{self.name}: x_val and y_val have different lengths")
        parts = {"train": self.x_train, "val": self.x_val, "test": self.x_test}
        given = [p for p in parts if getattr(self, f"t_{p}") is not None]
        if given and "train" not in given:
            raise DataError(f"{self.name}: regression targets need t_train")
        widths = set()
        for part in given:
            t = _features(f"{self.name}: t_{part}", getattr(self, f"t_{part}"))
            x = parts[part]
            if x is None or len(t) != len(x):
                raise DataError(f"{self.name}: t_{part} needs one target row per x_{part} row")
            widths.add(t.shape[1])
            object.__setattr__(self, f"t_{part}", t)
        if len(widths) > 1:
            raise DataError(f"{self.name}: regression targets have different widths {widths}")
        if given and "test" not in given and len(np.asarray(self.x_test)):
            raise DataError(f"{self.name}: regression targets need t_test for the test rows")

    @property
    def num_targets(self) -> int | None:
        """Width of the regression targets, or ``None`` for a classification dataset."""
        return None if self.t_train is None else int(self.t_train.shape[1])

    def split_validation(self, fraction: float, seed: int = 0) -> Dataset:
        """Move a random ``fraction`` of the training rows into a validation split.

        Rows are drawn with ``np.random.default_rng([seed, VALIDATION_TAG])`` (stratified by
        class for classification data), so the split is a pure function of the seed; the
        test split is untouched. Model choice (best epoch, early stopping) then uses the
        validation split, never the test set.

        Raises:
            ConfigError: ``fraction`` not in (0, 1), or it leaves no training or no
                validation row.
        """
        if not isinstance(fraction, int | float) or not 0.0 < fraction < 1.0:
            raise ConfigError(f"validation fraction must be in (0, 1), got {fraction!r}")
        n = len(self.y_train)
        n_val = round(fraction * n)
        if n_val < 1 or n_val >= n:
            raise ConfigError(
                f"validation fraction {fraction} of {n} training rows leaves "
                f"{n_val} validation and {n - n_val} training rows; both must be at least 1"
            )
        rng = np.random.default_rng([int(seed), VALIDATION_TAG])
        if self.t_train is None:
            val = stratified_choice(self.y_train, n_val, rng)
        else:
            val = np.sort(rng.choice(n, size=n_val, replace=False))
        keep = np.setdiff1d(np.arange(n), val)
        return replace(
            self,
            x_train=self.x_train[keep],
            y_train=self.y_train[keep],
            x_val=self.x_train[val],
            y_val=self.y_train[val],
            t_train=None if self.t_train is None else self.t_train[keep],
            t_val=None if self.t_train is None else self.t_train[val],
        )

    @classmethod
    def regression(
        cls, x_train: Any, t_train: Any, x_test: Any, t_test: Any, *, name: str = "dataset"
    ) -> Dataset:
        """A regression dataset: float targets ``t (N, K)`` (1-D targets become ``(N, 1)``)."""

        def two_d(t: Any) -> Any:
            t = np.asarray(t)
            return t.reshape(-1, 1) if t.ndim == 1 else t

        x_train, x_test = np.asarray(x_train), np.asarray(x_test)
        return cls(
            x_train, np.zeros(len(x_train), np.int64), x_test, np.zeros(len(x_test), np.int64),
            num_classes=1, name=name, t_train=two_d(t_train), t_test=two_d(t_test),
        )  # fmt: skip

    @classmethod
    def unlabeled(cls, x_train: Any, x_test: Any, *, name: str = "dataset") -> Dataset:
        """Inputs only (e.g. for an autoencoder trained on its own input); labels are 0."""
        x_train, x_test = np.asarray(x_train), np.asarray(x_test)
        return cls(
            x_train, np.zeros(len(x_train), np.int64), x_test, np.zeros(len(x_test), np.int64),
            num_classes=1, name=name,
        )  # fmt: skip

    @classmethod
    def from_arrays(
        cls,
        x_train: Any,
        y_train: Any,
        x_test: Any,
        y_test: Any,
        *,
        name: str = "dataset",
        num_classes: int | None = None,
        image_shape: tuple[int, int, int] | None = None,
        pixel_max: float | None = None,
    ) -> Dataset:
        """Build a dataset from raw arrays: rows are flattened, ``K`` inferred if not given.

        ``num_classes`` defaults to ``max(y_train ∪ y_test) + 1``.
        """
        xs = []
        for part, x in (("x_train", x_train), ("x_test", x_test)):
            x = np.asarray(x)
            if x.ndim < 2:
                raise DataError(f"{name}: {part} needs a sample axis and features, got {x.shape}")
            xs.append(x.reshape(x.shape[0], int(np.prod(x.shape[1:]))))
        ys = [_labels(f"{name}: y_train", y_train), _labels(f"{name}: y_test", y_test)]
        if num_classes is None:
            top = max((int(y.max()) for y in ys if y.size), default=0)
            num_classes = top + 1
        return cls(
            xs[0], ys[0], xs[1], ys[1], num_classes=num_classes, name=name,
            image_shape=image_shape, pixel_max=pixel_max,
        )  # fmt: skip

    @property
    def num_features(self) -> int:
        """``D``, the number of input features."""
        return int(self.x_train.shape[1])

    def one_hot(self, y: IntArray, dtype: Any = np.float32) -> FloatArray:
        """Feature-major one-hot targets ``(K, N)`` of labels ``y`` (see :func:`one_hot`)."""
        return one_hot(y, self.num_classes, dtype)

    def subset(
        self,
        n_train: int | None = None,
        n_test: int | None = None,
        seed: int = 0,
        *,
        stratified: bool = True,
    ) -> Dataset:
        """A deterministic subset: ``n_train`` train and ``n_test`` test rows (``None`` = all).

        Rows are drawn with ``np.random.default_rng(seed)`` (train first, then test), either
        stratified — each class keeps its share, rounded by largest remainder — or uniformly
        at random. Selected rows keep their original order.

        Raises:
            ConfigError: ``n_train``/``n_test`` is negative or larger than available.
        """
        rng = np.random.default_rng(seed)

        def pick(n: int | None, y: IntArray, part: str) -> IntArray | None:
            if n is None:
                return None
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 0 <= n <= len(y):
                raise ConfigError(f"n_{part} must be an integer in 0..{len(y)}, got {n!r}")
            if stratified:
                return stratified_choice(y, int(n), rng)
            return np.sort(rng.choice(len(y), size=int(n), replace=False))

        tr = pick(n_train, self.y_train, "train")
        te = pick(n_test, self.y_test, "test")
        if tr is not None and len(tr) == 0:
            raise ConfigError("n_train must be at least 1")
        return replace(
            self,
            x_train=self.x_train if tr is None else self.x_train[tr],
            y_train=self.y_train if tr is None else self.y_train[tr],
            x_test=self.x_test if te is None else self.x_test[te],
            y_test=self.y_test if te is None else self.y_test[te],
        )

    def __repr__(self) -> str:
        shape = f", image_shape={self.image_shape}" if self.image_shape else ""
        return (
            f"Dataset(name={self.name!r}, train={self.x_train.shape}, test={self.x_test.shape}, "
            f"num_classes={self.num_classes}{shape})"
        )
