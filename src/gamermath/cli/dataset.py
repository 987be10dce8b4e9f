"""``gmr datasets ...``: list datasets and prompt templates, show rendered rows."""

from __future__ import annotations

import click

from gamermath import plugins as registry
from gamermath.cli.output import print_table


@click.group()
def datasets() -> None:
    """Dataset and prompt-template plugins."""


@datasets.command("list")
def list_datasets() -> None:
    """List installed datasets and prompt templates."""
    rows = [
        (d.name, f"{d.plugin} {d.plugin_version}", ", ".join(d.splits), d.description)
        for d in sorted(registry.registry("dataset").values(), key=lambda d: d.name)
    ]
    print_table("datasets", ("name", "package", "splits", "description"), rows)
    rows = [
        (t.name, f"{t.plugin} {t.plugin_version}", t.description)
        for t in sorted(registry.registry("template").values(), key=lambda t: t.name)
    ]
    print_table("prompt templates", ("name", "package", "description"), rows)
