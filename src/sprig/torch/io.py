"""Saving sparse torch models: ``state_dict`` round trips and safetensors files.

A :class:`~sprig.torch.SparseLinear`'s ``state_dict`` holds ``values``, ``bias`` and the int32
topology buffers ``crow_indices`` and ``col_indices``; ``load_state_dict`` installs the saved
topology, so a model built with another topology (another seed, or before DST updates) loads a
checkpoint exactly. Optimizer state is not part of it: after loading a different topology,
create the optimizer again (or load its own state dict saved at the same time).

:func:`save_safetensors` / :func:`load_safetensors` write and read the same tensors in the
safetensors format (``pip install 'sprig[torch]'`` installs it): no pickle, atomic write
(temporary file + rename).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from torch import nn

__all__ = ["load_safetensors", "save_safetensors"]


def _st() -> Any:
    try:
        import safetensors.torch as st
    except ImportError as e:  # pragma: no cover - the torch extra installs it
        raise ImportError("safetensors files need safetensors: pip install 'sprig[torch]'") from e
    return st


def save_safetensors(
    model: nn.Module, path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> None:
    """Write ``model.state_dict()`` (values, topology, biases, dense parameters, buffers) to a
    safetensors file, atomically."""
    st = _st()
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        st.save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_safetensors(model: nn.Module, path: str | os.PathLike[str], *, strict: bool = True) -> Any:
    """Load a file written by :func:`save_safetensors` into ``model`` (its sparse layers take
    the saved topology); returns ``load_state_dict``'s result."""
    st = _st()
    device = next((p.device for p in model.parameters()), "cpu")
    return model.load_state_dict(st.load_file(str(path), device=str(device)), strict=strict)
