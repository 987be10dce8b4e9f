"""The report's gain attribution: per run and stage, format repair vs correctness, and controls.

Each run's held-out points give a bare -> SFT -> GRPO path; each stage's accuracy change is
split by ``gamermath.engine.attribution.attribute``. A run trained with ``[run] control =
"random-reward"`` is a control; a real run is paired with a control whose recipe is the
same but for the control, the run name and the run directory, and its GRPO gain is shown
beside the control's: the difference is what the reward signal bought.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from gamermath.engine.attribution import Attribution, stage_attributions, stage_points
from gamermath.report.rundata import RunData

#: recipe keys that may differ between a run and its control
CONTROL_IGNORED = ("run.control", "run.name", "run.output_dir")


def is_control(run: RunData) -> bool:
    return run.recipe is not None and run.recipe.run.control != "none"


def control_of(run: RunData, runs: Sequence[RunData]) -> RunData | None:
    """The control run among ``runs`` with the same recipe as ``run``, if any."""
    if run.recipe is None or is_control(run):
        return None
    for other in runs:
        if other is run or not is_control(other):
            continue
        if not run.recipe.differences(other.recipe, ignore=CONTROL_IGNORED):
            return other
    return None


def grpo_gain(run: RunData) -> Attribution | None:
    parts = [a for a in stage_attributions(run.metrics) if a.name == "GRPO"]
    return parts[0] if parts else None


def attribution_rows(runs: Sequence[RunData]) -> list[dict[str, Any]]:
    """One row per run and stage: accuracies, the gain and its parts (percentage points)."""
    rows = []
    for run in runs:
        control = control_of(run, runs)
        control_gain = grpo_gain(control) if control is not None else None
        for part in stage_attributions(run.metrics):
            row = {
                "run": run.name,
                "control_run": is_control(run),
                "stage": part.name,
                "n": part.end.n,
                "from": 100 * part.start.accuracy,
                "to": 100 * part.end.accuracy,
                "gain": 100 * part.gain,
                "format": 100 * part.format,
                "correctness": 100 * part.correctness,
                "unformatted": 100 * part.unformatted,
                "over_control": None,
                "control": "",
            }
            if part.name == "GRPO" and control_gain is not None and control is not None:
                row["over_control"] = 100 * (part.gain - control_gain.gain)
                row["control"] = control.name
            rows.append(row)
    return rows


def _pts(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}"


def attribution_table(runs: Sequence[RunData], rows: Sequence[dict[str, Any]]) -> str:
    """The HTML table (and its explanation) of ``attribution_rows``."""
    if not rows:
        return ('<p class="muted">No held-out points before and after a stage in these runs '
                "(<code>[eval] heldout = 0</code>, or the run stopped early).</p>")
    head = ("<tr><th>run</th><th>stage</th><th>n</th><th>accuracy</th><th>gain</th>"
            "<th>format repair</th><th>correctness</th><th>unformatted answers</th>"
            "<th>gain over the random-reward control</th></tr>")
    body = []
    for r in rows:
        tag = " (control: random rewards)" if r["control_run"] else ""
        over = (f"{_pts(r['over_control'])} (control {escape(r['control'])})"
                if r["over_control"] is not None else "")
        body.append(
            f"<tr><td>{escape(r['run'])}{tag}</td><td>{escape(r['stage'])}</td>"
            f"<td class=num>{r['n']}</td>"
            f"<td class=num>{r['from']:.1f}% &rarr; {r['to']:.1f}%</td>"
            f"<td class=num><b>{_pts(r['gain'])}</b></td>"
            f"<td class=num>{_pts(r['format'])}</td>"
            f"<td class=num>{_pts(r['correctness'])}</td>"
            f"<td class=num>{_pts(r['unformatted'])}</td><td>{over}</td></tr>"
        )
    points = []
    for run in runs:
        named = stage_points(run.metrics)
        if named:
            points.append(escape(run.name) + ": " + " &rarr; ".join(
                f"{name} {p.accuracy:.1%} (format {p.format_rate:.1%})" for name, p in named))
    note = (
        '<p class="muted">Percentage points of held-out accuracy. Accuracy = format rate '
        "&times; accuracy among formatted answers + the share of right answers without the "
        "answer line. <i>format repair</i> is the format rate's change at the stage's mean "
        "accuracy among formatted answers, <i>correctness</i> the change of that accuracy at "
        "the stage's mean format rate (the two-factor Shapley split, exact); the parts sum "
        "to the gain. From a point with no formatted answers the whole gain counts as format "
        "repair.</p>"
    )
    listing = "".join(f"<li>{p}</li>" for p in points)
    return f"<table>{head}{''.join(body)}</table>{note}<ul>{listing}</ul>"


def plot_attribution(rows: Sequence[dict[str, Any]], out: Path) -> Path | None:
    """Bars per run and stage: the gain and its format / correctness / unformatted parts."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [("gain", "#333333"), ("format", "#ff7f0e"), ("correctness", "#1f77b4"),
             ("unformatted", "#9467bd")]
    labels = [f"{r['run']} {r['stage']}" + (" (control)" if r["control_run"] else "")
              for r in rows]
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.7 * len(rows)), dpi=100)
    height = 0.8 / len(parts)
    for j, (key, colour) in enumerate(parts):
        ys = [i + (j - 1.5) * height for i in range(len(rows))]
        ax.barh(ys, [r[key] for r in rows], height=height, color=colour,
                label={"gain": "accuracy gain", "format": "format repair",
                       "correctness": "correctness", "unformatted": "unformatted answers"}[key])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("held-out accuracy change (percentage points)")
    ax.set_title("Where each stage's held-out gain comes from")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    path = out / "attribution.png"
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
