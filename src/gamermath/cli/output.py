"""Terminal output shared by commands: tables on stdout, messages on stderr.

A table is a rich box table on a terminal; piped or redirected it is one tab-separated
line per row (header first), never wrapped, so ``grep``, ``cut`` and ``awk`` see whole
cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import click
from rich.console import Console
from rich.table import Table

stdout = Console(soft_wrap=False)
stderr = Console(stderr=True)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a table (tab-separated when stdout is not a terminal); an empty one says so
    rather than printing nothing."""
    if not stdout.is_terminal:
        from gamermath.evaluation.tables import tsv_lines

        cells = [tuple(str(cell) for cell in row) for row in rows]
        if cells:
            click.echo(tsv_lines(tuple(columns), cells))
        else:
            stderr.print(f"{title}: none installed")
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
        count += 1
    if count:
        stdout.print(table)
    else:
        stdout.print(f"{title}: none installed")
