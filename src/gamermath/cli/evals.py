"""``gmr evals list``: lm-eval task sets and the protocol of each task."""

from __future__ import annotations

from collections.abc import Sequence

import click

from gamermath import plugins as registry
from gamermath.cli.output import print_table, stdout


def emit_table(title: str, header: Sequence[str], rows: list[tuple[str, ...]]) -> None:
    """A rich table on a terminal; on a pipe one tab-separated line per row (header
    first), never wrapped, so ``grep`` and ``cut`` see whole cells."""
    if stdout.is_terminal:
        print_table(title, header, rows)
        return
    from gamermath.evaluation.tables import tsv_lines

    click.echo(tsv_lines(tuple(header), rows))


@click.group()
def evals() -> None:
    """Evaluation task plugins (lm-evaluation-harness YAMLs)."""


@evals.command("list")
def list_evals() -> None:
    """List every task of every installed task set with its one-line protocol.

    On a terminal this is a table; piped, one task per line, tab-separated:
    task, set, package, protocol.
    """
    rows = [
        (task, s.name, f"{s.plugin} {s.plugin_version}", protocol)
        for s in sorted(registry.registry("eval task set").values(), key=lambda s: s.name)
        for task, protocol in sorted(s.tasks.items())
    ]
    emit_table("eval tasks", ("task", "set", "package", "protocol"), rows)
