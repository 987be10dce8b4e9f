"""``gmr plugins``: what is installed and what each plugin registers."""

from __future__ import annotations

import click

from gamermath import plugins as registry
from gamermath.cli.output import print_table


@click.command()
def plugins() -> None:
    """List installed plugins: package, version, entry point and what each registers."""
    rows = []
    for info in registry.plugin_table():
        what = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.registers.items())
        rows.append((info.package, info.version, info.name, what or "-"))
    print_table("gmr plugins", ("package", "version", "entry point", "registers"), rows)
