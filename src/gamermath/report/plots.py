"""The report's PNG plots (matplotlib, Agg backend); several runs overlay on one figure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gamermath.report.rundata import RunData

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
STYLES = ["-", "--", ":", "-."]


def _step_axis(ax) -> None:
    """Label ``ax``'s x axis "step" with whole-number ticks only."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def _figure(title: str, ylabel: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    _step_axis(ax)
    return fig, ax


def _legend_outside(ax, handles=None, labels=None) -> None:
    """The legend to the right of the plot area, where it covers no line."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0)


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    _close(fig)
    return path


def _saved(build: Callable[[Sequence[RunData]], Any], filename: str):
    """``plot(runs, out)``: the figure ``build(runs)`` draws, saved as ``out/filename``
    (None when there was nothing to draw)."""

    def plot(runs: Sequence[RunData], out: Path) -> Path | None:
        fig = build(runs)
        return None if fig is None else _save(fig, out / filename)

    plot.__name__ = "plot_" + filename.removesuffix(".png")
    plot.__doc__ = build.__doc__
    return plot


def _label(runs: Sequence[RunData], run: RunData, what: str) -> str:
    return f"{run.name}: {what}" if len(runs) > 1 else what


def _line_figure(
    runs: Sequence[RunData],
    title: str,
    ylabel: str,
    keys_of: Callable[[RunData], list[str]],
    name_of: Callable[[str], str] = lambda key: key,
):
    """One line per run, metric and stage (SFT, GRPO), each in its own colour."""
    fig, ax = _figure(title, ylabel)
    drawn = 0
    for run in runs:
        stages = run.stages()
        for j, key in enumerate(keys_of(run)):
            for stage in stages or [None]:
                steps, values = run.series(key, stage)
                if not steps:
                    continue
                what = name_of(key) + (f" ({stage})" if stage and len(stages) > 1 else "")
                # a colour per line; with several runs a line style per metric as well
                style = "-" if len(runs) == 1 else STYLES[j % len(STYLES)]
                ax.plot(steps, values, style, color=COLOURS[drawn % len(COLOURS)],
                        marker="o" if len(steps) < 30 else None, markersize=3,
                        label=_label(runs, run, what))
                drawn += 1
    if not drawn:
        _close(fig)
        return None
    _legend_outside(ax)
    return fig


def _reward_keys(run: RunData) -> list[str]:
    parts = sorted(k for k in run.keys() if k.startswith("rewards/") and k.endswith("/mean"))
    return (["reward"] if "reward" in run.keys() else []) + parts


def _reward_name(key: str) -> str:
    if key == "reward":
        return "total (weighted)"
    return key.removeprefix("rewards/").removesuffix("/mean")


def rewards_figure(runs: Sequence[RunData]):
    """Each reward component's mean and the weighted total, per step."""
    return _line_figure(runs, "Reward components and weighted total",
                        "mean reward (each component's own scale)", _reward_keys, _reward_name)


def heldout_figure(runs: Sequence[RunData]):
    """Held-out accuracy (top) above the training reward (bottom): the reward-hacking view.

    Two panels, not two y axes on one: accuracy is a share of questions (0 to 1), the
    reward is in the recipe's own units, and lines on twin axes look comparable.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 6.4), dpi=100, sharex=True,
                                  gridspec_kw={"height_ratios": [3, 2]})
    ax.set_title("Held-out accuracy (top) and training reward (bottom)")
    ax.set_ylabel("held-out share right (0-1)")
    ax2.set_ylabel("training reward\n(weighted total, recipe units)")
    ax.grid(alpha=0.3)
    _step_axis(ax2)
    drawn = 0
    line = 0
    for run in runs:
        stages = run.stages() or [None]
        for stage in stages:
            colour = COLOURS[line % len(COLOURS)]
            line += 1
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
                ax2.plot(rsteps, reward, "-", color=colour, marker="o", markersize=3,
                         label=_label(runs, run, "training reward" + tag))
        for row in run.alarms():
            for axis in (ax, ax2):
                axis.axvline(float(row.get("step", 0)), color="red", alpha=0.5, linewidth=2,
                             label=_label(runs, run, "reward-hacking alarm")
                             if axis is ax else None)
    if not drawn:
        _close(fig)
        return None
    ax.set_ylim(-0.02, 1.02)
    _legend_outside(ax)
    if ax2.get_legend_handles_labels()[0]:
        _legend_outside(ax2)
    return fig


def completion_length_figure(runs: Sequence[RunData]):
    """Mean completion length per step."""
    return _line_figure(runs, "Completion length", "tokens",
                        lambda r: ["completion_length"], lambda k: "mean completion length")


def kl_figure(runs: Sequence[RunData]):
    """KL divergence to the reference model per step."""
    return _line_figure(runs, "KL to the reference model", "KL",
                        lambda r: ["kl"], lambda k: "KL")


def loss_figure(runs: Sequence[RunData]):
    """Training loss per step, SFT and GRPO apart."""
    return _line_figure(runs, "Training loss", "loss", lambda r: ["loss"], lambda k: "loss")


def step_time_figure(runs: Sequence[RunData]):
    """Seconds per optimizer step, SFT and GRPO apart."""
    return _line_figure(runs, "Step time", "seconds per step",
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


def _on_cuda(run: RunData) -> bool:
    device = run.environment.get("device")
    return isinstance(device, dict) and bool(device.get("cuda"))


def memory_title(runs: Sequence[RunData]) -> str:
    """What was measured: CUDA memory on GPU runs, the process's resident memory on CPU."""
    cuda = {_on_cuda(run) for run in runs}
    if cuda == {True}:
        return "Peak GPU memory (CUDA allocated)"
    if cuda == {False}:
        return "Peak process memory (RSS; CPU run, no GPU)"
    return "Peak memory (CUDA allocated on GPU runs; process RSS on CPU runs)"


def memory_figure(runs: Sequence[RunData]):
    """Peak memory per step, and ``gmr plan``'s estimate for GPU runs."""
    fig = _line_figure(runs, memory_title(runs), "MiB",
                       lambda r: ["peak_memory_mb"], lambda k: "peak memory")
    if fig is None:
        return None
    planned = [(i, planned_peak_mb(run)) for i, run in enumerate(runs)]
    planned = [(i, mb) for i, mb in planned if mb is not None]
    if planned:
        ax = fig.axes[0]
        ax.set_title(memory_title(runs) + " and the gmr plan estimate")
        for i, mb in planned:
            ax.axhline(mb, color="black", linestyle=STYLES[(i + 1) % len(STYLES)],
                       label=_label(runs, runs[i], "gmr plan estimate (GRPO)"))
        _legend_outside(ax)
    return fig


def _failure_keys(run: RunData) -> list[str]:
    return sorted(k for k in run.keys() if k.startswith(("reward_timeouts/", "reward_errors/")))


def reward_failures_figure(runs: Sequence[RunData]):
    """Reward timeouts and errors per step, per reward."""
    return _line_figure(runs, "Reward timeouts and errors", "count per step", _failure_keys,
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

    def size(r: dict[str, Any]) -> str:
        n, total = r.get("n"), r.get("n_total")
        if not n:
            return "n not stated"
        return f"n={n}" + (f" of {total}" if total and total != n else "")

    def verdict(r: dict[str, Any]) -> str:
        text = str(r.get("verdict") or "")
        if r["kind"] == "baseline" and text.startswith("not ranked"):
            text = ":".join(text.split(":")[:2])  # "not ranked: different protocol"
        return short(text, 90)

    labels = []
    for r in rows:
        who = (f"{short(r['who'], 40)} [{r['task']}]" if r["kind"] == "run"
               else short(r["who"], 50))
        lines = [f"{who}, {size(r)}", short(r["protocol"])]
        if verdict(r):
            lines.append(verdict(r))
        labels.append("\n".join(lines))
    values = [float(r["percent"]) for r in rows]
    colours = ["#1f77b4" if r["kind"] == "run" else
               "#7f7f7f" if r["comparison"] == "same protocol" else "#d0d0d0" for r in rows]
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.7 * len(rows)), dpi=100)
    y = list(range(len(rows)))
    ax.barh(y, values, color=colours)
    for yi, r in zip(y, rows, strict=True):
        if r.get("ci"):
            low, high = r["ci"]
            ax.errorbar([values[yi]], [yi], xerr=[[max(0.0, values[yi] - low)],
                                                  [max(0.0, high - values[yi])]],
                        fmt="none", ecolor="black", elinewidth=1, capsize=3)
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("score (%); error bars: 95% interval of our score")
    ax.set_title("Runs (blue, with n and 95% interval) beside published baselines:\n"
                 "same protocol (dark grey), different protocol (light grey, not comparable);\n"
                 "a run on fewer questions than the baselines is not ranked", fontsize=9)
    for yi, value in zip(y, values, strict=True):
        ax.text(value, yi, f" {value:.1f}", va="bottom", fontsize=7)
    ax.set_xlim(0, max(100.0, max(values) * 1.1))
    return _save(fig, out / "eval.png")


plot_rewards = _saved(rewards_figure, "rewards.png")
plot_heldout = _saved(heldout_figure, "heldout.png")
plot_completion_length = _saved(completion_length_figure, "completion_length.png")
plot_kl = _saved(kl_figure, "kl.png")
plot_loss = _saved(loss_figure, "loss.png")
plot_step_time = _saved(step_time_figure, "step_time.png")
plot_memory = _saved(memory_figure, "memory.png")
plot_reward_failures = _saved(reward_failures_figure, "reward_failures.png")

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
