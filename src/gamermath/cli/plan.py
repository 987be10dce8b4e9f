"""``gmr plan RECIPE``: will this recipe fit in my card's memory, and what to change if not.

With a card (``--gpu``/``--gpu-mem``) it also ranks the one-GPU switches the recipe does not
use yet (vLLM colocate, continuous batching, Liger kernels, checkpointing and offload, a
4-bit base), each re-estimated for that card, lowest peak first.
"""

from __future__ import annotations

import json

import click

from gamermath.errors import GmrError


@click.command()
@click.argument("recipe")
@click.option("--gpu", "gpu_name", default=None, help="A card by name, e.g. 'RTX 4090', '3080 Ti'.")
@click.option("--gpu-mem", type=float, default=None, help="Card memory in GB (overrides --gpu).")
@click.option("--stage", type=click.Choice(["grpo", "sft"]), default="grpo", show_default=True)
@click.option("--prompt-tokens", type=int, default=None,
              help="Prompt length to plan for when the recipe sets no grpo.max_prompt_length "
                   "(default: the longest of the recipe's first 64 prompts, rendered from its "
                   "data and template; tokens when the tokenizer is available offline, else "
                   "characters / 4).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a recipe value, as for gmr train (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
@click.option("--markdown", is_flag=True,
              help="With a card: the recipe and each switch as a Markdown table (the README's).")
def plan(
    recipe: str,
    gpu_name: str | None,
    gpu_mem: float | None,
    stage: str,
    prompt_tokens: int | None,
    overrides: tuple[str, ...],
    as_json: bool,
    markdown: bool,
) -> None:
    """Estimate peak GPU memory of RECIPE before loading anything, and judge it against a card.

    With --gpu or --gpu-mem it also ranks the speed and memory switches for that card.
    """
    from gamermath import planner

    card_name, card_gb = "", None
    if gpu_name:
        card = planner.find_card(gpu_name)
        card_name, card_gb = card.name, card.memory_gb
    if gpu_mem is not None:
        if gpu_mem <= 0:
            raise GmrError("--gpu-mem must be a positive number of GB")
        card_name, card_gb = "", gpu_mem
    card_bytes = int(card_gb * planner.GIB) if card_gb else None
    if prompt_tokens is not None and prompt_tokens <= 0:
        raise GmrError("--prompt-tokens must be positive")
    est = planner.plan_recipe(recipe, stage=stage, overrides=overrides, card_bytes=card_bytes,
                              prompt_tokens=prompt_tokens)
    if markdown:
        if not card_gb:
            raise GmrError("--markdown needs a card (--gpu NAME or --gpu-mem GB)")
        click.echo(planner.switches_markdown(est), nl=False)
        return
    verdict = planner.verdict(est, card_gb, card_name) if card_gb else None
    ideas = planner.suggestions(est) if verdict and verdict.status != "fits" else []
    switches = planner.ranked_switches(est) if verdict else []
    if as_json:
        click.echo(json.dumps(_as_dict(est, verdict, ideas, switches), indent=2))
        return
    _print(est, verdict, ideas, switches)


def _idea(idea, verdict) -> dict:
    out = {"change": idea.change, "peak_total_bytes": idea.estimate.peak_total}
    if idea.sets:
        out.update(sets=list(idea.sets), effect=idea.effect, needs=idea.needs,
                   fits=idea.estimate.peak_total <= verdict.card_bytes)
    return out


def _as_dict(est, verdict, ideas, switches) -> dict:
    out = {
        "model": est.architecture.name,
        "params": est.params,
        "trainable_params": est.trainable_params,
        "full_fine_tuning": est.shape.full_fine_tuning,
        "prompt_tokens": est.shape.prompt_tokens,
        "prompt_source": est.shape.prompt_source,
        "components_bytes": est.components(),
        "peak_phase": est.peak_phase,
        "peak_tensors_bytes": est.peak_tensors,
        "peak_total_bytes": est.peak_total,
        "notes": est.notes,
    }
    if verdict:
        out["verdict"] = {"card": verdict.card, "card_bytes": verdict.card_bytes,
                          "status": verdict.status}
        out["suggestions"] = [_idea(s, verdict) for s in ideas]
        out["switches"] = [_idea(s, verdict) for s in switches]
    return out


def _print(est, verdict, ideas, switches) -> None:
    from rich.markup import escape
    from rich.table import Table

    from gamermath.cli.output import stdout
    from gamermath.planner import gib

    shape = est.shape
    if shape.generates:
        tokens = (f"({shape.prompt_tokens} prompt, by {escape(shape.prompt_source)}, + "
                  f"{shape.completion_tokens} completion), "
                  f"{shape.generation_batch} generated at once")
    else:
        tokens = "(SFT: no generation)"
    stdout.print(
        f"[bold]{est.architecture.name}[/bold]: {est.params / 1e6:,.0f}M parameters at "
        f"{shape.quantization or shape.dtype}, {est.trainable_params / 1e6:,.2f}M trainable"
        f"{' (full fine-tuning)' if shape.full_fine_tuning else ''}; "
        f"micro-batch {shape.per_device_train_batch_size} x {shape.sequence_tokens} tokens "
        f"{tokens}, gradient checkpointing {'on' if shape.gradient_checkpointing else 'off'}"
    )
    table = Table(title="estimated GPU memory", title_justify="left")
    table.add_column("component")
    table.add_column("memory", justify="right")
    for name, value in est.components().items():
        table.add_row(name, gib(value))
    table.add_row("[bold]peak tensors[/bold] (" + est.peak_phase + ")", gib(est.peak_tensors))
    table.add_row("+ CUDA context and allocator slack", gib(est.peak_total - est.peak_tensors))
    table.add_row("[bold]needed[/bold]", f"[bold]{gib(est.peak_total)}[/bold]")
    stdout.print(table)
    for note in est.notes:
        stdout.print(f"note: {note}")
    if verdict is None:
        stdout.print("(give --gpu NAME or --gpu-mem GB for a verdict)")
        return
    colour = {"fits": "green", "tight": "yellow", "does not fit": "red"}[verdict.status]
    stdout.print(
        f"verdict for {verdict.card} ({gib(verdict.card_bytes)}): "
        f"[{colour}]{verdict.status}[/{colour}] (needs {gib(verdict.needed_bytes)})"
    )
    if ideas:
        stdout.print("changes that lower the peak, biggest saving first:")
        for idea in ideas:
            mark = "fits" if idea.estimate.peak_total <= verdict.card_bytes else "still too big"
            stdout.print(
                f"  - {idea.change}: {gib(est.peak_total)} -> {gib(idea.estimate.peak_total)}"
                f" ({mark})"
            )
    if switches:
        _print_switches(est, verdict, switches)


def _print_switches(est, verdict, switches) -> None:
    from rich.markup import escape
    from rich.table import Table

    from gamermath.cli.output import stdout
    from gamermath.planner import gib

    table = Table(title=f"switches for {verdict.card}, lowest peak first", title_justify="left")
    for column in ("switch", "needed", "", "effect", "needs", "--set"):
        table.add_column(column, justify="right" if column == "needed" else "left",
                         overflow="fold")
    for idea in switches:
        peak = idea.estimate.peak_total
        table.add_row(idea.change, gib(peak),
                      "fits" if peak <= verdict.card_bytes else "too big",
                      escape(idea.effect), escape(idea.needs), escape(" ".join(idea.sets)))
    stdout.print(table)
