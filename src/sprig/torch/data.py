"""Character-level text data for language models (tinyshakespeare and any other text file).

:class:`CharDataset` builds a vocabulary of the distinct characters of a text (sorted, so the
same text always gives the same ids), encodes it as one ``int64`` tensor, splits it into a
training part (the first ``train_fraction``, 0.9 by default) and a validation part (the rest),
and draws batches of random context windows from a seeded ``torch.Generator``:

>>> import torch
>>> ds = CharDataset("abcabcabcabcabcabcabcabcabcabc")
>>> ds.vocab_size, ds.decode(ds.encode("cab"))
(3, 'cab')
>>> x, y = ds.batch("train", batch_size=2, context=4, generator=torch.Generator().manual_seed(0))
>>> x.shape, bool((x[:, 1:] == y[:, :-1]).all())
(torch.Size([2, 4]), True)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from ..errors import DataError

__all__ = ["CharDataset"]

_SPLITS = ("train", "val")


class CharDataset:
    """Characters of ``text`` as token ids, split into ``"train"`` and ``"val"``.

    ``train_fraction`` (in (0, 1)) of the characters, from the start, form the training split;
    the rest is the validation split (a contiguous tail, as in nanoGPT, so no window crosses
    the boundary).
    """

    def __init__(self, text: str, *, train_fraction: float = 0.9) -> None:
        if not isinstance(text, str) or len(text) < 2:
            raise DataError(f"CharDataset needs a text of at least 2 characters, got {text!r:.40}")
        if not 0.0 < train_fraction < 1.0:
            raise DataError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
        self.chars = sorted(set(text))
        self._index = {c: i for i, c in enumerate(self.chars)}
        data = torch.tensor([self._index[c] for c in text], dtype=torch.long)
        n_train = int(train_fraction * len(data))
        self.splits = {"train": data[:n_train], "val": data[n_train:]}

    @classmethod
    def from_file(cls, path: str | Path, *, train_fraction: float = 0.9) -> CharDataset:
        """Read a UTF-8 text file (e.g. ``../shared/data/tinyshakespeare/input.txt``)."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"text file {str(path)!r} does not exist")
        return cls(path.read_text(encoding="utf-8"), train_fraction=train_fraction)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Token ids of ``text`` (every character must be in the vocabulary)."""
        unknown = sorted(set(text) - self._index.keys())
        if unknown:
            raise DataError(f"characters {unknown!r} are not in the vocabulary")
        return torch.tensor([self._index[c] for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        """Text of a 1-D sequence of token ids."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if any(not 0 <= i < self.vocab_size for i in values):
            raise DataError(f"token ids must be in [0, {self.vocab_size}), got {values!r:.60}")
        return "".join(self.chars[i] for i in values)

    def _split(self, split: str, context: int) -> torch.Tensor:
        if split not in _SPLITS:
            raise DataError(f"split must be one of {_SPLITS}, got {split!r}")
        data = self.splits[split]
        if isinstance(context, bool) or not isinstance(context, int) or context < 1:
            raise DataError(f"context must be a positive integer, got {context!r}")
        if len(data) < context + 1:
            raise DataError(
                f"the {split!r} split has {len(data)} characters, too few for context {context}"
            )
        return data

    def batch(
        self, split: str, batch_size: int, context: int, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch_size`` random windows of ``split``: inputs ``x`` and next-character targets
        ``y = x`` shifted by one, both ``(batch_size, context)`` int64 tensors."""
        data = self._split(split, context)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
        starts = torch.randint(len(data) - context, (batch_size,), generator=generator)
        offsets = starts[:, None] + torch.arange(context + 1)
        windows = data[offsets]
        return windows[:, :-1], windows[:, 1:]

    def windows(
        self, split: str, context: int, *, batch_size: int, max_batches: int | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Consecutive non-overlapping windows of ``split`` in batches (a deterministic pass for
        evaluation), at most ``max_batches`` batches."""
        data = self._split(split, context)
        n = (len(data) - 1) // context
        starts = torch.arange(n) * context
        if max_batches is not None:
            starts = starts[: max_batches * batch_size]
        for i in range(0, len(starts), batch_size):
            offsets = starts[i : i + batch_size, None] + torch.arange(context + 1)
            w = data[offsets]
            yield w[:, :-1], w[:, 1:]
