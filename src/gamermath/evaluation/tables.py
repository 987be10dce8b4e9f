"""Results as files and Markdown: ``results.json``, ``results.md``, ``samples_<task>.jsonl``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gamermath.evaluation import baselines
from gamermath.evaluation.harness import HarnessRun


def percent(value: float | None) -> str:
    """``0.1234`` -> ``12.34``; missing -> ``-``."""
    return "-" if value is None else f"{100 * value:.2f}"


def interval(ci: list[float] | None) -> str:
    """``[0.1, 0.3]`` -> ``[10.0, 30.0]``; missing -> ``-``."""
    return "-" if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def results_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per (task, metric, filter): task, n, shots, metric, filter, score %, its 95%
    interval, stderr %."""
    rows = []
    for task, entry in results["tasks"].items():
        for key, metric in entry["metrics"].items():
            name, _, filt = key.partition(",")
            rows.append(
                (
                    task,
                    str(entry["n"]),
                    str(entry["num_fewshot"]),
                    name,
                    filt,
                    percent(metric["value"]),
                    interval(metric.get("ci")),
                    percent(metric["stderr"]),
                )
            )
    return rows


RESULT_HEADER = ("task", "n", "shots", "metric", "filter", "score %", "95% CI", "stderr %")


def tsv_lines(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """The header and one line per row, cells separated by tabs (for pipes and grep)."""

    def line(cells) -> str:
        return "\t".join(" ".join(str(c).split()) for c in cells)

    return "\n".join([line(header), *map(line, rows)])


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A GitHub-flavoured Markdown table (``|`` in cells escaped)."""

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line("---" for _ in header), *map(line, rows)])


def results_markdown(results: dict[str, Any]) -> str:
    """The ``results.md`` document: what was evaluated, the score table, each protocol."""
    adapter = f" + adapter `{results['adapter']}`" if results.get("adapter") else ""
    settings = results["settings"]
    sampled = (f", {settings['samples']} samples per question (temperature "
               f"{settings.get('temperature')}, top-p {settings.get('top_p')})"
               if settings.get("samples") else "")
    parts = [
        f"# Evaluation of `{results['model']}`{adapter}",
        "",
        f"lm-eval {results['lm_eval_version']}, {results['created']}, backend "
        f"{settings.get('backend', 'hf')}, limit {settings.get('limit')}{sampled}",
        "",
        markdown_table(RESULT_HEADER, results_rows(results)),
        "",
        "Protocols (with the generation cap and decoding this run used):",
        "",
    ]
    parts += [f"- `{task}`: {entry['protocol'] or 'lm-eval built-in'} "
              f"(cap {entry.get('max_gen_toks')}, {entry.get('decoding')})"
              for task, entry in results["tasks"].items()]
    return "\n".join(parts) + "\n"


@dataclass
class CompareSection:
    """What ``gmr eval --compare`` says about one results document: warning and note lines
    (limited runs, tasks without baselines) and the rows of its baselines table."""

    notes: list[str]
    rows: list[tuple[str, ...]]

    def markdown(self) -> str:
        """The ``## Published baselines`` section of ``results.md``."""
        parts = ["", "## Published baselines", ""]
        parts += [f"- {note}" for note in self.notes]
        if self.rows:
            parts += ["", markdown_table(baselines.COMPARE_HEADER, self.rows)]
        return "\n".join(parts) + "\n"


def compare_section(results: dict[str, Any], path: Path | None = None) -> CompareSection:
    """Every task of ``results`` beside the published baselines of ``path`` (default
    evals/baselines.toml), ranked only like with like; shared by ``gmr eval --compare``
    and ``gmr report``."""
    found = baselines.compare(results, path)
    notes = baselines.limited_warnings(found) + baselines.unmatched_notes(results, found, path)
    return CompareSection(notes, baselines.comparison_rows(found))


def write_outputs(run: HarnessRun, output: Path, extra_markdown: str = "") -> list[Path]:
    """Write ``results.json``, ``results.md`` and ``samples_<task>.jsonl`` into ``output``."""
    from lm_eval.utils import handle_non_serializable

    output.mkdir(parents=True, exist_ok=True)
    written = [output / "results.json", output / "results.md"]
    written[0].write_text(json.dumps(run.results, indent=2) + "\n", encoding="utf-8")
    written[1].write_text(results_markdown(run.results) + extra_markdown, encoding="utf-8")
    for task, samples in run.samples.items():
        path = output / f"samples_{task}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for sample in samples:
                handle.write(json.dumps(sample, default=handle_non_serializable) + "\n")
        written.append(path)
    return written
