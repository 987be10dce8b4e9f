"""``gmr models ...``: list model sources, resolve a model name to a loadable directory."""

from __future__ import annotations

import click

from gamermath import plugins as registry
from gamermath.cli.output import print_table


@click.group()
def models() -> None:
    """Model-source plugins: hub ids, directories, .gguf files, pkg: packages."""


@models.command("list")
def list_sources() -> None:
    """List installed model sources, highest priority first."""
    sources = sorted(
        registry.registry("model source").values(), key=lambda s: (-s.priority, s.name)
    )
    rows = [(s.name, f"{s.plugin} {s.plugin_version}", s.priority, s.description) for s in sources]
    print_table("model sources", ("name", "package", "priority", "description"), rows)


@models.command("resolve")
@click.argument("source")
@click.option(
    "--cache-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where converted models go (default $GMR_CACHE_DIR or ~/.cache/gamermath).",
)
def resolve(source: str, cache_dir: str | None) -> None:
    """Print the directory or hub id SOURCE loads from (converting a GGUF once)."""
    from gamermath.models import find_source, resolve_model

    spec = find_source(source)
    click.echo(f"{spec.name}\t{resolve_model(source, cache_dir)}")
