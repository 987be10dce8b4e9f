"""``gmr reward ...`` (alias ``gmr rewards``): list, score and check reward plugins."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress

from gamermath import plugins as registry
from gamermath.cli.output import print_table, stderr
from gamermath.errors import GmrError

#: Rows scored per runner call (progress updates between calls).
BATCH = 512


@click.group()
def reward() -> None:
    """Reward plugins: list them, score completions, check a reward's contract."""


@reward.command("list")
def list_rewards() -> None:
    """List installed rewards with their package, columns and output range."""
    rows = [
        (
            r.name,
            f"{r.plugin} {r.plugin_version}",
            ", ".join(r.columns) or "-",
            f"[{r.output_range[0]:g}, {r.output_range[1]:g}]",
            r.description,
        )
        for r in sorted(registry.registry("reward").values(), key=lambda r: r.name)
    ]
    print_table("rewards", ("name", "package", "columns", "range", "description"), rows)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise GmrError(f"input file {path} does not exist")
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", errors="surrogateescape") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GmrError(f"{path} line {number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "completion" not in row:
                raise GmrError(f"{path} line {number}: a row needs a 'completion' field")
            rows.append(row)
    return rows


@reward.command("score")
@click.option("--reward", "name", required=True, help="Installed reward name.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Reward option.")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path),
    help="JSONL rows with 'completion', 'answer' and the reward's other columns.",
)
@click.option("--output", "output_path", type=click.Path(path_type=Path), help="JSONL out.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: cores).")
@click.option("--timeout", type=float, default=None, help="Per-sample seconds (default: reward's).")
def score_rewards(
    name: str,
    options: tuple[str, ...],
    input_path: Path,
    output_path: Path | None,
    workers: int | None,
    timeout: float | None,
) -> None:
    """Score completions: one output row per input row, in order, with reward/status/seconds."""
    from gamermath.rewards.completions import completion_text
    from gamermath.rewards.options import parse_option
    from gamermath.rewards.runner import RewardRunner

    spec = registry.get("reward", name)
    parsed = dict(parse_option(spec, item) for item in options)
    rows = _read_rows(input_path)
    for number, row in enumerate(rows, start=1):
        for column in spec.columns:
            if column not in row:
                raise GmrError(
                    f"{input_path} row {number} lacks column '{column}', which reward "
                    f"'{name}' needs"
                )
    texts = [completion_text(row["completion"]) for row in rows]
    columns = [{c: row[c] for c in spec.columns} for row in rows]
    results = []
    started = time.perf_counter()
    with RewardRunner(workers=workers) as runner, Progress(console=stderr, transient=True) as bar:
        task = bar.add_task(f"scoring with {name}", total=len(rows))
        for begin in range(0, len(rows), BATCH):
            chunk = slice(begin, begin + BATCH)
            results.extend(runner.results(spec, texts[chunk], columns[chunk], parsed, timeout))
            bar.update(task, advance=len(texts[chunk]))
        counts = runner.counters.get(name, {})
    elapsed = time.perf_counter() - started
    lines = []
    for result in results:
        out = {
            "reward": result.reward,
            "status": result.status,
            "seconds": round(result.seconds, 6),
        }
        out["cached"] = result.cached
        if result.detail:
            out["detail"] = result.detail
        lines.append(json.dumps(out, ensure_ascii=True))
    if output_path is not None:
        output_path.parent.mkdir(parents=True, exist_ok=True)
        output_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    else:
        for line in lines:
            click.echo(line)
    statuses = [r.status for r in results]
    mean = sum(r.reward for r in results) / len(results) if results else 0.0
    click.echo(
        f"{name}: {len(results)} rows, mean reward {mean:.4f}, ok {statuses.count('ok')}, "
        f"timeout {statuses.count('timeout')}, error {statuses.count('error')}, "
        f"cache hits {counts.get('cache_hits', 0)}, {elapsed:.2f} s"
        + (f" -> {output_path}" if output_path else ""),
        err=True,
    )


@reward.command("check")
@click.argument("name")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Reward option.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: cores).")
def check_reward(name: str, options: tuple[str, ...], workers: int | None) -> None:
    """Run a reward through the conformance battery; exit 1 if it violates the contract."""
    from gamermath.rewards.check import run_check
    from gamermath.rewards.options import parse_option
    from gamermath.rewards.runner import RewardRunner

    spec = registry.get("reward", name)
    parsed = dict(parse_option(spec, item) for item in options)
    with RewardRunner(workers=workers) as runner, stderr.status(f"checking {name}") as status:
        reports = run_check(
            spec, runner, parsed, progress=lambda case: status.update(f"checking {name}: {case}")
        )
    rows = [
        (
            r.name,
            r.samples or "-",
            f"{r.seconds:.2f}" if r.samples else "-",
            "ok" if not r.violations else "\n".join(r.violations),
        )
        for r in reports
    ]
    print_table(
        f"gmr reward check {name} ({spec.plugin} {spec.plugin_version})",
        ("case", "samples", "seconds", "result"),
        rows,
    )
    total = sum(len(r.violations) for r in reports)
    if total:
        click.echo(f"{name}: {total} contract violation(s)", err=True)
        raise SystemExit(1)
    click.echo(f"{name}: no contract violations", err=True)
