"""The loop a reward worker process runs: receive one sample, score it, send the result back.

Workers are started by ``gamermath.rewards.runner`` through a forkserver that has already
imported this module and math-verify, so a replacement for a killed worker starts in
milliseconds. The parent enforces the timeout by killing the process; nothing here relies on
signals, so it works whatever thread the trainer calls rewards from.
"""

from __future__ import annotations

import logging
import math
import numbers
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


def score_one(message: tuple) -> Reply:
    """Run one ``(score, completion, columns, options)`` message; never raises."""
    started = time.perf_counter()
    try:
        score, completion, columns, options = message
        status, value, detail = check_value(score(completion, columns, options))
    except Exception as exc:  # a reward's bug is a counted error, never a crash
        status, value, detail = "error", 0.0, " ".join(f"{type(exc).__name__}: {exc}".split())
    return status, value, detail[:500], time.perf_counter() - started


def serve(conn: Connection) -> None:
    """Serve chunks until the parent sends ``None`` or goes away.

    A chunk is a list of ``(score, completion, columns, options)``; each result is sent as
    soon as it is ready, as ``(index, status, value, detail, seconds)``, so the parent can
    time every sample on its own. Index -1 means the whole chunk could not be loaded.
    """
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
                conn.send((index, *score_one(message)))
        except (EOFError, OSError):
            return
