"""The self-contained ``report.html``: inline CSS, PNGs as data URIs, all text escaped."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from gamermath.report.rundata import RunData

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f4f4f4}.num{text-align:right}.warn{color:#b00;font-weight:bold}
pre{white-space:pre-wrap;max-height:16em;overflow:auto;margin:0;font-size:.9em}
img{max-width:100%;border:1px solid #eee}.muted{color:#777}
"""

PLOT_TITLES = {
    "rewards.png": "Rewards",
    "heldout.png": "Held-out accuracy vs training reward (reward hacking)",
    "completion_length.png": "Completion length",
    "kl.png": "KL",
    "loss.png": "Loss",
    "step_time.png": "Step time",
    "memory.png": "Peak GPU memory",
    "reward_failures.png": "Reward timeouts and errors",
    "eval.png": "Evaluation beside published baselines",
    "attribution.png": "Gain attribution",
}

#: plots shown in their own sections, not among the training curves
SECTION_PLOTS = ("eval.png", "attribution.png")


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _run_summary(run: RunData) -> str:
    recipe = run.recipe
    steps = [row.get("step") for row in run.metrics if isinstance(row.get("step"), (int, float))]
    status = "finished (adapter saved)" if run.finished else (
        '<span class="warn">incomplete: still running or interrupted; showing what it has</span>')
    rewards = ", ".join(
        f"{escape(r.label)} x{r.weight:g}" for r in (recipe.rewards if recipe else ())
    ) or escape(run.recipe_problem)
    env = run.environment
    device = env.get("device") or env.get("gpu") or ""
    if isinstance(device, dict):
        device = ", ".join(f"{k} {v}" for k, v in device.items())
    cells = [
        ("run", escape(str(run.path))),
        ("status", status),
        ("model", escape(recipe.model.source if recipe else "")),
        ("rewards", rewards),
        ("stages", escape(", ".join(run.stages()))),
        ("last step", escape(str(max(steps) if steps else "none"))),
        ("metric rows", str(len(run.metrics))),
        ("device", escape(str(device))),
    ]
    if recipe and recipe.run.control != "none":
        cells.append(("control", f"{escape(recipe.run.control)}: GRPO was paid random rewards"))
    if run.skipped_lines:
        cells.append(("skipped lines", f'<span class="warn">{run.skipped_lines} unreadable '
                                       "JSON lines (a truncated write) were skipped</span>"))
    alarms = run.alarms()
    if alarms:
        at = ", ".join(escape(str(a.get("step"))) for a in alarms)
        cells.append(("reward-hacking alarm", f'<span class="warn">raised at step {at}</span>'))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in cells)
    return f"<h3>{escape(run.name)}</h3><table>{body}</table>"


def _comparison(row: dict[str, Any]) -> str:
    """``same protocol: within ...`` / ``different protocol: not ranked: ...``."""
    parts = [row.get("comparison", ""), row.get("verdict", "")]
    return ": ".join(p for p in parts if p)


def _n(row: dict[str, Any]) -> str:
    n, total = row.get("n"), row.get("n_total")
    return f"{_fmt(n)} of {total}" if total and n != total else _fmt(n)


def _eval_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ('<p class="muted">No eval/results.json in these runs '
                "(run <code>gmr eval</code>).</p>")
    head = ("<tr><th>who</th><th>task</th><th>protocol</th><th>shots</th><th>n</th>"
            "<th>metric</th><th>score [95% CI]</th><th>comparable?</th><th>source</th></tr>")
    body = []
    for r in rows:
        score = f"{r['percent']:.2f}%"
        if r.get("ci"):
            score += f" [{r['ci'][0]:.1f}, {r['ci'][1]:.1f}]"
        elif r.get("stderr"):
            score += f" &plusmn; {r['stderr']:.2f}"
        body.append(
            f"<tr><td>{escape(r['who'])}{' (published)' if r['kind'] == 'baseline' else ''}</td>"
            f"<td>{escape(r['task'])}</td><td>{escape(r['protocol'])}</td>"
            f"<td>{escape(_fmt(r.get('shots')))}</td><td>{escape(_n(r))}</td>"
            f"<td>{escape(r['metric'])}</td><td class=num>{score}</td>"
            f"<td>{escape(_comparison(r))}</td>"
            f"<td>{escape(str(r.get('source', '')))}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _compare_sections(runs: Sequence[RunData]) -> str:
    """Per run with eval results, what ``gmr eval --compare`` prints: its warnings and notes
    and its table of baselines, ranked only like with like."""
    from gamermath.evaluation.baselines import COMPARE_HEADER
    from gamermath.evaluation.tables import compare_section

    parts = []
    for run in runs:
        tasks = run.eval_results.get("tasks")
        if not isinstance(tasks, dict) or not tasks:
            continue
        try:
            section = compare_section({"tasks": {
                t: i for t, i in tasks.items() if isinstance(i, dict) and "metrics" in i}})
        except Exception as exc:  # an unreadable baselines file: say so, keep the report
            parts.append(f'<p class="warn">{escape(run.name)}: no comparison: '
                         f"{escape(str(exc))}</p>")
            continue
        parts.append(f"<h3>{escape(run.name)}: what <code>gmr eval --compare</code> says</h3>")
        parts += [f'<p class="warn">{escape(note)}</p>' for note in section.notes]
        if section.rows:
            head = "".join(f"<th>{escape(h)}</th>" for h in COMPARE_HEADER)
            body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row)
                           + "</tr>" for row in section.rows)
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
    return "\n".join(parts)


def sample_steps(run: RunData, count: int = 3) -> list[tuple[str, Any]]:
    """A few ``(stage, step)`` pairs spread over the run (first, middle, last)."""
    pairs: list[tuple[str, Any]] = []
    for row in run.completions:
        pair = (str(row.get("stage", "")), row.get("step"))
        if pair not in pairs:
            pairs.append(pair)
    if len(pairs) <= count:
        return pairs
    picks = sorted({round(i * (len(pairs) - 1) / (count - 1)) for i in range(count)})
    return [pairs[i] for i in picks]


def _completions_table(run: RunData, per_step: int = 3) -> str:
    steps = sample_steps(run)
    if not steps:
        return f'<p class="muted">{escape(run.name)}: no completions.jsonl rows.</p>'
    labels: list[str] = []
    for row in run.completions:
        for label in (row.get("rewards") or {}):
            if label not in labels:
                labels.append(label)
    head = "<tr><th>stage</th><th>step</th><th>prompt</th><th>completion</th><th>answer</th>"
    head += "".join(f"<th>{escape(str(label))}</th>" for label in labels) + "<th>total</th></tr>"
    body = []
    for stage, step in steps:
        rows = [r for r in run.completions
                if str(r.get("stage", "")) == stage and r.get("step") == step][:per_step]
        for r in rows:
            scores = r.get("rewards") or {}
            body.append(
                f"<tr><td>{escape(stage)}</td><td>{escape(str(step))}</td>"
                f"<td><pre>{escape(str(r.get('prompt', '')))}</pre></td>"
                f"<td><pre>{escape(str(r.get('completion', '')))}</pre></td>"
                f"<td>{escape(str(r.get('answer', '')))}</td>"
                + "".join(f"<td class=num>{escape(_fmt(scores.get(lab)))}</td>" for lab in labels)
                + f"<td class=num>{escape(_fmt(r.get('reward')))}</td></tr>"
            )
    return f"<h3>{escape(run.name)}</h3><table>{head}{''.join(body)}</table>"


def render_html(
    runs: Sequence[RunData],
    pngs: Sequence[Path],
    eval_rows: Sequence[dict[str, Any]],
    missing: Sequence[str],
    gains: Sequence[dict[str, Any]] = (),
) -> str:
    """The whole report as one HTML string with no external references."""
    from gamermath.report.attribution import attribution_table

    title = "gmr report: " + ", ".join(run.name for run in runs)
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}</p>',
        "<h2>Runs</h2>",
        *(_run_summary(run) for run in runs),
        "<h2>Training curves</h2>",
    ]
    for png in pngs:
        if png.name in SECTION_PLOTS:
            continue
        caption = escape(PLOT_TITLES.get(png.name, png.stem))
        parts.append(f"<h3>{caption}</h3><img alt=\"{caption}\" src=\"{data_uri(png)}\">")
    if missing:
        parts.append('<p class="muted">Not recorded in these runs: '
                     + escape(", ".join(missing)) + ".</p>")
    parts.append("<h2>Gain attribution: format repair or correctness</h2>")
    parts += [f"<img alt=\"gain attribution\" src=\"{data_uri(png)}\">"
              for png in pngs if png.name == "attribution.png"]
    parts.append(attribution_table(runs, gains))
    parts.append("<h2>Evaluation</h2>")
    for png in pngs:
        if png.name == "eval.png":
            parts.append(f"<img alt=\"evaluation\" src=\"{data_uri(png)}\">")
    parts.append(_eval_table(eval_rows))
    parts.append(_compare_sections(runs))
    parts.append("<h2>Sampled completions</h2>")
    parts += [_completions_table(run) for run in runs]
    parts.append("</body></html>")
    return "\n".join(parts)
