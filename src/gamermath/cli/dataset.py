"""``gmr datasets ...``: list datasets and prompt templates, show rendered rows."""

from __future__ import annotations

import json
from typing import Any

import click

from gamermath import plugins as registry
from gamermath.cli.output import print_table
from gamermath.errors import GmrError


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
        (t.name, f"{t.plugin} {t.plugin_version}", ", ".join(map(repr, t.stop)) or "-",
         t.description)
        for t in sorted(registry.registry("template").values(), key=lambda t: t.name)
    ]
    print_table("prompt templates", ("name", "package", "stops at", "description"), rows)


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON when they parse (numbers, lists)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise GmrError(f"--option expects KEY=VALUE, got '{pair}'")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def format_prompt(prompt: Any) -> str:
    """Chat messages as ``[role]`` blocks; plain text as is."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"[{m['role']}]\n{m['content']}" for m in prompt)


@datasets.command("show")
@click.argument("name")
@click.option("--split", default=None, help="Split to show (default: test, else the first).")
@click.option("--template", "-t", default="chat-think", show_default=True,
              help="Prompt template to render the rows with (gmr datasets templates).")
@click.option("--limit", "-n", default=3, show_default=True, type=int,
              help="How many rows to show.")
@click.option("--shots", default=None, type=int, help="Few-shot examples (template default).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for shot sampling.")
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder with local dataset files (else $GMR_DATA_DIR, else the hub).",
)
@click.option("--option", "-o", "pairs", multiple=True, help="Dataset option KEY=VALUE.")
def show(
    name: str,
    split: str | None,
    template: str,
    limit: int,
    shots: int | None,
    seed: int,
    data_dir: str | None,
    pairs: tuple[str, ...],
) -> None:
    """Print rendered prompts and gold answers of dataset NAME."""
    from gamermath.data import render_prompts
    from gamermath.recipe import DataSpec

    spec = registry.get("dataset", name)
    if split is None:
        split = "test" if "test" in spec.splits else spec.splits[0]
    data = DataSpec(dataset=name, split=split, template=template, shots=shots,
                    data_dir=data_dir, limit=limit, options=parse_options(pairs))
    rows = render_prompts(data, seed)
    for index, row in enumerate(rows):
        click.echo(f"--- {name} {split} #{index} (template {template}) ---")
        click.echo(format_prompt(row["prompt"]))
        click.echo(f"--- gold answer: {row['answer']}")
    if not rows:
        click.echo(f"{name} {split}: no rows")
