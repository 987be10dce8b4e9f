"""``gmr train RECIPE`` and ``gmr recipe check|show FILE``."""

from __future__ import annotations

import sys

import click

from gamermath.recipe import load_recipe

SET_HELP = "Override a recipe value: SECTION.KEY=VALUE (e.g. grpo.learning_rate=1e-4)."


def _load(path: str, overrides: tuple[str, ...], data_dir: str | None = None):
    overrides = tuple(overrides)
    if data_dir:
        overrides += (f"data.data_dir={data_dir}",)
    return load_recipe(path, overrides)


@click.command("train")
@click.argument("recipe_file", metavar="RECIPE", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--run-dir", default=None, type=click.Path(file_okay=False),
              help="Run directory (default: [run].output_dir, else runs/RECIPE-NAME).")
@click.option("--resume", is_flag=True, help="Continue the run in --run-dir from its newest "
              "checkpoint.")
@click.option("--max-steps", default=None, type=click.IntRange(min=1),
              help="Stop each stage (SFT, GRPO) after N optimizer steps.")
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder with local dataset files (else $GMR_DATA_DIR, else the hub).")
def train(
    recipe_file: str,
    overrides: tuple[str, ...],
    run_dir: str | None,
    resume: bool,
    max_steps: int | None,
    data_dir: str | None,
) -> None:
    """Train a LoRA adapter from RECIPE: optional SFT warm-up, then GRPO (TRL)."""
    from gamermath.cli.output import stderr

    recipe = _load(recipe_file, overrides, data_dir)
    from gamermath.engine.train import TrainingInterrupted
    from gamermath.engine.train import train as run_training

    try:
        result = run_training(recipe, run_dir, resume=resume, max_steps=max_steps, console=stderr)
    except TrainingInterrupted as exc:
        where = f"; checkpoint {exc.checkpoint}" if exc.checkpoint else ""
        run = run_dir or recipe["run"]["output_dir"]
        click.echo(
            f"gmr: interrupted during {exc.stage} at step {exc.step}{where}; continue with: "
            f"gmr train {recipe_file} --run-dir {run} --resume",
            err=True,
        )
        sys.exit(130)
    grpo = result.heldout.get("grpo") or []
    first = (result.heldout.get("sft") or grpo or [{}])[0]
    last = grpo[-1] if grpo else {}
    click.echo(f"adapter: {result.adapter}")
    if first and last:
        click.echo(
            "held-out ({n}): accuracy {a0:.1%} -> {a1:.1%}, format {f0:.1%} -> {f1:.1%}".format(
                n=last.get("heldout/n"), a0=first["heldout/accuracy"],
                a1=last["heldout/accuracy"], f0=first["heldout/format_rate"],
                f1=last["heldout/format_rate"],
            )
        )
    if any(r.get("alarm/reward_hacking") for r in grpo):
        click.echo("warning: the reward-hacking alarm was raised (see metrics.jsonl)", err=True)


@click.group("recipe")
def recipe() -> None:
    """Validate and inspect training recipes."""


@recipe.command("check")
@click.argument("recipe_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def check(recipe_file: str, overrides: tuple[str, ...]) -> None:
    """Validate FILE (keys, types, plugin names) without loading torch."""
    loaded = _load(recipe_file, overrides)
    grpo = loaded["grpo"]
    stages = ("SFT + " if loaded.sft_enabled else "") + "GRPO"
    rewards = " + ".join(f"{r['label']} {r['weight']:g}" for r in loaded["rewards"])
    click.echo(
        f"ok: {recipe_file}: {stages} on {loaded['model']['source']}, "
        f"{loaded['data']['dataset']}/{loaded['data']['split']}, "
        f"{grpo.get('num_generations')} generations, lr {grpo.get('learning_rate'):g}, "
        f"rewards {rewards}"
    )


@recipe.command("show")
@click.argument("recipe_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def show(recipe_file: str, overrides: tuple[str, ...]) -> None:
    """Print FILE resolved: every section with its defaults filled in."""
    loaded = _load(recipe_file, overrides)
    click.echo(loaded.to_toml(), nl=False)
