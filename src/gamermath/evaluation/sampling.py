"""``gmr eval --samples K``: maj@K, pass@K and avg@K through lm-eval's own machinery.

lm-eval samples K answers per question when a task says ``repeats: K``; its filters then
see the K responses of a question together (``majority_vote`` picks the most common
extracted answer, ``take_first`` keeps one). This module rewrites each task's config the
way lm-eval's ``gsm8k_cot_self_consistency`` is written, nothing more:

- ``repeats: K`` and sampling in ``generation_kwargs`` (``do_sample``, ``temperature``,
  ``top_p``, ``top_k``: ``--top-k``, 0 by default so no top-k cut, on the HF and vLLM
  backends alike);
- every filter ``F`` whose pipeline ends in ``take_first`` becomes two filters: ``F``
  without the ``take_first`` (the K extracted answers of a question, scored each, giving
  ``<metric>_pass@K``: at least one right, and ``<metric>_avg@K``: the share right, an
  unbiased pass@1) and ``F-maj@K`` = the same steps + ``majority_vote`` + ``take_first``
  (the task's own metric on the voted answer: maj@K);
- scoring: a task scored by lm-eval's ``exact_match`` metric gets :func:`exact_match`
  below (lm-eval's own ``exact_match`` per answer, with the task's options); a task with
  its own ``process_results`` must mark it sample-aware (:func:`sample_aware`).

Every per-question value is then averaged by lm-eval with its standard error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gamermath.errors import GmrError

#: Attribute set on a ``process_results`` function that accepts a list of K answers.
SAMPLE_AWARE = "gmr_sample_aware"
#: Metric-list keys that configure a metric rather than pass options to it.
_METRIC_KEYS = ("metric", "aggregation", "higher_is_better", "hf_evaluate")


@dataclass(frozen=True)
class Sampling:
    """How many answers to sample per question and how (default temperature 0.6 and top-p
    0.95: the values github.com/deepseek-ai/DeepSeek-R1's README, "Evaluation Results",
    estimates pass@1 with)."""

    k: int
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 0

    def __post_init__(self) -> None:
        if self.k < 2:
            raise GmrError("--samples must be at least 2 (one sample is plain decoding)")
        if not self.temperature > 0:
            raise GmrError("--temperature must be above 0 when sampling (--samples)")
        if not 0 < self.top_p <= 1:
            raise GmrError("--top-p must be in (0, 1]")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise GmrError("--top-k must be a whole number >= 0 (0: no top-k cut)")

    @property
    def label(self) -> str:
        """One line for tables and ``results.json``."""
        text = f"{self.k} samples per question, temperature {self.temperature}, top-p {self.top_p}"
        return text + (f", top-k {self.top_k}" if self.top_k else "")

    def generation_kwargs(self, base: dict[str, Any] | None) -> dict[str, Any]:
        """The task's generation settings with sampling switched on (``top_k`` 0: no cut)."""
        return {**(base or {}), "do_sample": True, "temperature": self.temperature,
                "top_p": self.top_p, "top_k": self.top_k}


def task_decoding(gen: dict[str, Any]) -> str:
    """How a task's own ``generation_kwargs`` decode, in the words baselines use:
    ``greedy`` or ``sampled by the task (temperature 0.7, top-k 50)`` (top-p when set)."""
    if not gen.get("do_sample"):
        return "greedy"
    parts = [f"temperature {gen.get('temperature')}"]
    if gen.get("top_k"):
        parts.append(f"top-k {gen['top_k']}")
    if gen.get("top_p") not in (None, 1, 1.0):
        parts.append(f"top-p {gen['top_p']}")
    return f"sampled by the task ({', '.join(parts)})"


def combine(per_answer: list[dict[str, float]]) -> dict[str, float]:
    """``{metric}_pass@K`` (best of the K scores) and ``{metric}_avg@K`` (their mean)."""
    k = len(per_answer)
    out: dict[str, float] = {}
    for metric in per_answer[0]:
        values = [float(score[metric]) for score in per_answer]
        out[f"{metric}_pass@{k}"] = max(values)
        out[f"{metric}_avg@{k}"] = sum(values) / k
    return out


def sample_aware(score_one: Callable[[dict, Any], dict[str, float]]):
    """Turn ``score_one(doc, answer) -> {metric: value}`` into an lm-eval ``process_results``.

    One answer (greedy decoding, or the ``majority_vote`` filter) is scored as is; a list of
    K answers (``--samples K``) gives :func:`combine` of their scores.
    """

    @functools.wraps(score_one)
    def process_results(doc: dict, results: list[Any]) -> dict[str, float]:
        answer = results[0]
        if isinstance(answer, list):
            return combine([score_one(doc, one) for one in answer])
        return score_one(doc, answer)

    setattr(process_results, SAMPLE_AWARE, True)
    return process_results


def exact_match(references: list[str], predictions: list[Any], **options: Any):
    """lm-eval's ``exact_match`` for one answer, or pass@K/avg@K over a list of K answers.

    Named ``exact_match`` on purpose: lm-eval keys a metric function by its name, so the
    majority-vote filter still reports ``exact_match``.
    """
    from lm_eval.api.metrics import exact_match_hf_evaluate

    def one(prediction: str) -> dict[str, float]:
        score = exact_match_hf_evaluate(predictions=[prediction], references=references, **options)
        return {"exact_match": float(score["exact_match"])}

    answer = predictions[0]
    if isinstance(answer, list):
        return combine([one(a) for a in answer])
    return one(answer)


def majority_name(filter_name: str, k: int) -> str:
    """The name of the majority-vote twin of a filter."""
    return f"maj@{k}" if filter_name == "none" else f"{filter_name}-maj@{k}"


def task_overrides(name: str, cfg: dict[str, Any], sampling: Sampling) -> dict[str, Any]:
    """Config keys that make the task ``name`` (full config ``cfg``) sample K answers."""
    if cfg.get("output_type") != "generate_until":
        raise GmrError(
            f"--samples: task {name} scores {cfg.get('output_type', '?')} requests, not "
            "generated answers; sample only generative tasks"
        )
    k = sampling.k
    filters = cfg.get("filter_list") or [{"name": "none", "filter": [{"function": "take_first"}]}]
    filter_list = []
    for entry in filters:
        steps = list(entry.get("filter") or [])
        if not steps or steps[-1].get("function") != "take_first":
            raise GmrError(
                f"--samples: task {name}, filter '{entry.get('name')}' does not end with "
                "take_first, so its answers cannot be regrouped per question"
            )
        per_answer = steps[:-1]
        vote = [{"function": "majority_vote"}, {"function": "take_first"}]
        filter_list += [{"name": entry["name"], "filter": per_answer},
                        {"name": majority_name(entry["name"], k), "filter": per_answer + vote}]
    metrics = list(cfg.get("metric_list") or [])
    if callable(cfg.get("process_results")):
        if not getattr(cfg["process_results"], SAMPLE_AWARE, False):
            raise GmrError(
                f"--samples: task {name} scores with its own process_results, which does not "
                "take a list of sampled answers (see gamermath.evaluation.sampling)"
            )
        extra = [{"metric": f"{m['metric']}_{kind}@{k}", "aggregation": "mean",
                  "higher_is_better": True}
                 for m in metrics for kind in ("pass", "avg")]
        metric_list = metrics + extra
    else:
        names = [m.get("metric") for m in metrics]
        if names != ["exact_match"]:
            raise GmrError(
                f"--samples: task {name} scores with {names or 'default metrics'}; sampling "
                "supports tasks scored by exact_match or by a sample-aware process_results"
            )
        options = {key: v for key, v in metrics[0].items() if key not in _METRIC_KEYS}
        metric_list = [{"metric": exact_match, "aggregation": "mean", "higher_is_better": True,
                        **options}]
    return {
        "repeats": k,
        "generation_kwargs": sampling.generation_kwargs(cfg.get("generation_kwargs")),
        "filter_list": filter_list,
        "metric_list": metric_list,
    }


def _aggregates(entries: list[dict[str, Any]] | None, k: int) -> list[dict[str, Any]]:
    """A group's ``aggregate_metric_list`` for the sampled metrics and filters."""
    out = []
    for entry in entries or []:
        filters = entry.get("filter_list", "none")
        filters = [filters] if isinstance(filters, str) else list(filters)
        rest = {key: v for key, v in entry.items() if key not in ("metric", "filter_list")}
        metric = entry["metric"]
        out.append({**rest, "metric": metric,
                    "filter_list": [majority_name(f, k) for f in filters]})
        for kind in ("pass", "avg"):
            out.append({**rest, "metric": f"{metric}_{kind}@{k}", "filter_list": filters})
    return out


def sampled_specs(manager, names: list[str], sampling: Sampling) -> list[Any]:
    """What ``simple_evaluate(tasks=...)`` takes for the named tasks rewritten to sample K
    answers: a config dict per task, a built ``Group`` per group.

    A group is built with the manager's own task factory rather than passed as a dict:
    lm-eval 0.4.13 merges a group dict into each member's config as overrides, so group-only
    keys such as ``aggregate_metric_list`` would reach the member tasks.
    """
    from lm_eval.tasks._index import Entry, Kind
    from lm_eval.tasks._yaml_loader import load_yaml

    def config(task: str) -> dict[str, Any]:
        entry = manager.task_index.get(task)
        if entry is None or entry.kind != Kind.TASK or entry.yaml_path is None:
            raise GmrError(f"--samples: {task} is not a YAML task (a tag or a Python task?)")
        cfg = load_yaml(entry.yaml_path, resolve_func=True, recursive=True)
        cfg.pop("group", None)
        return cfg

    specs: list[Any] = []
    for name in names:
        entry = manager.task_index[name]
        if entry.kind == Kind.GROUP and entry.yaml_path is not None:
            group = load_yaml(entry.yaml_path, resolve_func=True, recursive=True)
            members = []
            for member in group.get("task") or []:
                if not isinstance(member, str):
                    raise GmrError(f"--samples: group {name} lists an inline task; not supported")
                members.append({"task": member,
                                **task_overrides(member, config(member), sampling)})
            spec = {**group, "task": members}
            if group.get("aggregate_metric_list"):
                spec["aggregate_metric_list"] = _aggregates(group["aggregate_metric_list"],
                                                            sampling.k)
            built = Entry(name=name, kind=Kind.GROUP, yaml_path=None, cfg=spec)
            specs.append(manager._factory.build(built, registry=manager.task_index))
        else:
            cfg = config(name)
            specs.append({**cfg, **task_overrides(name, cfg, sampling)})
    return specs
