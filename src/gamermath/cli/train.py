"""``gmr train RECIPE`` and ``gmr recipe check|show|keys FILE``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gamermath.errors import GmrError
from gamermath.recipe import load_recipe

SET_HELP = "Override a recipe value: SECTION.KEY=VALUE (e.g. grpo.learning_rate=1e-4)."


def cli_overrides(
    overrides: tuple[str, ...], data_dir: str | None = None, run_dir: str | None = None,
    max_steps: int | None = None,
) -> tuple[str, ...]:
    """``--set`` items plus the flags that are recipe values in disguise."""
    out = tuple(overrides)
    if data_dir:
        out += (f"data.data_dir={_quoted(data_dir)}",)
    if run_dir:
        out += (f"run.output_dir={_quoted(run_dir)}",)
    if max_steps is not None:
        out += (f"run.max_steps={max_steps}",)
    return out


def _quoted(text: str) -> str:
    import json

    return json.dumps(text)


def resolve_train_recipe(
    recipe_file: str | None, overrides: tuple[str, ...], resume: str | None,
    run_dir: str | None,
):
    """The recipe ``gmr train`` runs: the file given, or (``--resume DIR`` alone) the run's own."""
    if recipe_file is None:
        if not resume:
            raise GmrError("name a RECIPE to train, or --resume RUN_DIR to continue a run")
        saved = Path(resume) / "recipe.toml"
        if not saved.is_file():
            raise GmrError(f"--resume {resume}: no run there (no recipe.toml)")
        items = overrides + (f"run.output_dir={_quoted(resume)}",)
        return load_recipe(saved, items)
    if resume and not run_dir:
        overrides += (f"run.output_dir={_quoted(resume)}",)
    return load_recipe(recipe_file, overrides)


@click.command("train")
@click.argument("recipe_file", metavar="[RECIPE]", required=False,
                type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--run-dir", default=None, type=click.Path(file_okay=False),
              help="Run directory (default: [run].output_dir, else runs/RECIPE-NAME).")
@click.option("--resume", default=None, is_flag=False, flag_value="", metavar="[RUN_DIR]",
              help="Continue a run from its newest checkpoint: RUN_DIR alone uses the run's "
              "own recipe.toml; with RECIPE (or --set) the recipe must equal the saved one.")
@click.option("--force", is_flag=True,
              help="With --resume: continue even though the recipe differs from the saved one.")
@click.option("--max-steps", default=None, type=click.IntRange(min=1),
              help="Stop each stage (SFT, GRPO) after N optimizer steps ([run] max_steps).")
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder with local dataset files (else $GMR_DATA_DIR, else the hub).")
def train(
    recipe_file: str | None,
    overrides: tuple[str, ...],
    run_dir: str | None,
    resume: str | None,
    force: bool,
    max_steps: int | None,
    data_dir: str | None,
) -> None:
    """Train a LoRA adapter from RECIPE: optional SFT warm-up, then GRPO (TRL).

    Ctrl-C saves a checkpoint at the end of the step and prints the command that resumes.
    """
    from gamermath.cli.output import stderr

    items = cli_overrides(overrides, data_dir, run_dir, max_steps)
    recipe = resolve_train_recipe(recipe_file, items, resume, run_dir)
    from gamermath.engine.train import TrainingInterrupted
    from gamermath.engine.train import train as run_training

    try:
        result = run_training(recipe, resume=resume is not None, force=force, console=stderr)
    except TrainingInterrupted as exc:
        where = f"; checkpoint {exc.checkpoint}" if exc.checkpoint else ""
        click.echo(
            f"gmr: interrupted during {exc.stage} at step {exc.step}{where}; continue with: "
            f"gmr train --resume {recipe.run.output_dir}",
            err=True,
        )
        sys.exit(130)
    grpo = result.heldout.get("grpo") or []
    click.echo(f"{'adapter' if recipe.lora.enabled else 'model'}: {result.adapter}")
    from gamermath.engine.attribution import summary_lines

    lines = summary_lines([*result.heldout.get("sft", []), *grpo])
    if lines:
        click.echo("held-out:")
        for line in lines:
            click.echo(f"  {line}")
    if any(r.get("alarm/reward_hacking") for r in grpo):
        click.echo("warning: the reward-hacking alarm was raised (see metrics.jsonl)", err=True)
    from gamermath.engine.announce import next_lines

    click.echo("\n".join(next_lines(result.run_dir, recipe)))


@click.group("recipe")
def recipe() -> None:
    """Validate and inspect training recipes."""


@recipe.command("check")
@click.argument("recipe_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--no-trl", is_flag=True,
              help="Skip building TRL's configs (saves importing torch; keys, types, values "
              "and plugin names are still checked).")
def check(recipe_file: str, overrides: tuple[str, ...], no_trl: bool) -> None:
    """Validate FILE: keys, types, values, plugin names, columns, reward labels and gates,
    [lora].target_modules against the model's config, and TRL's own checks.

    FILE may also name a shipped recipe (youronmath-paper).
    """
    loaded = load_recipe(recipe_file, overrides)
    if not no_trl:
        from gamermath.engine.trl_config import check_trl_configs

        check_trl_configs(loaded)
    from gamermath.recipe.model_modules import check_target_modules_offline

    note = check_target_modules_offline(loaded)
    if note:
        click.echo(f"note: {note}", err=True)
    grpo = loaded.grpo.trl
    stages = ("SFT + " if loaded.sft_enabled else "") + "GRPO"
    rewards = " + ".join(f"{r.label} {r.weight:g}" for r in loaded.rewards)
    click.echo(
        f"ok: {recipe_file}: {stages} on {loaded.model.source}, "
        f"{loaded.data.dataset}/{loaded.data.split}, "
        f"{grpo.get('num_generations')} generations, lr {grpo.get('learning_rate'):g}, "
        f"rewards {rewards}"
    )


@recipe.command("show")
@click.argument("recipe_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--plain", is_flag=True, help="No comments saying where defaults came from.")
@click.option("--sources", is_flag=True,
              help="Print the fidelity table instead: each setting's source value, where the "
              "source says it, and the value this recipe uses (recipes/sources/NAME.toml).")
@click.option("--write-comment", is_flag=True,
              help="With --sources: rewrite the table in FILE's header comment.")
def show(recipe_file: str, overrides: tuple[str, ...], plain: bool, sources: bool,
         write_comment: bool) -> None:
    """Print FILE resolved: every value, TRL's own defaults included, each default labelled.

    FILE may also name a shipped recipe (youronmath-paper).
    """
    loaded = load_recipe(recipe_file, overrides)
    if not sources:
        if write_comment:
            raise GmrError("--write-comment needs --sources")
        click.echo(loaded.to_toml(annotate=not plain), nl=False)
        return
    from gamermath.recipe.sources import load_table, table_markdown, write_comment_block

    table = load_table(loaded.path)
    if write_comment:
        changed = write_comment_block(loaded, table)
        click.echo(f"{loaded.path}: fidelity comment {'rewritten' if changed else 'up to date'}")
        return
    click.echo(table_markdown(loaded, table), nl=False)


@recipe.command("keys")
@click.option("--markdown", is_flag=True, help="The README's recipe key tables.")
def keys(markdown: bool) -> None:
    """List every gmr recipe key with its default and meaning."""
    from gamermath.recipe.docs import keys_markdown, keys_text

    click.echo(keys_markdown() if markdown else keys_text(), nl=False)
