"""``gmr card RUN_DIR``: the Hugging Face model card (README.md) of a trained run."""

from __future__ import annotations

from pathlib import Path

import click

from gamermath.errors import GmrError


@click.command("card")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--eval", "eval_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="A gmr eval output folder (repeatable; default: RUN_DIR/eval if present).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the card (default: RUN_DIR/adapter/README.md, the folder "
              "--push uploads).")
@click.option("--push", "repo", default=None, metavar="REPO",
              help="Upload the adapter folder with the card to this Hugging Face Hub "
              "repository (huggingface_hub; needs a token: HF_TOKEN or hf auth login).")
def card(run_dir: Path, eval_dirs: tuple[Path, ...], output: Path | None,
         repo: str | None) -> None:
    """Write the model card of RUN_DIR: metadata, every score with its protocol, n and
    interval, the bare -> SFT -> GRPO table, contamination, hardware, what was not measured."""
    from gamermath.cli.output import stderr
    from gamermath.report.card import push_card, render_card

    if not run_dir.is_dir():
        raise GmrError(f"{run_dir}: no such run directory")
    text = render_card(run_dir, eval_dirs)
    adapter = run_dir / "adapter"
    target = output or (adapter / "README.md" if adapter.is_dir() else run_dir / "README.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}")
    if repo:
        if not adapter.is_dir():
            raise GmrError(f"--push: {run_dir} has no adapter folder to upload")
        if target.resolve() != (adapter / "README.md").resolve():
            (adapter / "README.md").write_text(text, encoding="utf-8")
        stderr.print(f"uploading {adapter} to {repo}")
        click.echo(f"pushed: {push_card(adapter, repo)}")
