"""Run lm-evaluation-harness tasks on an in-memory model, and keep what it reports.

Everything the evaluation does is lm-eval's own: ``simple_evaluate`` over an ``HFLM``
wrapping the model that ``gamermath.models.load_model`` loaded (a PEFT adapter merged in),
with the tokenizer passed explicitly, and a ``TaskManager`` that includes every installed
eval task set. Nothing here prompts, generates or scores.

Tasks may ask for run settings lm-eval applies per run rather than per task, under
``metadata: gmr:`` in their YAML: ``chat_template: true`` (apply the tokenizer's chat
template, few-shot examples as turns) and ``think_end_token: "</think>"`` (score only the
text after it). Tasks with different settings run as separate ``simple_evaluate`` calls
on the same loaded model.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamermath import plugins
from gamermath.errors import GmrError
from gamermath.evaluation.target import EvalTarget


@dataclass
class HarnessRun:
    """The ``results.json`` document and lm-eval's per-sample logs of one evaluation."""

    results: dict[str, Any]
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def task_set_paths() -> list[Path]:
    """The folders of every installed eval task set (built-in and plugins)."""
    return [s.path for s in plugins.registry("eval task set").values()]


def task_protocols() -> dict[str, str]:
    """``{task: protocol line}`` over every installed eval task set."""
    found: dict[str, str] = {}
    for spec in plugins.registry("eval task set").values():
        found.update(spec.tasks)
    return found


def build_task_manager(tasks: Sequence[str], data_dir: Path | None):
    """A ``TaskManager`` over the installed task sets; lm-eval's built-ins only if needed.

    A task set's task shadows a built-in of the same name (lm-eval lets include paths
    win), which is how ``gsm8k`` becomes the local-data twin.
    """
    from lm_eval.tasks import TaskManager

    metadata = {"data_dir": str(data_dir)} if data_dir is not None else None
    paths = [str(p) for p in task_set_paths()]
    manager = TaskManager(include_path=paths, include_defaults=False, metadata=metadata)
    missing = [t for t in tasks if t not in manager.all_tasks]
    if missing:
        manager = TaskManager(include_path=paths, include_defaults=True, metadata=metadata)
        unknown = [t for t in tasks if t not in manager.all_tasks]
        if unknown:
            ours = ", ".join(sorted(task_protocols())) or "none"
            raise GmrError(
                f"unknown lm-eval task '{unknown[0]}'; gamermath tasks: {ours} "
                "(or any lm-eval built-in task name)"
            )
    return manager


def run_settings(manager, task: str) -> tuple[bool, str | None]:
    """``(chat_template, think_end_token)`` from the task's ``metadata: gmr:`` block."""
    entry = manager.task_index.get(task)
    cfg = (entry.cfg if entry is not None else None) or {}
    meta = cfg.get("metadata") if isinstance(cfg.get("metadata"), dict) else {}
    gmr = meta.get("gmr") if isinstance(meta.get("gmr"), dict) else {}
    return bool(gmr.get("chat_template", False)), gmr.get("think_end_token") or None


class _DropCustomDatasetNotice(logging.Filter):
    """lm-eval tells every task with a ``custom_dataset`` about ``--metadata``; not useful here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Custom kwargs can be passed" not in record.getMessage()


def _quiet_custom_dataset_notice() -> None:
    log = logging.getLogger("lm_eval.api.task")
    if not any(isinstance(f, _DropCustomDatasetNotice) for f in log.filters):
        log.addFilter(_DropCustomDatasetNotice())


def load_for_eval(
    target: EvalTarget, dtype: str = "auto", device: str | None = None
) -> tuple[Any, Any, dict[str, str]]:
    """``(model, tokenizer, record)`` with the target's adapter merged into the model."""
    from gamermath.models import load_model

    model, tokenizer, record = load_model(target.source, dtype=dtype, device=device)
    if target.adapter is not None:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, str(target.adapter)).merge_and_unload()
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            detail = " ".join(str(exc).split())[:200]
            raise GmrError(
                f"cannot apply adapter {target.adapter} to {target.source}: {detail}"
            ) from None
        record["adapter"] = str(target.adapter)
    model.eval()
    return model, tokenizer, record


def make_lm(model: Any, tokenizer: Any, batch_size: int | str = 1):
    """lm-eval's ``HFLM`` around an already loaded model and tokenizer."""
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)


def _metrics(block: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for key, value in block.items():
        if "," not in key:
            continue
        metric, filt = key.split(",", 1)
        stderr = metric.endswith("_stderr")
        name = f"{metric[: -len('_stderr')] if stderr else metric},{filt}"
        entry = out.setdefault(name, {"value": None, "stderr": None})
        number = float(value) if isinstance(value, (int, float)) else None
        entry["stderr" if stderr else "value"] = number
    return out


def _leaves(raw: dict[str, Any], name: str) -> list[str]:
    subtasks = raw.get("group_subtasks", {}).get(name)
    if not subtasks:
        return [name]
    found: list[str] = []
    for child in subtasks:
        found += _leaves(raw, child)
    return found


def summarize(
    raw: dict[str, Any], tasks: Sequence[str], protocols: dict[str, str]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Our ``tasks`` section and per-leaf-task samples from one ``simple_evaluate`` result."""
    section: dict[str, Any] = {}
    samples: dict[str, list[dict[str, Any]]] = {}
    for name in tasks:
        leaves = _leaves(raw, name)
        n = sum(int(raw.get("n-samples", {}).get(leaf, {}).get("effective", 0)) for leaf in leaves)
        shots = raw.get("n-shot", {}).get(name, raw.get("n-shot", {}).get(leaves[0]))
        section[name] = {
            "protocol": protocols.get(name, ""),
            "n": n,
            "num_fewshot": shots,
            "metrics": _metrics(raw.get("results", {}).get(name, {})),
        }
        if len(leaves) > 1:
            section[name]["subtasks"] = leaves
        for leaf in leaves:
            samples[leaf] = list(raw.get("samples", {}).get(leaf, []))
    return section, samples


def run_harness(
    target: EvalTarget,
    tasks: Sequence[str],
    *,
    num_fewshot: int | None = None,
    limit: int | float | None = None,
    batch_size: int | str = 1,
    max_gen_toks: int | None = None,
    data_dir: Path | None = None,
    dtype: str = "auto",
    device: str | None = None,
    model_and_tokenizer: tuple[Any, Any] | None = None,
) -> HarnessRun:
    """Evaluate ``target`` on lm-eval ``tasks``; return results and per-sample logs.

    ``model_and_tokenizer`` skips loading (for callers that already hold the model).
    """
    import lm_eval
    from lm_eval import simple_evaluate

    tasks = list(dict.fromkeys(tasks))
    if not tasks:
        raise GmrError("--harness needs at least one task name (see gmr evals list)")
    manager = build_task_manager(tasks, data_dir)
    if model_and_tokenizer is None:
        model, tokenizer, _ = load_for_eval(target, dtype=dtype, device=device)
    else:
        model, tokenizer = model_and_tokenizer
    lm = make_lm(model, tokenizer, batch_size)

    groups: dict[tuple[bool, str | None], list[str]] = {}
    for task in tasks:
        groups.setdefault(run_settings(manager, task), []).append(task)

    protocols = task_protocols()
    section: dict[str, Any] = {}
    samples: dict[str, list[dict[str, Any]]] = {}
    configs: dict[str, Any] = {}
    _quiet_custom_dataset_notice()
    for (chat, think_end), names in groups.items():
        lm.think_end_token = think_end
        raw = simple_evaluate(
            model=lm,
            tasks=names,
            num_fewshot=num_fewshot,
            limit=limit,
            log_samples=True,
            apply_chat_template=chat,
            fewshot_as_multiturn=chat,
            gen_kwargs={"max_gen_toks": max_gen_toks} if max_gen_toks else None,
            task_manager=manager,
        )
        if raw is None:  # only on non-zero ranks of a distributed run
            continue
        part, part_samples = summarize(raw, names, protocols)
        for name in names:
            part[name]["chat_template"] = chat
            part[name]["think_end_token"] = think_end
        section.update(part)
        samples.update(part_samples)
        configs.update(raw.get("configs", {}))
    lm.think_end_token = None

    results = {
        "model": target.source,
        "adapter": str(target.adapter) if target.adapter else None,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "lm_eval_version": getattr(lm_eval, "__version__", "unknown"),
        "settings": {
            "limit": limit,
            "num_fewshot": num_fewshot,
            "batch_size": batch_size,
            "max_gen_toks": max_gen_toks,
            "data_dir": str(data_dir) if data_dir else None,
        },
        "tasks": {name: section[name] for name in tasks if name in section},
    }
    return HarnessRun(results=results, samples=samples)
