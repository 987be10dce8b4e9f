"""Confidence intervals for accuracies: Wilson for one proportion, Newcombe for a difference.

A benchmark accuracy is a proportion of ``n`` right answers. Its normal-approximation
standard error ``sqrt(p(1-p)/n)`` is 0 at 0% and 100%, which would make 0 of 8 look
exact; Wilson's score interval (Wilson 1927) stays honest there. The difference of two
independent accuracies gets Newcombe's hybrid score interval (Newcombe 1998, method 10),
built from the two Wilson intervals, so a baseline's own sampling error counts too.
"""

from __future__ import annotations

import math

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` of a proportion ``p`` observed over ``n``."""
    if n <= 0:
        return 0.0, 1.0
    p = min(max(p, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def normal(value: float, stderr: float, z: float = Z95) -> tuple[float, float]:
    """``value ± z·stderr``: the interval of a mean that is not a plain proportion."""
    return value - z * stderr, value + z * stderr


def difference(
    ours: float, n_ours: int, theirs: float, n_theirs: int | None, z: float = Z95
) -> tuple[float, float]:
    """Newcombe's interval of ``ours - theirs``; ``n_theirs=None`` treats theirs as exact."""
    low1, high1 = wilson(ours, n_ours, z)
    delta = ours - theirs
    if not n_theirs:
        return delta - (ours - low1), delta + (high1 - ours)
    low2, high2 = wilson(theirs, n_theirs, z)
    below = math.sqrt((ours - low1) ** 2 + (high2 - theirs) ** 2)
    above = math.sqrt((high1 - ours) ** 2 + (theirs - low2) ** 2)
    return delta - below, delta + above
