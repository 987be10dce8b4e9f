"""The Hugging Face model card of a run: ``README.md`` with YAML front matter and the evidence.

Everything printed comes from the run directory (``recipe.toml``, ``environment.json``,
``metrics.jsonl``, ``contamination.json``), from ``gmr eval`` output folders
(``results.json``, ``contamination.json``) and, for the published baselines, from the
installed ``baselines.toml``; derived figures (intervals of held-out accuracy, the gain
attribution) are computed by the same functions ``gmr train`` and ``gmr eval --compare``
print them with. The card states what the usual card leaves out: each score's protocol,
n, 95% interval, and what was not measured.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError
from gamermath.evaluation.tables import markdown_table
from gamermath.report.rundata import RunData, load_run

CONTAMINATION_FILE = "contamination.json"


@dataclass
class EvalDir:
    """One ``gmr eval`` output folder: its ``results.json`` and contamination summary."""

    path: Path
    results: dict[str, Any]
    contamination: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GmrError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise GmrError(f"{path}: expected a JSON object")
    return data


def load_eval_dir(path: str | Path) -> EvalDir:
    """A ``gmr eval`` output folder; one line naming it when it has no ``results.json``."""
    folder = Path(path)
    results = folder / "results.json"
    if not results.is_file():
        raise GmrError(f"--eval {folder}: no results.json (a gmr eval --output folder)")
    data = _read_json(results)
    if not isinstance(data.get("tasks"), dict):
        raise GmrError(f"{results}: no 'tasks' table")
    summary = folder / CONTAMINATION_FILE
    return EvalDir(folder, data, _read_json(summary) if summary.is_file() else {})


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}"


def _is_adapter(run: RunData) -> bool:
    return (run.path / "adapter" / "adapter_config.json").is_file()


def _headline(task: str, metrics: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The task's headline metric (``baselines.toml``'s choice, else lm-eval's first)."""
    from gamermath.report.evalrows import _task_metrics, primary_metric

    wanted = _task_metrics().get(task)
    found = primary_metric({wanted: metrics[wanted]} if wanted in metrics else metrics)
    if found is None:
        return None
    entry = metrics[found[0]]
    return found[0], entry if isinstance(entry, dict) else {"value": entry}


def _dataset_ids(run: RunData) -> list[str]:
    """Hub ids of the datasets the run trained on (generated datasets have none)."""
    from gamermath import plugins

    recipe = run.recipe
    if recipe is None:
        return []
    names = [recipe.data.dataset] + ([recipe.sft_data().dataset] if recipe.sft_enabled else [])
    ids = []
    for name in dict.fromkeys(names):
        try:
            hub = plugins.get("dataset", name).hub_id
        except GmrError:
            hub = ""
        if hub:
            ids.append(hub)
    return ids


def _model_index(run: RunData, evals: Sequence[EvalDir]) -> list[dict[str, Any]]:
    """HF ``model-index``: one result per eval task, plus the final held-out point."""
    from gamermath.engine.attribution import stage_points

    results = []
    for ev in evals:
        for task, info in ev.results["tasks"].items():
            found = _headline(task, info.get("metrics") or {})
            if found is None or found[1].get("value") is None:
                continue
            metric, entry = found
            results.append({
                "task": {"type": "text-generation", "name": "Text Generation"},
                "dataset": {"name": task, "type": task, "split": "test"},
                "metrics": [{
                    "type": metric.split(",")[0],
                    "value": round(100 * float(entry["value"]), 2),
                    "name": f"{metric} (%, n={info.get('n')}, {info.get('num_fewshot')}-shot, "
                            f"{info.get('decoding') or 'decoding not recorded'})",
                    "verified": False,
                }],
                "source": {"name": f"gmr eval (lm-eval {ev.results.get('lm_eval_version')})",
                           "url": "https://github.com/EleutherAI/lm-evaluation-harness"},
            })
    points = stage_points(run.metrics)
    if points and run.recipe is not None:
        name, last = points[-1]
        data = run.recipe.data
        results.append({
            "task": {"type": "text-generation", "name": "Text Generation"},
            "dataset": {"name": f"{data.dataset} held-out", "type": data.dataset,
                        "split": run.recipe.eval.split},
            "metrics": [{
                "type": "accuracy",
                "value": round(100 * last.accuracy, 2),
                "name": f"held-out accuracy after {name} (%, n={last.n}, "
                        f"{run.recipe.eval.metric})",
                "verified": False,
            }],
        })
    return results


def front_matter(run: RunData, evals: Sequence[EvalDir]) -> dict[str, Any]:
    """The YAML metadata Hugging Face reads from a model card."""
    recipe = run.recipe
    adapter = _is_adapter(run)
    base = recipe.model.source if recipe is not None else run.environment.get(
        "model", {}).get("source", "")
    tags = ["gamermath", "trl", "grpo", "math", "reasoning"]
    if adapter:
        tags.append("lora")
    if recipe is not None and recipe.sft_enabled:
        tags.append("sft")
    meta: dict[str, Any] = {
        "base_model": base,
        "library_name": "peft" if adapter else "transformers",
        "pipeline_tag": "text-generation",
        "tags": tags,
    }
    datasets = _dataset_ids(run)
    if datasets:
        meta["datasets"] = datasets
    index = _model_index(run, evals)
    if index:
        meta["model-index"] = [{"name": run.name, "results": index}]
    return meta


def _heldout_section(run: RunData) -> list[str]:
    from gamermath.engine.attribution import stage_attributions, stage_points
    from gamermath.evaluation.intervals import wilson

    points = stage_points(run.metrics)
    if not points:
        return ["No held-out evaluation was logged (`[eval] heldout = 0`, or the run stopped "
                "before its first one)."]
    recipe = run.recipe
    where = (f"the first {points[0][1].n} problems of `{recipe.data.dataset}` split "
             f"`{recipe.eval.split}`, scored by `{recipe.eval.metric}`, greedy, "
             f"{recipe.eval.max_new_tokens or recipe.completion_tokens()} new tokens"
             if recipe is not None else "the recipe's held-out split")
    rows = []
    for name, p in points:
        low, high = wilson(p.accuracy, p.n)
        rows.append((name, f"{p.stage} step {p.step}", str(p.n), f"{p.correct}",
                     f"{_pct(p.accuracy)} [{_pct(low)}, {_pct(high)}]", _pct(p.format_rate),
                     _pct(p.accuracy_formatted)))
    lines = [f"Measured during training on {where}.", "",
             markdown_table(("stage", "point", "n", "correct", "accuracy % [95% CI]",
                             "format %", "right when formatted %"), rows), ""]
    gains = stage_attributions(run.metrics)
    if gains:
        lines += ["Gain attribution (points; format repair + correctness + unformatted = "
                  "the change; see `gamermath.engine.attribution`):", "",
                  markdown_table(("stage", "change", "format", "correctness", "unformatted"), [
                      (a.name, f"{100 * a.gain:+.1f}", f"{100 * a.format:+.1f}",
                       f"{100 * a.correctness:+.1f}", f"{100 * a.unformatted:+.1f}")
                      for a in gains]), ""]
    n = points[-1][1].n
    if n < 100:
        lines.append(f"With n={n} the interval of each point is wide; differences between "
                     "stages inside it are not evidence of a gain.")
    return lines


def _eval_section(evals: Sequence[EvalDir]) -> list[str]:
    from gamermath.evaluation import baselines

    if not evals:
        return ["No `gmr eval` output was given (`--eval DIR`), so this card reports no "
                "benchmark score."]
    lines: list[str] = []
    for ev in evals:
        res = ev.results
        adapter = " with its adapter merged" if res.get("adapter") else ""
        lines += [f"`gmr eval` of `{res.get('model')}`{adapter}: lm-eval "
                  f"{res.get('lm_eval_version')}, {res.get('created')}, backend "
                  f"{(res.get('settings') or {}).get('backend', 'hf')}.", ""]
        rows = []
        for task, info in res["tasks"].items():
            found = _headline(task, info.get("metrics") or {})
            if found is None:
                continue
            metric, entry = found
            ci = entry.get("ci")
            n, total = info.get("n"), info.get("n_total")
            rows.append((task, metric, _pct(entry.get("value"), 2),
                         f"[{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "n/a",
                         f"{n}" + (f" of {total}" if total and total != n else ""),
                         str(info.get("num_fewshot")), str(info.get("decoding")),
                         str(info.get("max_gen_toks")), str(info.get("protocol") or
                                                            "lm-eval built-in")))
        lines += [markdown_table(("task", "metric", "score %", "95% CI", "n", "shots",
                                  "decoding", "cap", "protocol"), rows), ""]
        try:
            found = baselines.compare(res)
        except GmrError as exc:
            lines += [f"Published baselines could not be read: {exc}", ""]
            continue
        if found:
            lines += ["Published baselines, ranked only like with like (`gmr eval --compare`):",
                      ""]
            lines += [f"- {w.removeprefix('warning: ')}" for w in
                      baselines.limited_warnings(found)]
            lines += ["", markdown_table(baselines.COMPARE_HEADER,
                                         baselines.comparison_rows(found)), ""]
    return lines


def _contamination_lines(summary: dict[str, Any], where: str) -> list[str]:
    train = ", ".join(f"{name} {count}" for name, count in
                      (summary.get("train_rows") or {}).items())
    if not summary.get("eval_docs"):
        return [f"- nothing to check against: no eval documents ({where})"]
    out = []
    for name, total in (summary.get("eval_docs") or {}).items():
        hit = (summary.get("contaminated_docs") or {}).get(name, 0)
        out.append(f"- {name}: {hit} of {total} documents share a {summary.get('ngram')}-gram "
                   f"with the training rows ({train}; {where})")
    return out


def _contamination_section(run: RunData, evals: Sequence[EvalDir]) -> list[str]:
    lines = ["Word 13-gram overlap between the training prompts and answers (SFT and GRPO, as "
             "rendered) and the evaluated documents, lm-eval's decontamination method "
             "(lower-cased, punctuation removed; GPT-3 paper, appendix C).", ""]
    found = False
    summary = run.path / CONTAMINATION_FILE
    if summary.is_file():
        found = True
        lines += _contamination_lines(_read_json(summary), "checked by gmr train; pairs in "
                                      "overlap.jsonl")
    for ev in evals:
        if ev.contamination:
            found = True
            lines += _contamination_lines(ev.contamination, "checked by gmr eval --compare")
    if not found:
        lines.append("Not checked: the run has no contamination.json (run `gmr data overlap "
                     "RECIPE --harness TASKS`).")
    return lines


def _lora_line(lora) -> str:
    """The adapter's shape, or full fine-tuning."""
    if not lora.enabled:
        return "- Full fine-tuning: every weight trained (`[lora] enabled = false`)"
    targets = lora.target_modules
    modules = targets if isinstance(targets, str) else ", ".join(targets)
    return f"- LoRA: r {lora.r}, alpha {lora.alpha:g}, modules {modules}"


def _recipe_section(run: RunData) -> list[str]:
    recipe = run.recipe
    if recipe is None:
        return [f"The run's recipe could not be read: {run.recipe_problem}"]
    grpo = recipe.grpo.trl
    argv = run.environment.get("argv") or []
    origin = next((a for a in argv if str(a).endswith(".toml")), None)
    lines = []
    if origin:
        shown = (f"recipes/{Path(origin).name}" if Path(origin).parent.name == "recipes"
                 else origin)
        lines.append(f"Recipe file: `{shown}` (resolved copy: `recipe.toml` in the run "
                     "directory, every TRL default written out).")
        from gamermath.recipe.sources import sources_path

        table = sources_path(origin)
        if table.is_file():
            lines.append(f"Its sources: `{table}` says where each setting comes from "
                         f"(`gmr recipe show --sources {origin}`).")
    rewards = ", ".join(f"`{r.label}` x {r.weight:g}" for r in recipe.rewards)
    lines += [
        "",
        f"- Base model: `{recipe.model.source}` ({recipe.model.dtype})",
        _lora_line(recipe.lora),
        f"- GRPO data: `{recipe.data.dataset}` split `{recipe.data.split}`, template "
        f"`{recipe.data.template}`" + (f", first {recipe.data.limit} rows"
                                       if recipe.data.limit else ""),
        f"- Rewards: {rewards}",
        f"- GRPO: {grpo.get('num_generations')} generations, learning rate "
        f"{grpo.get('learning_rate')}, beta {grpo.get('beta')}, seed {recipe.run.seed}",
    ]
    if recipe.sft_enabled:
        sft = recipe.sft_data()
        lines.append(f"- SFT warm-up: `{sft.dataset}` split `{sft.split}`, template "
                     f"`{sft.template}`" + (f", first {sft.limit} rows" if sft.limit else ""))
    return lines


def _hardware_section(run: RunData) -> list[str]:
    env = run.environment
    device = env.get("device") or {}
    packages = env.get("packages") or {}
    if device.get("cuda"):
        where = (f"{device.get('count', 1)} x {device.get('name')} "
                 f"({device.get('memory_gb')} GB), CUDA {device.get('cuda_version')}")
    else:
        where = (f"CPU ({device.get('name')}), {device.get('cores')} cores, "
                 f"{device.get('torch_threads')} torch threads")
    lines = [f"- Hardware: {where}; world size {env.get('world_size', 1)}",
             "- Software: " + ", ".join(f"{k} {v}" for k, v in packages.items() if v)]
    for row in run.metrics:
        if row.get("event") == "stage_end" and row.get("train_runtime") is not None:
            lines.append(f"- {str(row.get('stage')).upper()} stage: "
                         f"{float(row['train_runtime']):.1f} s of training "
                         f"(TRL train_runtime), {row.get('step')} steps")
    return lines


def _not_measured(run: RunData, evals: Sequence[EvalDir]) -> list[str]:
    out = ["- Variance across seeds: this card reports one run (one seed).",
           "- Safety, toxicity, bias and out-of-domain behaviour: not evaluated.",
           "- Robustness to prompt wording: each score holds for the protocol named beside it."]
    limited = [f"{task} ({info.get('n')} of {info.get('n_total')})"
               for ev in evals for task, info in ev.results["tasks"].items()
               if info.get("n_total") and info.get("n") != info.get("n_total")]
    if not any((ev.results.get("settings") or {}).get("samples") for ev in evals):
        out.append("- Sampled decoding (maj@k, pass@k): every score above is greedy.")
    if limited:
        out.insert(0, "- The whole test set: scored on part of it only: " + ", ".join(limited)
                   + ".")
    if not evals:
        out.insert(0, "- Any benchmark score (no `gmr eval` output was given).")
    if not (run.path / CONTAMINATION_FILE).is_file() and not any(e.contamination
                                                                 for e in evals):
        out.append("- Train/test overlap (no contamination check was recorded).")
    return out


def _base_model_note(base: str) -> list[str]:
    """A warning when ``base_model`` is not a Hub repository id (a folder, ``pkg:``, .gguf)."""
    if re.fullmatch(r"[\w.-]+/[\w.-]+", base) and not Path(base).exists():
        return []
    return [f"Note: the base model was given as `{base}`, not a Hugging Face Hub repository "
            "id; set `base_model` to the id of those weights before publishing.", ""]


def render_card(run_dir: str | Path, eval_dirs: Sequence[str | Path] = ()) -> str:
    """The model card (``README.md`` text) of a run and its ``gmr eval`` folders.

    Without ``eval_dirs``, ``RUN_DIR/eval`` is used when it holds a ``results.json``.
    """
    import yaml

    run = load_run(run_dir)
    if run.recipe is None and not run.metrics:
        raise GmrError(f"{run_dir}: not a gmr run directory (no recipe.toml or metrics.jsonl)")
    folders = list(eval_dirs) or ([run.path / "eval"] if (run.path / "eval" / "results.json")
                                  .is_file() else [])
    evals = [load_eval_dir(p) for p in folders]
    meta = front_matter(run, evals)
    kind = "LoRA adapter" if _is_adapter(run) else "model"
    stages = "SFT warm-up then GRPO" if run.recipe is not None and run.recipe.sft_enabled \
        else "GRPO"
    parts = [
        "---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
        f"# {run.name}", "",
        f"A {kind} for `{meta['base_model']}`, trained with gamermath ({stages}, TRL). "
        "Every number below comes from the run directory or its `gmr eval` output; each "
        "score names its protocol, its number of questions and its 95% interval.", "",
        *_base_model_note(str(meta["base_model"])),
        "## Evaluation", "", *_eval_section(evals), "",
        "## Held-out accuracy: bare -> SFT -> GRPO", "", *_heldout_section(run), "",
        "## Contamination check", "", *_contamination_section(run, evals), "",
        "## Training recipe", "", *_recipe_section(run), "",
        "## Hardware and time", "", *_hardware_section(run), "",
        "## What was not measured", "", *_not_measured(run, evals), "",
    ]
    return "\n".join(parts)


def push_card(folder: Path, repo: str, token: str | None = None) -> str:
    """Upload ``folder`` (card and adapter) to the Hub repository ``repo``; returns its URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo, exist_ok=True)
    api.upload_folder(repo_id=repo, folder_path=str(folder),
                      commit_message="gmr card: model card and weights")
    return f"https://huggingface.co/{repo}"
