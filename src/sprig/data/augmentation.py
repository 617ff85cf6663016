r"""Batch augmentation for flattened channel-planar images, on feature-major batches.

:class:`RandomCropFlip` is the standard CIFAR-10 augmentation (Nerva's Python pipeline,
torchvision's ``RandomCrop(32, padding=4, padding_mode="reflect")`` followed by
``RandomHorizontalFlip()``): pad every image by ``pad`` pixels on each side, cut a random
``H × W`` window, and mirror it left-right with probability 1/2.

It works on a feature-major batch ``Xt`` of shape ``(D, B)`` with ``D = C·H·W`` rows in
``(C, H, W)`` order, as yielded by :class:`sprig.data.batching.Batches`, without building the
padded images: for output pixel ``(c, h, w)`` of sample ``b`` the source pixel is
``(c, r(dy_b + h − pad), r(col_b(w)))`` where ``r`` reflects an out-of-range index back into
the image (``-1 → 1``, ``H → H − 2``; NumPy's ``"reflect"``, which does not repeat the edge)
or, with ``mode="zeros"``, marks it as padding (value 0). The whole batch is one fancy-index
gather: no per-image Python loop.

Random draws per batch, in this order: ``dy = rng.integers(0, 2·pad+1, B)``,
``dx = rng.integers(0, 2·pad+1, B)``, then ``flip = rng.random(B) < 0.5`` (only when
``flip=True``). The same ``rng`` state therefore gives the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError
from ..typing import BoolArray, FloatArray, IntArray


def _reflect(i: IntArray, n: int) -> IntArray:
    """NumPy ``"reflect"`` padding index map for offsets up to ``n − 1`` outside ``0..n−1``."""
    if n == 1:
        return np.zeros_like(i)
    i = np.abs(i)
    return np.where(i >= n, 2 * (n - 1) - i, i)


@dataclass(frozen=True)
class RandomCropFlip:
    """Random ``pad``-padded crop and horizontal flip of each image in a batch.

    Args:
        channels, height, width: image shape ``(C, H, W)``; rows are ``C·H·W`` long.
        pad: padding on each side (the crop offset is uniform in ``0..2·pad``).
        flip: also mirror left-right with probability 1/2.
        mode: ``"reflect"`` (default, as Nerva/torchvision's CIFAR pipeline) or ``"zeros"``.
            With ``"zeros"`` the padding is 0 *in the batch's units*, i.e. the normalized
            value 0 (the mean under ``standardize``), not black.

    Call ``aug(Xt, rng)`` with ``Xt`` of shape ``(D, B)``; returns a new C-contiguous
    ``(D, B)`` array of the same dtype.
    """

    channels: int
    height: int
    width: int
    pad: int = 4
    flip: bool = True
    mode: str = "reflect"

    def __post_init__(self) -> None:
        for name in ("channels", "height", "width"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.pad < 0:
            raise ConfigError(f"pad must be ≥ 0, got {self.pad}")
        if self.mode not in ("reflect", "zeros"):
            raise ConfigError(f"mode must be 'reflect' or 'zeros', got {self.mode!r}")
        if self.mode == "reflect" and any(1 < n <= self.pad for n in (self.height, self.width)):
            raise ConfigError(
                f"reflect padding needs pad < image size, got pad={self.pad} for "
                f"{self.height}x{self.width}"
            )

    @property
    def num_features(self) -> int:
        """``D = C·H·W``."""
        return self.channels * self.height * self.width

    def __call__(self, Xt: FloatArray, rng: np.random.Generator) -> FloatArray:
        C, H, W, p = self.channels, self.height, self.width, self.pad
        if Xt.ndim != 2 or Xt.shape[0] != self.num_features:
            raise DataError(
                f"RandomCropFlip({C}x{H}x{W}) expects a feature-major batch of shape "
                f"({self.num_features}, B), got {Xt.shape}"
            )
        B = int(Xt.shape[1])
        dy: IntArray = rng.integers(0, 2 * p + 1, size=(B,))
        dx: IntArray = rng.integers(0, 2 * p + 1, size=(B,))
        hs = np.arange(H)
        ws = np.arange(W)
        rows = dy[None, :] + hs[:, None] - p  # (H, B), padded-image coordinates shifted
        cols = dx[None, :] + ws[:, None] - p  # (W, B)
        if self.flip:
            flipped: BoolArray = rng.random((B,)) < 0.5
            cols = np.where(flipped[None, :], dx[None, :] + (W - 1 - ws)[:, None] - p, cols)
        X4 = Xt.reshape(C, H, W, B)
        b = np.arange(B)
        if self.mode == "reflect":
            out = X4[:, _reflect(rows, H)[:, None, :], _reflect(cols, W)[None, :, :], b]
        else:
            inside = ((rows >= 0) & (rows < H))[:, None, :] & ((cols >= 0) & (cols < W))[None]
            r = np.clip(rows, 0, H - 1)[:, None, :]
            c = np.clip(cols, 0, W - 1)[None, :, :]
            out = np.where(inside, X4[:, r, c, b], Xt.dtype.type(0))
        return np.ascontiguousarray(out.reshape(self.num_features, B))
