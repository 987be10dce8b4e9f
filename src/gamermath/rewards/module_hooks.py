"""Optional names a reward's module may define beside its ``score``.

gmr looks them up on the module that defines ``Reward.score`` (no registration needed;
option checks are the ``Reward.check_options`` field instead):

- ``key_verdict(key, options) -> float | None``: the score decided from the reward's own
  ``cache_key`` alone, or None when a worker must score the sample. It runs in the trainer's
  process, so it must be cheap and never grind (string and integer work on the key, no
  sympy); it must agree with ``score`` (``gmr reward check`` compares them).
- ``GMR_PRELOAD``: modules the worker processes import once at start-up (see
  ``gamermath.rewards.runner.preload_modules``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from gamermath.specs import Reward


def module_function(reward: Reward, name: str) -> Callable[..., Any] | None:
    """The function ``name`` of the module that defines ``reward.score``, or None."""
    module = sys.modules.get(getattr(reward.score, "__module__", "") or "")
    found = getattr(module, name, None)
    return found if callable(found) else None
