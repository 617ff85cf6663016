"""Thread settings: one call sets Numba's pool and every BLAS/OpenMP pool together.

Two pools fighting over the same cores (measured: 1.7-1.9x slower dense matmul with 4-8
threads on 2 cores) is the failure this prevents.
"""

from __future__ import annotations

import os
from typing import Any

_limiter: Any = None


def set_num_threads(n: int | None = None) -> int:
    """Use ``n`` threads in sprig's kernels and in BLAS (default: all cores, at most the
    ``NUMBA_NUM_THREADS`` ceiling). Returns the number in effect.

    Raises:
        ValueError: if ``n`` is not a positive integer.
    """
    import numba
    from threadpoolctl import threadpool_limits

    global _limiter
    ceiling = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if n is None:
        n = min(os.cpu_count() or 1, ceiling)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive integer, got {n!r}")
    n = min(n, ceiling)
    numba.set_num_threads(n)
    _limiter = threadpool_limits(limits=n)
    return n


def get_num_threads() -> int:
    """Threads used by sprig's kernels."""
    import numba

    return int(numba.get_num_threads())


def thread_ceiling() -> int:
    """The most threads sprig can use: Numba's ``NUMBA_NUM_THREADS`` (default: all cores)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def cap_threads(config: Any, *, auto: bool = False) -> Any:
    """``config`` (a dataclass with a ``threads`` field) with ``threads`` lowered to
    :func:`thread_ceiling`, printing a note when it was lowered, or (when unset and ``auto``,
    i.e. for a new run) set to :func:`auto_threads`, so the run records the number of
    threads it really used (and a resume uses the same number, which bit-identical
    resumption needs)."""
    import dataclasses

    n = getattr(config, "threads", None)
    if n is None and auto:
        chosen, why = auto_threads()
        print(f"threads: {chosen} (automatic: {why}; --threads N to choose)", flush=True)
        return dataclasses.replace(config, threads=chosen)
    if n is None or isinstance(n, bool) or not isinstance(n, int):
        return config
    top = thread_ceiling()
    if n <= top:
        return config
    print(
        f"note: threads {n} capped to {top} (the cores available; NUMBA_NUM_THREADS={top}); "
        f"recording threads = {top}",
        flush=True,
    )
    return dataclasses.replace(config, threads=top)


#: Environment variable: ``off`` leaves the threading environment exactly as found
#: (the behaviour before :func:`apply_thread_defaults` existed; used by
#: ``benchmarks/contention.py`` to measure "before").
DEFAULTS_ENV = "SPRIG_THREAD_DEFAULTS"

#: What :func:`apply_thread_defaults` sets when the user has not set it. Chosen by
#: ``benchmarks/contention.py`` (docs/benchmarks.md, section ``contention``): with other
#: processes on the cores, OpenMP worker threads that spin on barriers steal the time of
#: the thread doing the work; passive waiting makes them sleep instead.
THREAD_DEFAULTS = {
    "OMP_WAIT_POLICY": "PASSIVE",  # GNU and LLVM OpenMP (Numba's omp layer): sleep, don't spin
    "KMP_BLOCKTIME": "0",  # Intel OpenMP: the same
}


def apply_thread_defaults() -> dict[str, str]:
    """Set :data:`THREAD_DEFAULTS` in ``os.environ`` where the user has not chosen a value
    (called by ``import sprig``, before any OpenMP runtime is loaded; ``SPRIG_THREAD_DEFAULTS
    =off`` disables it). Returns what was set."""
    if os.environ.get(DEFAULTS_ENV, "").lower() == "off":
        return {}
    done = {}
    for key, value in THREAD_DEFAULTS.items():
        if key not in os.environ:
            os.environ[key] = value
            done[key] = value
    return done


def auto_threads() -> tuple[int, str]:
    """The thread count ``sprig train`` uses when ``--threads`` is not given, and why.

    The cores this process may run on, minus the load other processes put on them (the
    1-minute load average, rounded), at least 1 and at most :func:`thread_ceiling`: with the
    cores busy, a second worker thread waits for CPU time while the others wait for it at
    every barrier, and one thread is faster (``docs/benchmarks.md``, "Threads under
    contention").
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    n = max(1, min(thread_ceiling(), cores, int(cores - load + 0.5)))
    return n, f"{cores} core(s), load average {load:.1f}"
