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


#: Largest expansion of a deflated zip member (deflate's limit is about 1032:1).
_DEFLATE_RATIO = 1100


def npz_problem(path: str | os.PathLike[str]) -> str | None:
    """What is wrong with the member headers of an ``.npz`` archive, or ``None``.

    Reads only the zip directory and each member's ``.npy`` header (a few hundred bytes), so
    a crafted file cannot make the caller allocate memory: every member must declare a
    numeric, string or boolean dtype (no objects) and a shape whose bytes fit in what the
    member really holds (its stored size, or the most a deflated member can expand to).

    Raises:
        zipfile.BadZipFile, OSError, ValueError: the zip directory itself is unreadable.
    """
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name = info.filename
            if not name.endswith(".npy"):
                continue
            if info.compress_type == zipfile.ZIP_STORED:
                available = info.compress_size
            else:
                available = info.compress_size * _DEFLATE_RATIO
            available = min(available, info.file_size)
            with z.open(info) as f:
                try:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                except (ValueError, EOFError, SyntaxError) as e:
                    return f"member {name[:-4]!r} has an invalid array header ({e})"
                header = f.tell()
            if dtype.hasobject:
                return f"member {name[:-4]!r} holds Python objects (dtype {dtype}); not loaded"
            if any(int(dim) < 0 for dim in shape):
                return f"member {name[:-4]!r} has an invalid array header (shape {tuple(shape)})"
            count = 1
            for dim in shape:
                count *= int(dim)
            need = count * dtype.itemsize
            if need > max(available - header, 0):
                return (
                    f"member {name[:-4]!r} declares shape {tuple(shape)} of {dtype} "
                    f"({need} bytes) but holds at most {max(available - header, 0)} bytes"
                )
    return None


def _umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Write a file atomically: temp file in the same directory, fsync, rename, fsync dir."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; give the result the mode a plain open() would give it,
        # so every file of a run has the same permissions
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666 & ~_umask())
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
        problem = npz_problem(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{what} {path} is corrupt or not an .npz archive ({e})") from None
    if problem:
        raise CheckpointError(f"{what} {path} is corrupt: {problem}")
    try:
        # open the file ourselves: np.load leaks the handle when the archive is corrupt
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, MemoryError) as e:
        raise CheckpointError(f"{what} {path} is corrupt or not an .npz archive ({e})") from None
    meta = None
    if "__meta__" in arrays:
        try:
            meta = json.loads(str(arrays.pop("__meta__")))
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{what} {path} has corrupt metadata ({e})") from None
    return arrays, meta


#: Suffixes of the integer arrays of a sparse weight in a state dict (``3.weight.indptr``).
_INDEX_SUFFIXES = (".indptr", ".indices", ".shape")


def check_state_arrays(state: Mapping[str, Any], where: str) -> None:
    """Refuse a state dict whose arrays have the wrong kind of dtype, before anything casts
    them: topology arrays (``*.indptr``, ``*.indices``, ``*.shape``) must be integers in
    ``0..2**31-1`` (a float index would be truncated, a large int64 would wrap), and
    weights and biases (``*.data``, ``*.weight``, ``*.bias``) must be floating point.

    Raises:
        CheckpointError: naming the array, its dtype or bad value, and what is allowed.
    """
    limit = np.iinfo(np.int32).max
    for key, value in state.items():
        a = np.asarray(value)
        if key.endswith(_INDEX_SUFFIXES):
            if a.dtype.kind not in "iu":
                raise CheckpointError(
                    f"{where}: {key} has dtype {a.dtype}; topology arrays must be integers"
                )
            if a.size and (int(a.min()) < 0 or int(a.max()) > limit):
                raise CheckpointError(
                    f"{where}: {key} holds {int(a.min())}..{int(a.max())}; allowed 0..{limit}"
                )
        elif key.endswith((".data", ".weight", ".bias")) and a.dtype.kind != "f":
            raise CheckpointError(
                f"{where}: {key} has dtype {a.dtype}; weights and biases must be float arrays"
            )
