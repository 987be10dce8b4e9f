"""The report's PNG plots (matplotlib, Agg backend); several runs overlay on one figure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gamermath.report.rundata import RunData

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
STYLES = ["-", "--", ":", "-."]


def _figure(title: str, ylabel: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _label(runs: Sequence[RunData], run: RunData, what: str) -> str:
    return f"{run.name}: {what}" if len(runs) > 1 else what


def _line_plot(
    runs: Sequence[RunData],
    path: Path,
    title: str,
    ylabel: str,
    keys_of: Callable[[RunData], list[str]],
    name_of: Callable[[str], str] = lambda key: key,
) -> Path | None:
    fig, ax = _figure(title, ylabel)
    drawn = 0
    for i, run in enumerate(runs):
        for j, key in enumerate(keys_of(run)):
            for stage in run.stages() or [None]:
                steps, values = run.series(key, stage)
                if not steps:
                    continue
                what = name_of(key) + (f" ({stage})" if stage and len(run.stages()) > 1 else "")
                # one run: a colour per curve; several: a colour per run, a style per curve
                colour = COLOURS[(j if len(runs) == 1 else i) % len(COLOURS)]
                style = "-" if len(runs) == 1 else STYLES[j % len(STYLES)]
                ax.plot(steps, values, style, color=colour,
                        marker="o" if len(steps) < 30 else None, markersize=3,
                        label=_label(runs, run, what))
                drawn += 1
    if not drawn:
        import matplotlib.pyplot as plt

        plt.close(fig)
        return None
    ax.legend(fontsize=8, loc="best")
    return _save(fig, path)


def _reward_keys(run: RunData) -> list[str]:
    parts = sorted(k for k in run.keys() if k.startswith("rewards/") and k.endswith("/mean"))
    return (["reward"] if "reward" in run.keys() else []) + parts


def _reward_name(key: str) -> str:
    if key == "reward":
        return "total (weighted)"
    return key.removeprefix("rewards/").removesuffix("/mean")


def plot_rewards(runs: Sequence[RunData], out: Path) -> Path | None:
    return _line_plot(runs, out / "rewards.png", "Reward components and weighted total",
                      "mean reward", _reward_keys, _reward_name)


def plot_heldout(runs: Sequence[RunData], out: Path) -> Path | None:
    """Held-out accuracy beside the training reward: the reward-hacking view."""
    fig, ax = _figure("Held-out accuracy vs training reward", "held-out accuracy")
    ax2 = ax.twinx()
    ax2.set_ylabel("training reward (weighted total)")
    drawn = 0
    for i, run in enumerate(runs):
        stages = run.stages() or [None]
        for j, stage in enumerate(stages):
            colour = COLOURS[(i * len(stages) + j) % len(COLOURS)]
            tag = f" ({stage})" if stage and len(stages) > 1 else ""
            steps, acc = run.series("heldout/accuracy", stage)
            if steps:
                ax.plot(steps, acc, "-o", color=colour, markersize=4,
                        label=_label(runs, run, "held-out accuracy" + tag))
                drawn += 1
            fsteps, fmt = run.series("heldout/format_rate", stage)
            if fsteps:
                ax.plot(fsteps, fmt, ":", color=colour,
                        label=_label(runs, run, "held-out format rate" + tag))
            csteps, among = run.series("heldout/accuracy_formatted", stage)
            if csteps:
                ax.plot(csteps, among, "-.", color=colour, alpha=0.7,
                        label=_label(runs, run, "accuracy among formatted" + tag))
            rsteps, reward = run.series("reward", stage)
            if rsteps and steps:
                ax2.plot(rsteps, reward, "--", color=colour, alpha=0.6,
                         label=_label(runs, run, "training reward" + tag))
        for row in run.alarms():
            ax.axvline(float(row.get("step", 0)), color="red", alpha=0.5, linewidth=2,
                       label=_label(runs, run, "reward-hacking alarm"))
    if not drawn:
        import matplotlib.pyplot as plt

        plt.close(fig)
        return None
    ax.set_ylim(-0.02, 1.02)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="best")
    return _save(fig, out / "heldout.png")


def plot_completion_length(runs: Sequence[RunData], out: Path) -> Path | None:
    return _line_plot(runs, out / "completion_length.png", "Completion length", "tokens",
                      lambda r: ["completion_length"], lambda k: "mean completion length")


def plot_kl(runs: Sequence[RunData], out: Path) -> Path | None:
    return _line_plot(runs, out / "kl.png", "KL to the reference model", "KL",
                      lambda r: ["kl"], lambda k: "KL")


def plot_loss(runs: Sequence[RunData], out: Path) -> Path | None:
    return _line_plot(runs, out / "loss.png", "Training loss", "loss",
                      lambda r: ["loss"], lambda k: "loss")


def plot_step_time(runs: Sequence[RunData], out: Path) -> Path | None:
    return _line_plot(runs, out / "step_time.png", "Step time", "seconds per step",
                      lambda r: ["step_time"], lambda k: "step time")


def planned_peak_mb(run: RunData) -> float | None:
    """``gmr plan``'s tensor peak for a run's GRPO stage, when it ran on CUDA and can be planned."""
    device = run.environment.get("device")
    if not (isinstance(device, dict) and device.get("cuda")) or run.recipe is None:
        return None
    from gamermath.errors import GmrError
    from gamermath.planner import plan

    try:
        est = plan(run.recipe)
    except GmrError:
        return None
    return est.peak_tensors / 2**20


def plot_memory(runs: Sequence[RunData], out: Path) -> Path | None:
    path = _line_plot(runs, out / "memory.png",
                      "Peak memory (CUDA allocated; process RSS on CPU)", "MiB",
                      lambda r: ["peak_memory_mb"], lambda k: "peak memory")
    planned = [(i, planned_peak_mb(run)) for i, run in enumerate(runs)]
    planned = [(i, mb) for i, mb in planned if mb is not None]
    if path is None or not planned:
        return path

    fig, ax = _figure("Peak memory (CUDA allocated) and the gmr plan estimate", "MiB")
    for i, run in enumerate(runs):
        steps, values = run.series("peak_memory_mb")
        colour = COLOURS[i % len(COLOURS)]
        if steps:
            ax.plot(steps, values, "-", color=colour, label=_label(runs, run, "peak memory"))
    for i, mb in planned:
        ax.axhline(mb, color=COLOURS[i % len(COLOURS)], linestyle="--",
                   label=_label(runs, runs[i], "gmr plan estimate (GRPO)"))
    ax.legend(fontsize=8, loc="best")
    return _save(fig, path)


def _failure_keys(run: RunData) -> list[str]:
    return sorted(k for k in run.keys() if k.startswith(("reward_timeouts/", "reward_errors/")))


def plot_reward_failures(runs: Sequence[RunData], out: Path) -> Path | None:
    return _line_plot(runs, out / "reward_failures.png", "Reward timeouts and errors",
                      "count per step", _failure_keys,
                      lambda k: k.replace("reward_timeouts/", "timeouts: ").replace(
                          "reward_errors/", "errors: "))


def plot_eval(rows: Sequence[dict[str, Any]], out: Path) -> Path | None:
    """Bars of eval scores beside published baselines; labels carry the protocol."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def short(text: str, n: int = 60) -> str:
        return text if len(text) <= n else text[: n - 1] + "…"

    labels = [
        (f"{short(r['who'], 40)} [{r['task']}]" if r["kind"] == "run" else short(r["who"], 50))
        + f"\n{short(r['protocol'])}"
        for r in rows
    ]
    values = [float(r["percent"]) for r in rows]
    colours = ["#1f77b4" if r["kind"] == "run" else
               "#7f7f7f" if r["comparison"] == "same protocol" else "#d0d0d0" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 1.0 + 0.55 * len(rows)), dpi=100)
    y = list(range(len(rows)))
    ax.barh(y, values, color=colours)
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("score (%)")
    ax.set_title("Runs (blue) beside published baselines of the same benchmark:\n"
                 "same protocol (dark grey), different protocol (light grey, not comparable)",
                 fontsize=9)
    for yi, value in zip(y, values, strict=True):
        ax.text(value, yi, f" {value:.1f}", va="center", fontsize=7)
    ax.set_xlim(0, max(100.0, max(values) * 1.1))
    return _save(fig, out / "eval.png")


#: every run-metric plot, in report order
RUN_PLOTS = [
    plot_rewards,
    plot_heldout,
    plot_completion_length,
    plot_kl,
    plot_loss,
    plot_step_time,
    plot_memory,
    plot_reward_failures,
]
