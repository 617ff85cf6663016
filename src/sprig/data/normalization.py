r"""Feature normalization as a fitted affine map ``x' = (x − shift) / scale``.

Every method is fitted on the **training** rows only and then applied unchanged to train, test
and any later input (``sprig predict``), so it is recorded as a :class:`Normalization` whose
``to_dict()`` is JSON-serialisable and goes into checkpoints.

Methods (``m`` = the dataset's ``pixel_max`` when known, e.g. 255, else the largest
``|x|`` in the training set):

=============== ================================================ ====================
method          map                                              ``shift``/``scale``
=============== ================================================ ====================
``none``        ``x``                                            0 / 1
``scale``       ``x / m`` (→ [0, 1] for pixels)                   0 / m
``minmax``      ``2 (x / m − 0.5)`` (→ [−1, 1], Nerva's C++)      m/2 / m/2
``standardize`` ``(x − μ_j) / σ_j`` per feature ``j``              μ / σ, per feature
``channel``     ``(x − μ_c) / σ_c`` per image channel ``c``        μ / σ, per channel
=============== ================================================ ====================

Without a ``pixel_max``, ``minmax`` maps the training range ``[lo, hi]`` to [−1, 1]. A
feature (or channel) whose training standard deviation is below ``std_floor`` gets
``σ = 1`` instead (it is only centred), as scikit-learn's ``StandardScaler`` does, so constant
features such as MNIST's border pixels stay finite on test data. ``channel`` equals
torchvision's ``ToTensor()`` + ``Normalize(mean, std)`` with the train statistics (Nerva's
Python pipeline uses the published CIFAR-10 values, which are close to these).

``shift`` and ``scale`` are stored as tuples of length 1 (global), ``C`` (per channel of a
channel-planar ``(C, H, W)`` row) or ``D`` (per feature).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..typing import FloatArray
from .datasets import Dataset

NORMALIZATIONS = METHODS = ("none", "scale", "minmax", "standardize", "channel")


@dataclass(frozen=True)
class Normalization:
    """A fitted ``x' = (x − shift) / scale`` (see the module docstring).

    Attributes:
        method: one of :data:`METHODS` (for the record; :meth:`apply` only uses the numbers).
        shift: length 1, ``C`` or ``D``.
        scale: same length as ``shift``, all > 0.
    """

    method: str
    shift: tuple[float, ...] = (0.0,)
    scale: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown normalization {self.method!r}; allowed: {METHODS}")
        shift = tuple(float(v) for v in self.shift)
        scale = tuple(float(v) for v in self.scale)
        if len(shift) != len(scale) or not shift:
            raise ConfigError(f"shift and scale must have the same length ≥ 1, got "
                              f"{len(shift)} and {len(scale)}")  # fmt: skip
        if not all(np.isfinite(shift)) or not all(np.isfinite(s) and s > 0 for s in scale):
            raise ConfigError("normalization shift must be finite and scale finite and > 0")
        object.__setattr__(self, "shift", shift)
        object.__setattr__(self, "scale", scale)

    @classmethod
    def fit(
        cls,
        method: str,
        x_train: FloatArray,
        *,
        pixel_max: float | None = None,
        channels: int | None = None,
        std_floor: float = 1e-6,
    ) -> Normalization:
        """Fit ``method`` on training rows ``x_train`` ``(N, D)`` (statistics in float64)."""
        if method not in METHODS:
            raise ConfigError(f"unknown normalization {method!r}; allowed: {', '.join(METHODS)}")
        x = np.asarray(x_train)
        if x.ndim != 2 or x.shape[0] == 0:
            raise DataError(f"normalization needs a non-empty (N, D) array, got {x.shape}")
        if method == "none":
            return cls("none")
        if method == "standardize":
            mean = x.mean(axis=0, dtype=np.float64)
            std = x.std(axis=0, dtype=np.float64)
            return cls(method, tuple(mean), tuple(np.where(std < std_floor, 1.0, std)))
        m = float(pixel_max) if pixel_max is not None else float(np.abs(x).max())
        if method == "scale":
            return cls(method, (0.0,), (m if m > 0 else 1.0,))
        if method == "minmax":
            if pixel_max is not None:
                lo, hi = 0.0, m
            else:
                lo, hi = float(x.min()), float(x.max())
            half = (hi - lo) / 2
            return cls(method, ((hi + lo) / 2,), (half if half > 0 else 1.0,))
        # channel
        if channels is None or channels < 1 or x.shape[1] % channels:
            raise ConfigError(
                f"'channel' normalization needs a channel count dividing D={x.shape[1]}, "
                f"got {channels}"
            )
        planes = x.reshape(len(x), channels, -1)
        mean = planes.mean(axis=(0, 2), dtype=np.float64)
        std = planes.std(axis=(0, 2), dtype=np.float64)
        return cls(method, tuple(mean), tuple(np.where(std < std_floor, 1.0, std)))

    def _vectors(self, d: int) -> tuple[FloatArray, FloatArray]:
        n = len(self.shift)
        if n == 1 or n == d:
            reps = 1
        elif d % n == 0:
            reps = d // n  # per channel of a channel-planar row
        else:
            raise DataError(
                f"this normalization has {n} statistics, which fits neither 1, {d} features "
                f"nor channels of {d}-feature rows"
            )
        return np.repeat(np.asarray(self.shift), reps), np.repeat(np.asarray(self.scale), reps)

    def apply(self, x: FloatArray, dtype: Any = np.float32) -> FloatArray:
        """Return ``(x − shift) / scale`` for rows ``x`` ``(N, D)`` as a new C-contiguous array."""
        x = np.asarray(x)
        if x.ndim != 2:
            raise DataError(f"normalization expects (N, D) rows, got shape {x.shape}")
        shift, scale = self._vectors(x.shape[1])
        out = (x - shift) / scale  # float64 arithmetic, rounded once
        return np.ascontiguousarray(out, dtype=dtype)

    def apply_dataset(self, dataset: Dataset) -> Dataset:
        """The dataset with train and test features normalized (``pixel_max`` cleared)."""
        if self.method == "none":
            return dataset
        return replace(
            dataset,
            x_train=self.apply(dataset.x_train),
            x_test=self.apply(dataset.x_test),
            x_val=None if dataset.x_val is None else self.apply(dataset.x_val),
            pixel_max=None,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (plain floats and lists)."""
        return {"method": self.method, "shift": list(self.shift), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalization:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(str(d["method"]), tuple(d["shift"]), tuple(d["scale"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"invalid normalization record {d!r}: {e}") from e


def normalize(
    dataset: Dataset,
    method: str = "scale",
    *,
    channels: int | None = None,
    std_floor: float = 1e-6,
) -> tuple[Dataset, Normalization]:
    """Fit ``method`` on ``dataset.x_train`` and apply it to train and test.

    Args:
        dataset: raw dataset.
        method: one of :data:`METHODS`.
        channels: channel count for ``"channel"``; defaults to ``dataset.image_shape[0]``.
        std_floor: standard deviations below this count as zero (see the module docstring).

    Returns:
        The normalized dataset and the fitted :class:`Normalization` (save its ``to_dict()``
        with the model to normalize new inputs identically).
    """
    if channels is None and dataset.image_shape is not None:
        channels = dataset.image_shape[0]
    norm = Normalization.fit(
        method, dataset.x_train, pixel_max=dataset.pixel_max, channels=channels,
        std_floor=std_floor,
    )  # fmt: skip
    return norm.apply_dataset(dataset), norm
