"""Safe file I/O: atomic writes and pickle-free ``.npz`` archives.

Every file sprig writes (checkpoints, weights, configs, metrics snapshots) goes through
:func:`atomic_write`: the bytes go to a temporary file in the same directory, are fsynced, and
the temporary file is renamed over the target, so a crash leaves either the old file or the
new one, never a torn one. Archives are read with ``allow_pickle=False``: loading executes no
code.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import CheckpointError

#: First bytes of a zip archive (an ``.npz``): a local file header or an empty archive.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def is_zip_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts like a zip archive (every ``.npz`` does). Checked before
    ``np.load``, which would otherwise treat other bytes as a pickle and suggest unpickling."""
    with open(path, "rb") as f:
        return f.read(4) in ZIP_MAGIC


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Write a file atomically: temp file in the same directory, fsync, rename, fsync dir."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # directory fsync is not supported everywhere
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path


def save_npz(path: str | os.PathLike[str], arrays: Mapping[str, Any], meta: Any = None) -> Path:
    """Atomically save arrays (and JSON-able ``meta``, stored as a string) to ``path``."""
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    for k, v in payload.items():
        if v.dtype == object:
            raise TypeError(f"array {k!r} has dtype object; only numeric/string arrays are saved")
    if meta is not None:
        payload["__meta__"] = np.array(json.dumps(meta))
    # allow_pickle=False: an object array fails here instead of being pickled
    return atomic_write(path, lambda f: np.savez(f, allow_pickle=False, **payload))  # type: ignore[arg-type]


def load_npz(path: str | os.PathLike[str], *, what: str = "file") -> tuple[dict[str, Any], Any]:
    """Load an archive written by :func:`save_npz` without unpickling anything.

    Returns ``(arrays, meta)``.

    Raises:
        CheckpointError: if the file is missing, empty, truncated or not a valid archive.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{what} {path} is empty")
    if not is_zip_file(path):
        raise CheckpointError(f"{what} {path} is corrupt: not an .npz (zip) archive")
    try:
        # open the file ourselves: np.load leaks the handle when the archive is corrupt
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{what} {path} is corrupt or not an .npz archive ({e})") from None
    meta = None
    if "__meta__" in arrays:
        try:
            meta = json.loads(str(arrays.pop("__meta__")))
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{what} {path} has corrupt metadata ({e})") from None
    return arrays, meta
