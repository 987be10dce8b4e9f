"""The loop a reward worker process runs: receive one sample, score it, send the result back.

Workers are started by ``gamermath.rewards.runner`` through a forkserver that has already
imported this module and math-verify, so a replacement for a killed worker starts in
milliseconds. The parent enforces the wall-clock timeout by killing the process; nothing here
relies on Python signal handlers, so it works whatever thread the trainer calls rewards from.

Limits a worker sets on itself at start: SIGINT ignored (Ctrl-C is the trainer's business),
no core files, an address-space limit (``RLIMIT_AS``: an allocation beyond it raises
``MemoryError``, reported as status ``oom``) and, before each sample, a CPU-time limit
(``RLIMIT_CPU`` set to the CPU time used so far plus the per-sample allowance: the kernel
kills the process with SIGXCPU, even inside C code, and the parent reports ``cpu_limit``).
"""

from __future__ import annotations

import logging
import math
import numbers
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

#: Messages from a worker: (status, value, detail, seconds).
Reply = tuple[str, float, str, float]


def quiet_math_verify() -> None:
    """Silence math-verify's 'timeout is disabled' warnings: our own timeout is in force."""
    for name in ("math_verify", "math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).setLevel(logging.ERROR)


def check_value(value: Any) -> tuple[str, float, str]:
    """Turn a score function's return value into (status, float, detail)."""
    if not isinstance(value, numbers.Real):
        return "error", 0.0, f"returned {type(value).__name__}, not a float"
    number = float(value)
    if not math.isfinite(number):
        return "error", 0.0, f"returned {number}, not a finite float"
    return "ok", number, ""


def set_limits(memory_limit_mb: int | None) -> None:
    """Ignore SIGINT, write no core files, and cap the address space (where supported)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import resource
    except ImportError:  # not POSIX: the wall-clock timeout still applies
        return
    _set_soft(resource, resource.RLIMIT_CORE, 0)
    if memory_limit_mb is not None:
        _set_soft(resource, resource.RLIMIT_AS, int(memory_limit_mb) * 1024 * 1024)


def _set_soft(resource: Any, which: int, soft: int) -> None:
    """Set a soft limit, never above the hard one; ignored where the platform refuses."""
    try:
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))
    except (ValueError, OSError):
        pass


def allow_cpu_seconds(seconds: float | None) -> None:
    """Let the next sample use ``seconds`` more CPU time (rounded up) before SIGXCPU."""
    if seconds is None:
        return
    try:
        import resource
    except ImportError:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _set_soft(resource, resource.RLIMIT_CPU, math.ceil(usage.ru_utime + usage.ru_stime + seconds))


def score_one(message: tuple, memory_limit_mb: int | None = None) -> Reply:
    """Run one ``(score, completion, columns, options)`` message; never raises."""
    started = time.perf_counter()
    try:
        score, completion, columns, options = message
        status, value, detail = check_value(score(completion, columns, options))
    except MemoryError:
        limit = f" of {memory_limit_mb} MiB" if memory_limit_mb else ""
        status, value, detail = "oom", 0.0, f"MemoryError: over the memory limit{limit}"
    except Exception as exc:  # a reward's bug is a counted error, never a crash
        status, value, detail = "error", 0.0, " ".join(f"{type(exc).__name__}: {exc}".split())
    return status, value, detail[:500], time.perf_counter() - started


def serve(
    conn: Connection, memory_limit_mb: int | None = None, cpu_time_limit_s: float | None = None
) -> None:
    """Serve chunks until the parent sends ``None`` or goes away.

    A chunk is a list of ``(score, completion, columns, options)``; each result is sent as
    soon as it is ready, as ``(index, status, value, detail, seconds)``, so the parent can
    time every sample on its own. Index -1 means the whole chunk could not be loaded.
    """
    set_limits(memory_limit_mb)
    quiet_math_verify()
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        except Exception as exc:  # e.g. a score function that cannot be unpickled here
            detail = f"could not load the task: {type(exc).__name__}: {exc}"
            replies: list[tuple] = [(-1, "error", 0.0, detail[:500], 0.0)]
            chunk = []
        else:
            if chunk is None:
                return
            replies = []
        try:
            for reply in replies:
                conn.send(reply)
            for index, message in enumerate(chunk):
                allow_cpu_seconds(cpu_time_limit_s)
                conn.send((index, *score_one(message, memory_limit_mb)))
        except (EOFError, OSError):
            return
