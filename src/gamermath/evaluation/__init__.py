"""``gmr eval --harness``: lm-evaluation-harness runs, run-dir models, honest baselines.

- ``target``: ``--model`` / ``--adapter`` (run directories included) to a source + adapter.
- ``harness``: ``run_harness`` around lm-eval's ``simple_evaluate`` and its ``HFLM`` or
  ``VLLM`` model type.
- ``sampling``: ``--samples K`` as lm-eval ``repeats`` and filters (maj@K, pass@K, avg@K).
- ``intervals``: Wilson and Newcombe 95% intervals.
- ``tables``: ``results.json``, ``results.md`` and per-sample logs.
- ``baselines``: published scores beside ours, ranked only like with like.

Importing this package is cheap; lm-eval, torch and transformers load when a run starts.
"""

from __future__ import annotations

from gamermath.evaluation.baselines import Baseline, Comparison, compare, load_baselines
from gamermath.evaluation.harness import HarnessRun, run_harness
from gamermath.evaluation.tables import results_markdown, write_outputs
from gamermath.evaluation.target import EvalTarget, resolve_target

__all__ = [
    "Baseline",
    "Comparison",
    "EvalTarget",
    "HarnessRun",
    "compare",
    "load_baselines",
    "resolve_target",
    "results_markdown",
    "run_harness",
    "write_outputs",
]
