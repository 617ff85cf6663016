"""Run directories: one writer at a time, no leftovers, no output that clobbers an input.

``sprig train`` holds an exclusive lock on ``RUN_DIR/.sprig-lock`` (``flock``) from before it
checks the directory until it exits. The kernel releases the lock when the process ends,
however it ends (SIGKILL included), so a stale lock never blocks a later run; two commands
started together on the same directory cannot both pass the "directory already holds a run"
check. While the lock is held, temporary files left by a killed writer
(``.checkpoint.npz.*.tmp`` from :func:`sprig.io.atomic_write`) are removed.

:func:`check_outputs` checks every output path of a run before any work starts: a
``--save-weights`` or ``--save-dataset`` that is a directory, the input dataset, or one of
the run's own files is refused up front instead of failing (or destroying data) after
training.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: Name of the lock file inside a run directory.
LOCK_NAME = ".sprig-lock"
#: Files ``sprig train`` writes into a run directory; any of them marks a directory as a run.
RUN_FILES = (
    "config.toml",
    "checkpoint.npz",
    "metrics.jsonl",
    "metrics.csv",
    "weights.npz",
    "best.npz",
    "normalization.json",
)


class RunDirLock:
    """An exclusive ``flock`` on ``run_dir/.sprig-lock`` (see the module docstring)."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> RunDirLock:
        """Take the lock without waiting.

        Raises:
            ConfigError: another process holds it. The file's content is never changed,
                so a refused command leaves every byte of the run directory as it was.
        """
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise ConfigError(
                f"run directory {self.run_dir} is in use by another sprig process (it holds "
                f"{self.path}); wait for it to finish or choose another --run-dir"
            ) from None
        self.fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (the file stays: removing it would let two later runs lock two
        different files of the same name)."""
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def leftover_temporaries(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Temporary files of :func:`sprig.io.atomic_write` in ``run_dir`` (``.NAME.XXXX.tmp``)."""
    d = Path(run_dir)
    return sorted(p for p in d.glob(".*.tmp") if p.is_file())


def _refuse_run_files(d: Path) -> None:
    found = [name for name in RUN_FILES if (d / name).exists()]
    if found:
        raise ConfigError(
            f"run directory {d} already holds a run ({', '.join(found)}); use "
            f"--resume {d} to continue it or choose another --run-dir"
        )


@contextlib.contextmanager
def hold_run_dir(run_dir: str | os.PathLike[str], *, fresh: bool) -> Iterator[RunDirLock]:
    """Create (if needed) and lock ``run_dir`` for one run, then clean leftovers.

    ``fresh``: a new run, so the directory must not hold any of :data:`RUN_FILES`. If the
    body fails and the directory was created here, it is removed again when nothing but
    the lock file is in it (a failed start leaves nothing behind).

    Raises:
        ConfigError: ``run_dir`` is a file, is locked by another process, or (``fresh``)
            already holds a run.
    """
    d = Path(run_dir)
    if d.exists() and not d.is_dir():
        raise ConfigError(f"run directory {d} exists and is not a directory")
    if fresh:  # refused before anything is created; checked again under the lock
        _refuse_run_files(d)
    created = not d.exists()
    d.mkdir(parents=True, exist_ok=True)
    lock = RunDirLock(d)
    ok = False
    try:
        lock.acquire()
        if fresh:
            _refuse_run_files(d)
        stale = leftover_temporaries(d)
        for p in stale:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        if stale:
            print(f"removed {len(stale)} leftover temporary file(s) from {d}", flush=True)
        yield lock
        ok = True
    finally:
        held = lock.fd is not None
        lock.release()
        if not ok and created and held:
            with contextlib.suppress(OSError):
                (d / LOCK_NAME).unlink()
                d.rmdir()  # only if empty
        elif not ok and created:
            with contextlib.suppress(OSError):
                d.rmdir()


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def check_outputs(config: Any, run_dir: Path) -> None:
    """Refuse output paths that cannot be written or would replace an input, before work.

    Checks ``save_weights`` and ``save_dataset``: not an existing directory, parent not a
    file, not the dataset being read, not the weights being loaded, not a file of the run
    directory, and not each other.

    Raises:
        ConfigError: naming the option, the path and why it is refused.
    """
    inputs: dict[str, Path] = {}
    if config.dataset and Path(config.dataset).exists():
        inputs["the input dataset"] = Path(config.dataset)
    if config.load_weights:
        inputs["the --load-weights file"] = Path(config.load_weights)
    outputs = {
        name: Path(value)
        for name in ("save_weights", "save_dataset")
        if (value := getattr(config, name, None))
    }
    for name, out in outputs.items():
        flag = "--" + name.replace("_", "-")
        if out.is_dir():
            raise ConfigError(f"{flag} {out} is a directory; give a file path such as {out}/x.npz")
        for parent in out.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ConfigError(f"{flag} {out}: {parent} is a file, not a directory")
                break
        for what, path in inputs.items():
            if name == "save_weights" and what == "the --load-weights file":
                continue  # written only after training succeeded: updating in place is fine
            if _same(out, path):
                raise ConfigError(
                    f"{flag} {out} is {what}; writing it would replace the input, "
                    "choose another file"
                )
        for f in RUN_FILES:
            if _same(out, run_dir / f):
                raise ConfigError(
                    f"{flag} {out} is the run's own {f}; choose a file outside those "
                    f"names ({', '.join(RUN_FILES)})"
                )
    if len(outputs) == 2 and _same(outputs["save_weights"], outputs["save_dataset"]):
        raise ConfigError(
            f"--save-weights and --save-dataset are the same file {outputs['save_weights']}"
        )
