"""Ctrl-C during training: finish the current batch, save a checkpoint, say how to resume.

:func:`save_on_interrupt` installs a SIGINT handler for the duration of ``fit``; the first
SIGINT only sets a flag (a second one interrupts at once, as usual). The
:class:`InterruptCheckpoint` callback, last in the callback list, sees the flag at the end
of the batch, when the whole state (weights, optimizer state, topology, counters, random
streams) is consistent, writes the checkpoint atomically and raises :class:`Interrupted`,
whose message names the position and the ``--resume`` command. The CLI exits with 130.

Test hook: with ``SPRIG_TEST_SIGINT_AT_STEP=N`` in the environment the callback sends the
process a real SIGINT after step ``N``, so tests need no sleeps or timing.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .callbacks import Callback
from .checkpoint import save_checkpoint
from .state import TrainState

#: Environment variable of the deterministic test hook (see the module docstring).
TEST_HOOK = "SPRIG_TEST_SIGINT_AT_STEP"


class Interrupted(KeyboardInterrupt):
    """Training stopped on SIGINT after saving a checkpoint (the message says where)."""


class InterruptCheckpoint(Callback):
    """Checkpoint and stop at the end of the batch during which SIGINT arrived."""

    def __init__(self, path: str | os.PathLike[str], run_dir: Path, config: Any = None) -> None:
        self.path, self.run_dir, self.config = Path(path), Path(run_dir), config
        self.requested = False
        hook = os.environ.get(TEST_HOOK, "")
        self.hook_step = int(hook) if hook.strip().isdigit() else None

    def on_batch_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        if self.hook_step is not None and state.step == self.hook_step:
            signal.raise_signal(signal.SIGINT)
        if self.requested:
            save_checkpoint(self.path, state, self.config)
            raise Interrupted(
                f"interrupted at epoch {state.epoch + 1}, batch {state.batch_in_epoch} "
                f"(step {state.step}); checkpoint saved to {self.path}; resume with: "
                f"sprig train --resume {shlex.quote(str(self.run_dir))}"
            )


@contextlib.contextmanager
def save_on_interrupt(callback: InterruptCheckpoint) -> Iterator[None]:
    """Route the first SIGINT to ``callback`` while the block runs (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        callback.requested = True
        signal.signal(signal.SIGINT, restore)  # a second Ctrl-C interrupts at once

    previous = signal.signal(signal.SIGINT, handler)
    restore = previous if previous is not None else signal.default_int_handler
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, restore)
