"""Terminal output shared by commands: rich tables on stdout, messages on stderr."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

stdout = Console(soft_wrap=False)
stderr = Console(stderr=True)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a table; an empty one says so rather than printing nothing."""
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
