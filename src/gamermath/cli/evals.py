"""``gmr evals list``: lm-eval task sets and the protocol of each task."""

from __future__ import annotations

import click

from gamermath import plugins as registry
from gamermath.cli.output import print_table


@click.group()
def evals() -> None:
    """Evaluation task plugins (lm-evaluation-harness YAMLs)."""


@evals.command("list")
def list_evals() -> None:
    """List every task of every installed task set with its one-line protocol."""
    rows = [
        (task, s.name, f"{s.plugin} {s.plugin_version}", protocol)
        for s in sorted(registry.registry("eval task set").values(), key=lambda s: s.name)
        for task, protocol in sorted(s.tasks.items())
    ]
    print_table("eval tasks", ("task", "set", "package", "protocol"), rows)
