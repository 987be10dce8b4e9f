"""Imported only by the reward workers' forkserver (never by the trainer): ignore SIGINT there.

Python's forkserver records the signal handlers in force after its preload imports and gives
them to every process it forks. Ignoring SIGINT here means each reward worker is born
ignoring Ctrl-C, with no window between its start and ``worker.set_limits``: a Ctrl-C in the
terminal reaches the trainer (which decides what it means) but never a worker mid-sample.
"""

from __future__ import annotations

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
