"""``gmr report RUN_DIR ...``: plots and a self-contained HTML report of training runs."""

from __future__ import annotations

import click


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--output", "-o", type=click.Path(file_okay=False), default=None,
              help="Folder for report.html and the PNGs (default RUN_DIR/report, or ./report "
                   "for several runs).")
def report(run_dirs: tuple[str, ...], output: str | None) -> None:
    """Write report.html and PNG plots for one run, or several overlaid."""
    from gamermath.cli.output import stderr
    from gamermath.report import build_report

    with stderr.status("writing report"):
        result = build_report(run_dirs, output)
    if result.missing:
        stderr.print(f"not recorded, no plot: {', '.join(result.missing)}")
    for png in result.pngs:
        click.echo(str(png))
    click.echo(str(result.html))
