"""``gmr reward ...`` (alias ``gmr rewards``): list, score and check reward plugins."""

from __future__ import annotations

import click

from gamermath import plugins as registry
from gamermath.cli.output import print_table


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
