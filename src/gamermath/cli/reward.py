"""``gmr reward ...`` (alias ``gmr rewards``): list, score, check and audit reward plugins."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress

from gamermath import plugins as registry
from gamermath.cli.output import print_table, stderr
from gamermath.errors import GmrError
from gamermath.recipe.schema import REWARD_MEMORY_MB

#: Rows scored per runner call (progress updates between calls).
BATCH = 512


@click.group()
def reward() -> None:
    """Reward plugins: list them, score completions, check a reward's contract, audit its
    accuracy."""


def _option_lines(options: dict[str, Any]) -> str:
    from gamermath.rewards.options import type_name

    lines = [f"{key}: {type_name(value)} = {json.dumps(value)}" for key, value in options.items()]
    return "\n".join(lines) or "-"


@reward.command("list")
def list_rewards() -> None:
    """List installed rewards: package, columns, output range, timeout, options (type =
    default)."""
    rows = [
        (
            r.name,
            f"{r.plugin} {r.plugin_version}",
            ", ".join(r.columns) or "-",
            f"[{r.output_range[0]:g}, {r.output_range[1]:g}]",
            f"{r.timeout:g} s",
            _option_lines(dict(r.options)),
            r.description,
        )
        for r in sorted(registry.registry("reward").values(), key=lambda r: r.name)
    ]
    print_table(
        "rewards",
        ("name", "package", "columns", "range", "timeout", "options (type = default)",
         "description"),
        rows,
    )


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """JSONL rows with a valid ``completion``; any malformed line is a one-line error."""
    from gamermath.rewards.completions import completion_problem

    if path.is_dir():
        raise GmrError(f"input {path} is a directory, not a JSONL file")
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
            except RecursionError:
                raise GmrError(f"{path} line {number}: JSON nested too deeply") from None
            if not isinstance(row, dict) or "completion" not in row:
                raise GmrError(f"{path} line {number}: a row needs a 'completion' field")
            problem = completion_problem(row["completion"])
            if problem:
                raise GmrError(f"{path} line {number}: 'completion' {problem}")
            rows.append(row)
    return rows


def _check_output(path: Path | None) -> None:
    """Fail before any work if ``--output`` cannot be written."""
    if path is None:
        return
    if path.is_dir():
        raise GmrError(f"--output {path} is a directory; give a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise GmrError(f"--output {path}: {parent} is a file, not a directory")
            break


def _timeout(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value:g} is not a positive number of seconds")
    return value


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
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: cores).")
@click.option("--timeout", type=float, default=None, callback=_timeout,
              help="Per-sample seconds, > 0 (default: the reward's).")
@click.option("--memory-limit", "memory_limit", type=click.IntRange(min=0),
              default=REWARD_MEMORY_MB,
              show_default=True, help="Worker address-space limit in MiB; 0: none.")
def score_rewards(
    name: str,
    options: tuple[str, ...],
    input_path: Path,
    output_path: Path | None,
    workers: int | None,
    timeout: float | None,
    memory_limit: int,
) -> None:
    """Score completions: one output row per input row, in order, with reward/status/seconds.

    Exits 1 when no row could be scored (every row failed)."""
    from gamermath.rewards.completions import completion_text
    from gamermath.rewards.options import parse_option, validate_options
    from gamermath.rewards.runner import RewardRunner

    spec = registry.get("reward", name)
    parsed = dict(parse_option(spec, item) for item in options)
    validate_options(spec, parsed)  # a bad value fails here, before any sample
    _check_output(output_path)
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
    with RewardRunner(workers=workers, memory_limit_mb=memory_limit or None) as runner, Progress(
        console=stderr, transient=True
    ) as bar:
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
        try:
            output_path.parent.mkdir(parents=True, exist_ok=True)
            output_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        except OSError as exc:
            raise GmrError(f"cannot write --output {output_path}: {exc.strerror}") from None
    else:
        for line in lines:
            click.echo(line)
    statuses = [r.status for r in results]
    mean = sum(r.reward for r in results) / len(results) if results else 0.0
    failures = ", ".join(
        f"{status} {statuses.count(status)}" for status in ("oom", "cpu_limit")
        if status in statuses
    )
    click.echo(
        f"{name}: {len(results)} rows, mean reward {mean:.4f}, ok {statuses.count('ok')}, "
        f"timeout {statuses.count('timeout')}, error {statuses.count('error')}, "
        + (f"{failures}, " if failures else "")
        + f"cache hits {counts.get('cache_hits', 0)}, {elapsed:.2f} s"
        + (f" -> {output_path}" if output_path else ""),
        err=True,
    )
    if results and "ok" not in statuses:
        detail = next((r.detail for r in results if r.detail), "")
        click.echo(
            f"{name}: every row failed; first failure: {detail or statuses[0]}", err=True
        )
        raise SystemExit(1)


@reward.command("check")
@click.argument("name")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Reward option.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: cores).")
def check_reward(name: str, options: tuple[str, ...], workers: int | None) -> None:
    """Run a reward through the conformance battery; exit 1 if it violates the contract."""
    from gamermath.rewards.check import run_check
    from gamermath.rewards.options import parse_option, validate_options
    from gamermath.rewards.runner import RewardRunner

    spec = registry.get("reward", name)
    parsed = dict(parse_option(spec, item) for item in options)
    validate_options(spec, parsed)
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


def _audit_suite(names: tuple[str, ...], workers: int | None) -> None:
    """``gmr reward audit --suite math-verify``: per-category agreement table."""
    from gamermath.rewards.audit.suite import SUITE, load_suite, suite_table
    from gamermath.rewards.runner import RewardRunner

    cases = load_suite(default_only=True)
    header = json.loads(SUITE.read_text(encoding="utf-8").splitlines()[0])
    click.echo(
        f"gmr reward audit --suite math-verify: {len(cases)} default-option cases of "
        f"{header['_source']} tests at {header['_commit'][:7]} ({header['_licence']}); "
        "agreement with the tests' verdicts in %"
    )
    cells = ("style", "category", "cases", "reward", "agree", "plain math-verify", "FP",
             "plain FP")
    click.echo("| " + " | ".join(cells) + " |")
    click.echo("|" + "---|" * len(cells))
    with RewardRunner(workers=workers) as runner:
        for name in names:
            spec = registry.get("reward", name)
            for style, category, n, ours, plain, fp, plain_fp in suite_table(
                runner, spec, cases
            ):
                row = (style, category, n, name, f"{ours:.1f}", f"{plain:.1f}", fp, plain_fp)
                click.echo("| " + " | ".join(str(c) for c in row) + " |")


@reward.command("audit")
@click.option("--reward", "names", multiple=True, metavar="NAME",
              help="Reward to audit (repeatable; default: exact-answer and sympy-equivalence).")
@click.option("--input", "input_path", type=click.Path(path_type=Path), default=None,
              help="A labelled JSONL set (default: the one gmr ships).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: cores).")
@click.option("--references/--no-references", default=True, show_default=True,
              help="Also measure plain math-verify and TRL's accuracy_reward.")
@click.option("--misses", "misses_path", type=click.Path(path_type=Path), default=None,
              help="Write every wrong verdict (scorer, id, kind, label) to this JSONL file.")
@click.option("--suite", type=click.Choice(["math-verify"]), default=None,
              help="Instead: agreement with Math-Verify's own test cases, per category, "
                   "beside plain math-verify.")
def audit_rewards(
    names: tuple[str, ...],
    input_path: Path | None,
    workers: int | None,
    references: bool,
    misses_path: Path | None,
    suite: str | None,
) -> None:
    """Precision, recall and F1 of rewards on a labelled set of real GSM8K and MATH-500
    golds, beside plain math-verify and TRL's accuracy_reward measured in the same run."""
    from gamermath.rewards import audit
    from gamermath.rewards.runner import RewardRunner

    if suite is not None:
        _audit_suite(names or ("sympy-equivalence",), workers)
        return

    specs = [registry.get("reward", n) for n in (names or ("exact-answer", "sympy-equivalence"))]
    rows = audit.load_set(input_path)
    _check_output(misses_path)
    measured = []
    with RewardRunner(workers=workers) as runner, Progress(console=stderr, transient=True) as bar:
        for spec in specs:
            task = bar.add_task(spec.name, total=len(audit.domain_rows(spec.name, rows)))
            measured.append(audit.run_reward(
                runner, spec, rows, progress=lambda n, t=task: bar.update(t, advance=n)
            ))
        if references:
            for label, run in ((audit.MATH_VERIFY, audit.run_math_verify),
                               (audit.TRL_ACCURACY, audit.run_trl_accuracy)):
                task = bar.add_task(label, total=len(rows))
                measured.append(run(rows, progress=lambda n, t=task: bar.update(t, advance=n)))
    positives = sum(r["label"] for r in rows)
    click.echo(
        f"gmr reward audit: {len(rows):,} labelled rows ({positives:,} equivalent) from "
        f"{input_path or 'the shipped set'}; precision, recall and F1 in %"
    )
    header = ("subset", "scorer", "rows", "precision", "recall", "F1", "FP", "FN", "failed",
              "seconds")
    click.echo("| " + " | ".join(header) + " |")
    click.echo("|" + "---|" * len(header))
    for subset in audit.SUBSETS:
        for verdicts in measured:
            for s in audit.scores(verdicts, rows):
                if s.subset == subset:
                    cells = (s.subset, s.name, f"{s.rows:,}", f"{100 * s.precision:.2f}",
                             f"{100 * s.recall:.2f}", f"{100 * s.f1:.2f}", s.fp, s.fn,
                             s.failed + s.skipped, f"{s.seconds:.1f}")
                    click.echo("| " + " | ".join(str(c) for c in cells) + " |")
    if misses_path is not None:
        wrong = [m for verdicts in measured for m in audit.misses(verdicts, rows)]
        misses_path.parent.mkdir(parents=True, exist_ok=True)
        misses_path.write_text("".join(json.dumps(m) + "\n" for m in wrong), encoding="utf-8")
        click.echo(f"{len(wrong)} wrong verdicts -> {misses_path}", err=True)
