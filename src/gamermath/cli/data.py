"""``gmr data overlap RECIPE``: the contamination check between training text and eval documents."""

from __future__ import annotations

from pathlib import Path

import click

from gamermath.cli.output import stderr
from gamermath.errors import GmrError


@click.group("data")
def data() -> None:
    """Check the data a recipe trains on."""


@data.command("overlap")
@click.argument("recipe_file", metavar="RECIPE", type=click.Path(dir_okay=False))
@click.option("--harness", "tasks", default=None, metavar="TASKS",
              help="Comma-separated lm-eval tasks whose documents to check (default: the "
              "recipe's held-out split, all of it).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe value: SECTION.KEY=VALUE.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with local dataset files (else $GMR_DATA_DIR, else the hub).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("overlap.jsonl"), show_default=True,
              help="JSONL of overlapping pairs: train_id, eval_id, shared_ngrams, ngrams.")
@click.option("--strict", is_flag=True, help="Exit 1 when any eval document overlaps.")
def overlap(recipe_file: str, tasks: str | None, overrides: tuple[str, ...],
            data_dir: Path | None, output: Path, strict: bool) -> None:
    """13-gram overlap (lm-eval's decontamination method) between RECIPE's training prompts
    and answers (SFT and GRPO) and eval documents (its held-out split, or --harness tasks)."""
    from gamermath.cli.train import cli_overrides
    from gamermath.data import resolve_data_dir
    from gamermath.data.overlap import check_recipe
    from gamermath.recipe import load_recipe

    recipe = load_recipe(recipe_file, cli_overrides(overrides, str(data_dir) if data_dir else
                                                    None))
    data_path = resolve_data_dir(data_dir if data_dir else recipe.data.data_dir)
    if data_path is not None and not data_path.is_dir():
        raise GmrError(f"data directory {data_path} does not exist (--data-dir / GMR_DATA_DIR)")
    names = [t.strip() for t in (tasks or "").split(",") if t.strip()]
    report = check_recipe(recipe, names, data_path, console=stderr)
    report.write(output, output.with_suffix(".summary.json"))
    for line in report.lines():
        click.echo(line)
    click.echo(f"{len(report.pairs)} overlapping pairs ({report.contaminated_train_rows} "
               f"training rows) written to {output}")
    if strict and report.contaminated:
        raise SystemExit(1)
