"""``gmr report``: plots and a self-contained HTML page from one or more run directories."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gamermath.report.rundata import RunData, load_run

__all__ = ["Report", "RunData", "build_report", "load_run"]


@dataclass
class Report:
    html: Path
    pngs: list[Path]
    missing: list[str]


def build_report(run_dirs: Sequence[str | Path], output: str | Path | None = None) -> Report:
    """Write ``report.html`` and the PNG plots for ``run_dirs`` into ``output``.

    ``output`` defaults to ``RUN_DIR/report`` for one run and ``./report`` for several.
    Plots whose metrics no run recorded are left out and named in ``Report.missing``.
    """
    from gamermath.report import plots
    from gamermath.report.attribution import attribution_rows, plot_attribution
    from gamermath.report.evalrows import eval_rows
    from gamermath.report.html import render_html

    runs = [load_run(path) for path in run_dirs]
    if output is None:
        output = runs[0].path / "report" if len(runs) == 1 else Path("report")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    pngs: list[Path] = []
    missing: list[str] = []
    for plot in plots.RUN_PLOTS:
        written = plot(runs, out)
        if written is None:
            missing.append(plot.__name__.removeprefix("plot_").replace("_", " "))
        else:
            pngs.append(written)
    gains = attribution_rows(runs)
    gains_png = plot_attribution(gains, out)
    if gains_png is not None:
        pngs.append(gains_png)
    rows = eval_rows(runs)
    eval_png = plots.plot_eval(rows, out)
    if eval_png is not None:
        pngs.append(eval_png)
    html = out / "report.html"
    html.write_text(render_html(runs, pngs, rows, missing, gains), encoding="utf-8")
    return Report(html=html, pngs=pngs, missing=missing)
