"""Run lm-evaluation-harness tasks on a model, and keep what it reports.

Everything the evaluation does is lm-eval's own: ``simple_evaluate`` over its ``HFLM``
(default backend: wrapping the model ``gamermath.models.load_model`` loaded, a PEFT adapter
merged in, the tokenizer passed explicitly) or its ``VLLM`` model type (``--backend vllm``:
the resolved model folder, the adapter as a LoRA request), with a ``TaskManager`` that
includes every installed eval task set. Nothing here prompts, generates or scores.

Tasks may ask for run settings lm-eval applies per run rather than per task, under
``metadata: gmr:`` in their YAML: ``chat_template: true`` (apply the tokenizer's chat
template, few-shot examples as turns) and ``think_end_token: "</think>"`` (score only the
text after it). Tasks with different settings run as separate ``simple_evaluate`` calls
on the same loaded model.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import logging
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamermath import plugins
from gamermath.engine.threads import torch_threads
from gamermath.errors import GmrError
from gamermath.evaluation.intervals import normal, wilson
from gamermath.evaluation.sampling import Sampling, sampled_specs, task_decoding
from gamermath.evaluation.target import EvalTarget

BACKENDS = ("hf", "vllm")
#: lm-eval log lines that say nothing useful to a gmr user: every task with a
#: ``custom_dataset`` is told about ``--metadata``; HFLM warns whenever it is handed a
#: loaded model (which is how gmr passes one).
_NOISE = {
    "lm_eval.api.task": ("Custom kwargs can be passed",),
    "lm_eval.models.huggingface": ("`pretrained` model kwarg is not of type `str`",
                                   "Passed an already-initialized model through `pretrained`"),
    # gamermath's task sets shadow lm-eval's built-ins of the same name on purpose
    "lm_eval.tasks._index": ("overrides existing task",),
}
#: CPU threads ``gmr eval`` uses on a CPU unless ``--threads`` says otherwise: measured
#: with bench/eval_threads.py (SmolLM2-135M, GSM8K, bench/RESULTS.md "eval threads"), one
#: thread generated 3-5x faster than torch's default on a shared 2-core machine.
CPU_EVAL_THREADS = 1
#: vLLM's LoRA rank slots (``max_lora_rank`` must be one of them).
_VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


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
    with quiet_lm_eval():
        manager = TaskManager(include_path=paths, include_defaults=False, metadata=metadata)
    missing = [t for t in tasks if t not in manager.all_tasks]
    if missing:
        with quiet_lm_eval():
            manager = TaskManager(include_path=paths, include_defaults=True, metadata=metadata)
        unknown = [t for t in tasks if t not in manager.all_tasks]
        if unknown:
            ours = ", ".join(sorted(task_protocols())) or "none"
            raise GmrError(
                f"unknown lm-eval task '{unknown[0]}'; gamermath tasks: {ours} "
                "(or any lm-eval built-in task name)"
            )
    return manager


def _first_leaf(manager, name: str) -> str:
    """The first task a group (or tag) runs, found in the index; ``name`` for a task."""
    seen: set[str] = set()
    while name not in seen:
        seen.add(name)
        entry = manager.task_index.get(name)
        children = (entry.cfg or {}).get("task") if entry is not None else None
        if isinstance(children, list) and children and isinstance(children[0], str):
            name = children[0]
        elif entry is not None and getattr(entry.kind, "name", "") == "TAG":
            tagged = sorted(n for n, e in manager.task_index.items() if name in e.tags)
            name = tagged[0] if tagged else name
        else:
            break
    return name


def check_data_reachable(manager, tasks: Sequence[str], data_dir: Path | None) -> None:
    """Load the data of each task's first leaf, before any model is loaded.

    The data comes from ``data_dir`` (gamermath's local-data tasks) or the hub (with
    ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` honoured, so an offline run fails at once);
    whatever fails becomes one line naming the task and what to set. lm-eval caches what
    is loaded here, so the evaluation itself reads it again cheaply.
    """
    from gamermath.data.hub import honour_offline_env

    for task in tasks:
        leaf = _first_leaf(manager, task)
        try:
            with quiet_lm_eval(), honour_offline_env():
                manager.load_task_or_group([leaf])
        except GmrError:
            raise
        except Exception as exc:  # offline, no cache, no such file: one message covers them
            detail = " ".join(str(exc).split())[:160] or type(exc).__name__
            where = (f"the data directory {data_dir}" if data_dir is not None
                     else "the Hugging Face hub (no --data-dir or GMR_DATA_DIR given)")
            raise GmrError(
                f"eval task '{task}': cannot load its data from {where}: {detail}; pass "
                "--data-dir DIR or set GMR_DATA_DIR to a folder holding gsm8k/, mmlu/, "
                "math500/ (gamermath's tasks), or allow the hub (lm-eval's own tasks)"
            ) from None


def run_settings(manager, task: str) -> tuple[bool, str | None]:
    """``(chat_template, think_end_token)`` from the task's ``metadata: gmr:`` block."""
    from gamermath.builtin.eval_tasks import gmr_metadata

    entry = manager.task_index.get(task)
    gmr = gmr_metadata((entry.cfg if entry is not None else None) or {})
    return bool(gmr.get("chat_template", False)), gmr.get("think_end_token") or None


class _DropNoise(logging.Filter):
    """Drops log records whose message contains one of ``phrases``."""

    def __init__(self, phrases: Sequence[str]) -> None:
        super().__init__()
        self.phrases = tuple(phrases)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(phrase in message for phrase in self.phrases)


def _git_hash_quietly() -> str | None:
    """lm-eval's ``get_git_commit_hash`` without git's "fatal: not a git repository"."""
    from lm_eval.loggers.utils import get_commit_from_path

    try:
        found = subprocess.run(["git", "describe", "--always"], capture_output=True,
                               text=True, check=True)
        return found.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return get_commit_from_path(os.getcwd())


@contextmanager
def quiet_lm_eval() -> Iterator[None]:
    """Silence lm-eval's noise (see ``_NOISE``) and git's stderr while it records a hash."""
    import lm_eval.evaluator as evaluator

    added = []
    for name, phrases in _NOISE.items():
        noise = _DropNoise(phrases)
        logging.getLogger(name).addFilter(noise)
        added.append((name, noise))
    original = evaluator.get_git_commit_hash
    evaluator.get_git_commit_hash = _git_hash_quietly
    try:
        yield
    finally:
        evaluator.get_git_commit_hash = original
        for name, noise in added:
            logging.getLogger(name).removeFilter(noise)


def eval_threads(threads: int | None, backend: str, device: str | None) -> int | None:
    """The CPU thread count to evaluate with: ``threads`` when given; else
    ``CPU_EVAL_THREADS`` when the model runs on the CPU; else None (torch's own)."""
    if threads is not None or backend != "hf":
        return threads
    if device is not None:
        on_cpu = device == "cpu"
    else:
        import torch

        on_cpu = not torch.cuda.is_available()
    return CPU_EVAL_THREADS if on_cpu else None


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


def lora_rank_slot(adapter: Path) -> int:
    """The smallest vLLM ``max_lora_rank`` that holds the adapter's rank ``r``."""
    try:
        config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
        rank = int(config.get("r") or 0)
    except (OSError, ValueError, TypeError) as exc:
        raise GmrError(f"{adapter}/adapter_config.json: cannot read the LoRA rank: {exc}") from None
    for slot in _VLLM_LORA_RANKS:
        if rank <= slot:
            return slot
    raise GmrError(f"{adapter}: LoRA rank {rank} is above vLLM's largest ({_VLLM_LORA_RANKS[-1]})")


def vllm_arguments(target: EvalTarget, dtype: str = "auto",
                   batch_size: int | str = "auto") -> dict[str, Any]:
    """Keyword arguments for lm-eval's ``VLLM`` model type for ``target``.

    The model source is resolved (a ``.gguf`` or ``pkg:`` source becomes its converted
    folder); an adapter is served as a LoRA request, not merged.
    """
    from gamermath.models import choose_dtype, resolve_model

    args: dict[str, Any] = {
        "pretrained": resolve_model(target.source),
        "dtype": "auto" if dtype == "auto" else choose_dtype(dtype),
        "batch_size": batch_size,
    }
    if target.adapter is not None:
        args["lora_local_path"] = str(target.adapter)
        args["max_lora_rank"] = lora_rank_slot(target.adapter)
    return args


def require_vllm() -> None:
    """A one-line error when the vllm package is not installed."""
    if importlib.util.find_spec("vllm") is None:
        raise GmrError("--backend vllm needs the vllm package and a CUDA GPU: "
                       "pip install 'gamermath[vllm]' (or use the default --backend hf)")


def make_vllm(target: EvalTarget, dtype: str = "auto", batch_size: int | str = "auto"):
    """lm-eval's ``VLLM`` model for ``target``; a one-line error when vLLM is missing."""
    require_vllm()
    from lm_eval.models.vllm_causallms import VLLM

    return VLLM(**vllm_arguments(target, dtype, batch_size))


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


def _add_intervals(metrics: dict[str, dict[str, Any]],
                   samples: list[dict[str, Any]]) -> None:
    """Give each metric a 95% ``ci``: Wilson when every per-document value is 0 or 1 (an
    accuracy), else mean ± 1.96 stderr; none when neither is known."""
    for key, entry in metrics.items():
        name, _, filt = key.partition(",")
        values = [s[name] for s in samples if s.get("filter") == filt and name in s]
        value, stderr = entry.get("value"), entry.get("stderr")
        if value is None:
            entry["ci"] = None
        elif values and all(v in (0, 1) for v in values):
            entry["ci"] = list(wilson(value, len(values)))
        elif stderr is not None:
            entry["ci"] = list(normal(value, stderr))
        else:
            entry["ci"] = None


def _leaf_settings(raw: dict[str, Any], leaf: str, default_cap: int | None,
                   sampling: Sampling | None) -> dict[str, Any]:
    """The generation cap and decoding that lm-eval ran ``leaf`` with."""
    config = raw.get("configs", {}).get(leaf, {})
    gen = config.get("generation_kwargs") or {}
    if config.get("output_type") != "generate_until":
        return {"max_gen_toks": None, "decoding": "log-likelihood"}
    decoding = f"sampled: {sampling.label}" if sampling is not None else task_decoding(gen)
    return {"max_gen_toks": gen.get("max_gen_toks", default_cap), "decoding": decoding}


def summarize(
    raw: dict[str, Any], tasks: Sequence[str], protocols: dict[str, str],
    default_cap: int | None = None, sampling: Sampling | None = None,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Our ``tasks`` section and per-leaf-task samples from one ``simple_evaluate`` result."""
    section: dict[str, Any] = {}
    samples: dict[str, list[dict[str, Any]]] = {}
    counts = raw.get("n-samples", {})
    for name in tasks:
        leaves = _leaves(raw, name)
        n = sum(int(counts.get(leaf, {}).get("effective", 0)) for leaf in leaves)
        n_total = sum(int(counts.get(leaf, {}).get("original", 0)) for leaf in leaves)
        shots = raw.get("n-shot", {}).get(name, raw.get("n-shot", {}).get(leaves[0]))
        leaf_samples = [s for leaf in leaves for s in raw.get("samples", {}).get(leaf, [])]
        metrics = _metrics(raw.get("results", {}).get(name, {}))
        _add_intervals(metrics, leaf_samples)
        section[name] = {
            "protocol": protocols.get(name, ""),
            "n": n,
            "n_total": n_total,
            "num_fewshot": shots,
            **_leaf_settings(raw, leaves[0], default_cap, sampling),
            "metrics": metrics,
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
    batch_size: int | str | None = None,
    max_gen_toks: int | None = None,
    data_dir: Path | None = None,
    dtype: str = "auto",
    device: str | None = None,
    backend: str = "hf",
    sampling: Sampling | None = None,
    model_and_tokenizer: tuple[Any, Any] | None = None,
    threads: int | None = None,
) -> HarnessRun:
    """Evaluate ``target`` on lm-eval ``tasks``; return results and per-sample logs.

    ``backend``: ``hf`` (default) or ``vllm``. ``sampling``: K answers per question with
    maj@K / pass@K / avg@K (see ``gamermath.evaluation.sampling``). ``model_and_tokenizer``
    skips loading on the HF backend (for callers that already hold the model). ``threads``:
    CPU threads torch evaluates with (None: torch's own; see ``gamermath.engine.threads``).
    """
    import lm_eval
    from lm_eval import simple_evaluate

    tasks = list(dict.fromkeys(tasks))
    if not tasks:
        raise GmrError("--harness needs at least one task name (see gmr evals list)")
    if backend not in BACKENDS:
        raise GmrError(f"--backend {backend}: choose {' or '.join(BACKENDS)}")
    if backend == "vllm":
        require_vllm()
    manager = build_task_manager(tasks, data_dir)
    groups: dict[tuple[bool, str | None], list[str]] = {}
    for task in tasks:
        groups.setdefault(run_settings(manager, task), []).append(task)
    specs = {name: name for name in tasks}
    if sampling is not None:  # fails on an unsupported task before any model is loaded
        with quiet_lm_eval():
            specs = dict(zip(tasks, sampled_specs(manager, tasks, sampling), strict=True))

    check_data_reachable(manager, tasks, data_dir)
    protocols = task_protocols()
    section: dict[str, Any] = {}
    samples: dict[str, list[dict[str, Any]]] = {}
    with quiet_lm_eval(), torch_threads(threads):
        if backend == "vllm":
            lm = make_vllm(target, dtype, "auto" if batch_size is None else batch_size)
            record = {"backend": "vllm", "adapter_merged": False}
        else:
            if model_and_tokenizer is None:
                model, tokenizer, _ = load_for_eval(target, dtype=dtype, device=device)
            else:
                model, tokenizer = model_and_tokenizer
            lm = make_lm(model, tokenizer, 1 if batch_size is None else batch_size)
            record = {"backend": "hf", "adapter_merged": target.adapter is not None}
        default_cap = getattr(lm, "max_gen_toks", None)
        for (chat, think_end), names in groups.items():
            lm.think_end_token = think_end
            raw = simple_evaluate(
                model=lm,
                tasks=[specs[name] for name in names],
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
            part, part_samples = summarize(raw, names, protocols, default_cap, sampling)
            for name in names:
                part[name]["chat_template"] = chat
                part[name]["think_end_token"] = think_end
                part[name]["limit"] = limit
            section.update(part)
            samples.update(part_samples)
    lm.think_end_token = None

    results = {
        "model": target.source,
        "adapter": str(target.adapter) if target.adapter else None,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "lm_eval_version": getattr(lm_eval, "__version__", "unknown"),
        "settings": {
            "limit": limit,
            "num_fewshot": num_fewshot,
            "batch_size": batch_size,
            "max_gen_toks": max_gen_toks,
            "data_dir": str(data_dir) if data_dir else None,
            "samples": sampling.k if sampling else None,
            "temperature": sampling.temperature if sampling else None,
            "top_p": sampling.top_p if sampling else None,
            "top_k": sampling.top_k if sampling else None,
            "threads": threads,
            **record,
        },
        "tasks": {name: section[name] for name in tasks if name in section},
    }
    return HarnessRun(results=results, samples=samples)
