"""``gmr report`` on a real run directory from a tiny GRPO training run (TRL + PEFT on CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gamermath.report import build_report, load_run

REPO = Path(__file__).resolve().parents[1]
PLOTS = {"rewards.png", "heldout.png", "completion_length.png", "kl.png", "loss.png",
         "step_time.png", "memory.png", "reward_failures.png", "attribution.png"}


def gmr_train_run(model_dir: Path, run_dir: Path) -> Path:
    """A real ``gmr train`` run of the tiny recipe (SFT warm-up, 4 GRPO steps, held-out eval)."""
    proc = subprocess.run(
        [sys.executable, "-m", "gamermath", "train", str(REPO / "recipes" / "tiny.toml"),
         "--set", f"model.source={model_dir}", "--run-dir", str(run_dir)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="module")
def run_dir(tiny_model, tmp_path_factory) -> Path:
    return gmr_train_run(tiny_model, tmp_path_factory.mktemp("runs") / "tiny-grpo")


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.srcs.append(attrs.get("src", ""))
        for key in ("href", "src"):
            value = attrs.get(key) or ""
            if value.startswith(("http:", "https:", "//")):
                self.external.append(value)
        if tag in ("script", "link"):
            self.external.append(tag)


def _decode_png(data: bytes):
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _check_html(html: Path, expected_images: int) -> str:
    import base64

    text = html.read_text(encoding="utf-8")
    parser = _Images()
    parser.feed(text)
    assert parser.external == []
    assert len(parser.srcs) == expected_images
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        image = _decode_png(base64.b64decode(src.split(",", 1)[1]))
        assert image.size[0] > 100 and image.size[1] > 100
    return text


def test_report_of_a_real_run_writes_html_and_every_plot(run_dir, tmp_path):
    result = build_report([run_dir], tmp_path / "out")
    assert {p.name for p in result.pngs} == PLOTS
    for png in result.pngs:
        assert png.stat().st_size > 1000
        _decode_png(png.read_bytes())
    assert result.missing == []
    text = _check_html(result.html, len(PLOTS))
    assert "finished (adapter saved)" in text
    rows = [json.loads(line) for line in (run_dir / "completions.jsonl").open()]
    assert rows, "the run recorded completions"
    from html import escape

    last = [r for r in rows if r["step"] == rows[-1]["step"]][0]
    assert escape(last["completion"]) in text  # sampled completions of the last step, escaped


def test_cli_report_several_runs_overlaid(run_dir, tmp_path):
    import shutil

    second = tmp_path / "second"
    shutil.copytree(run_dir, second)
    out = tmp_path / "both"
    proc = subprocess.run(
        [sys.executable, "-m", "gamermath", "report", str(run_dir), str(second), "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.html").is_file()
    text = (out / "report.html").read_text()
    assert "tiny-grpo" in text and "second" in text


def test_partial_run_still_reports(run_dir, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    first_grpo = next(i for i, line in enumerate(lines) if '"reward":' in line)
    kept = lines[: first_grpo + 1]  # interrupted while writing the next line
    (partial / "metrics.jsonl").write_text("\n".join(kept) + "\n" + lines[first_grpo + 1][:25])
    (partial / "completions.jsonl").write_text(
        json.dumps({"stage": "grpo", "step": 1, "prompt": "<b>2+2</b>",
                    "completion": "<script>alert(1)</script> #### 4", "answer": "4",
                    "rewards": {"correct": 1.0}, "reward": 1.0}) + "\n"
    )
    run = load_run(partial)
    assert len(run.metrics) == len(kept) and run.skipped_lines == 1 and not run.finished
    result = build_report([partial], tmp_path / "out")
    text = _check_html(result.html, len(result.pngs))
    assert "incomplete" in text and "1 unreadable" in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "rewards.png" in {p.name for p in result.pngs}


def test_eval_results_sit_beside_baselines(run_dir, tmp_path):
    import shutil

    run = tmp_path / "evald"
    shutil.copytree(run_dir, run)
    (run / "eval").mkdir()
    (run / "eval" / "results.json").write_text(json.dumps({
        "model": "tiny", "adapter": "adapter", "created": "now", "lm_eval_version": "0.4.13",
        "tasks": {"gsm8k_youronmath_8shot_exact": {
            "protocol": "paper 8-shot", "n": 1319, "num_fewshot": 8,
            "metrics": {"exact_match,none": {"value": 0.25, "stderr": 0.01},
                        "exact_match,other": {"value": 0.9, "stderr": 0.01}}}},
    }))
    result = build_report([run], tmp_path / "out")
    assert "eval.png" in {p.name for p in result.pngs}
    text = result.html.read_text()
    # the task's headline metric from evals/baselines.toml, not another filter
    assert "25.00%" in text and "90.00%" not in text
    # the paper's own score under the same protocol, other GSM8K scores marked as not comparable
    assert "73.69%" in text and "same protocol" in text and "different protocol" in text
    assert "not ranked" in text  # each baseline says whether and why it is ranked


def test_not_a_run_directory_is_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gamermath", "report", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "not a run directory" in proc.stderr and "Traceback" not in proc.stderr


def test_memory_plot_carries_the_planner_estimate_for_cuda_runs(run_dir, tmp_path):
    import shutil

    from gamermath.planner import plan_recipe
    from gamermath.report.plots import planned_peak_mb

    cuda_run = tmp_path / "cuda-run"
    shutil.copytree(run_dir, cuda_run)
    assert planned_peak_mb(load_run(cuda_run)) is None  # a CPU run: RSS, nothing to compare
    env = json.loads((cuda_run / "environment.json").read_text())
    env["device"] = {**env["device"], "cuda": True}
    (cuda_run / "environment.json").write_text(json.dumps(env))
    expected = plan_recipe(cuda_run / "recipe.toml").peak_tensors / 2**20
    assert planned_peak_mb(load_run(cuda_run)) == pytest.approx(expected)
    result = build_report([cuda_run], tmp_path / "out")
    assert "memory.png" in {p.name for p in result.pngs}


def _attribution_run(folder: Path, control: str, points: list[tuple]) -> Path:
    """A run directory with the tiny recipe and held-out rows (stage, step, n, right, fmt, both)."""
    from gamermath.engine.attribution import heldout_counts
    from gamermath.recipe import load_recipe

    folder.mkdir()
    recipe = load_recipe(REPO / "recipes" / "tiny.toml",
                         (f"run.control={json.dumps(control)}", f"run.name={folder.name}"))
    (folder / "recipe.toml").write_text(recipe.to_toml())
    lines = []
    for stage, step, n, right, fmt, both in points:
        scores = ([(True, True)] * both + [(True, False)] * (right - both)
                  + [(False, True)] * (fmt - both))
        scores += [(False, False)] * (n - len(scores))
        lines.append(json.dumps({"stage": stage, "step": step, **heldout_counts(scores)}))
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_gain_attribution_table_plot_and_the_control(tmp_path):
    from gamermath.report.attribution import attribution_rows

    real = _attribution_run(tmp_path / "demo", "none", [
        ("sft", 0, 200, 0, 0, 0), ("grpo", 0, 200, 90, 180, 90), ("grpo", 30, 200, 130, 200, 130)])
    control = _attribution_run(tmp_path / "demo-control", "random-reward", [
        ("sft", 0, 200, 0, 0, 0), ("grpo", 0, 200, 90, 180, 90), ("grpo", 30, 200, 96, 196, 96)])
    runs = [load_run(real), load_run(control)]
    rows = attribution_rows(runs)
    assert [(r["run"], r["stage"]) for r in rows] == [
        ("demo", "SFT"), ("demo", "GRPO"), ("demo-control", "SFT"), ("demo-control", "GRPO")]
    sft, grpo = rows[0], rows[1]
    assert sft["gain"] == pytest.approx(45.0) and sft["format"] == pytest.approx(45.0)
    assert grpo["gain"] == pytest.approx(20.0)
    # format 90% -> 100% at mean correctness (50% + 65%) / 2; correctness +15 at mean format 95%
    assert grpo["format"] == pytest.approx(10 * 0.575)
    assert grpo["correctness"] == pytest.approx(15 * 0.95)
    assert grpo["over_control"] == pytest.approx(20.0 - 3.0) and grpo["control"] == "demo-control"
    assert rows[3]["control_run"] and rows[3]["over_control"] is None
    result = build_report([real, control], tmp_path / "out")
    assert "attribution.png" in {p.name for p in result.pngs}
    text = _check_html(result.html, len(result.pngs))
    assert "Gain attribution" in text and "+17.0 (control demo-control)" in text
    assert "control: random rewards" in text and "random-reward: GRPO was paid" in text


def _lines_by_label(fig) -> dict[str, object]:
    return {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}


def test_plots_tell_sft_from_grpo_with_whole_steps(run_dir):
    """Loss, step time and memory: the SFT and GRPO lines differ in colour, the step ticks
    are whole numbers, the legend sits outside the plot area (it covers no line)."""
    from matplotlib.colors import to_hex

    from gamermath.report import plots

    run = [load_run(run_dir)]
    assert run[0].stages() == ["sft", "grpo"]
    for build, name in ((plots.loss_figure, "loss"), (plots.step_time_figure, "step time"),
                        (plots.memory_figure, "peak memory")):
        fig = build(run)
        lines = _lines_by_label(fig)
        sft, grpo = lines[f"{name} (sft)"], lines[f"{name} (grpo)"]
        assert to_hex(sft.get_color()) != to_hex(grpo.get_color())
        fig.canvas.draw()
        ax = fig.axes[0]
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
        legend = ax.get_legend().get_window_extent()
        assert legend.x0 >= ax.get_window_extent().x1  # right of the plot area
        plots._close(fig)


def test_heldout_accuracy_and_reward_are_separate_panels(run_dir):
    from gamermath.report import plots

    fig = plots.heldout_figure([load_run(run_dir)])
    top, bottom = fig.axes
    assert "0-1" in top.get_ylabel() and top.get_ylim() == pytest.approx((-0.02, 1.02))
    assert "reward" in bottom.get_ylabel() and "reward" not in top.get_ylabel()
    assert any("accuracy" in line.get_label() for line in top.get_lines())
    assert any("training reward" in line.get_label() for line in bottom.get_lines())
    plots._close(fig)


def test_memory_title_says_which_device_was_measured(run_dir, tmp_path):
    import shutil

    from gamermath.report.plots import memory_title

    assert memory_title([load_run(run_dir)]) == "Peak process memory (RSS; CPU run, no GPU)"
    cuda_run = tmp_path / "cuda-run"
    shutil.copytree(run_dir, cuda_run)
    env = json.loads((cuda_run / "environment.json").read_text())
    env["device"] = {**env["device"], "cuda": True}
    (cuda_run / "environment.json").write_text(json.dumps(env))
    assert memory_title([load_run(cuda_run)]).startswith("Peak GPU memory")


def test_a_limited_eval_in_the_report_says_what_compare_says(run_dir, tmp_path):
    """4 of 1319 questions: the report gives n of the total, the 95% interval, the
    limited-run warning and the not-ranked verdicts --compare prints; a task with no
    published baseline says so."""
    import shutil

    from gamermath.evaluation.tables import compare_section

    run = tmp_path / "limited"
    shutil.copytree(run_dir, run)
    (run / "eval").mkdir()
    results = {"tasks": {
        "gsm8k": {"protocol": "lm-eval's gsm8k", "n": 4, "n_total": 1319, "num_fewshot": 5,
                  "max_gen_toks": 256, "decoding": "greedy", "limit": 4,
                  "metrics": {"exact_match,strict-match": {
                      "value": 0.5, "stderr": 0.29, "ci": [0.15, 0.85]}}},
        "math500_minerva": {"protocol": "Minerva", "n": 3, "n_total": 500, "num_fewshot": 4,
                            "max_gen_toks": 256, "decoding": "greedy", "limit": 3,
                            "metrics": {"math_verify,final-answer": {
                                "value": 0.0, "stderr": 0.0, "ci": [0.0, 0.56]}}}}}
    (run / "eval" / "results.json").write_text(json.dumps({"model": "tiny", **results}))
    result = build_report([run], tmp_path / "out")
    from html import unescape

    text = unescape(result.html.read_text())
    assert "4 of 1319" in text and "50.00% [15.0, 85.0]" in text
    section = compare_section(results)
    assert any("a limited run beside baselines" in note for note in section.notes)
    for note in section.notes:  # every warning and note --compare prints
        assert note in text
    for row in section.rows:  # and every row of its table
        assert row[-1] in text
    assert "math500_minerva: no published baseline of the math500 benchmark" in text


def test_a_sampled_eval_is_reported_by_its_avg_at_k(run_dir, tmp_path):
    import shutil

    from gamermath.report.evalrows import eval_rows

    run = tmp_path / "sampled"
    shutil.copytree(run_dir, run)
    (run / "eval").mkdir()
    (run / "eval" / "results.json").write_text(json.dumps({"model": "tiny", "tasks": {
        "gsm8k": {"protocol": "p", "n": 2, "n_total": 2, "num_fewshot": 0, "decoding":
                  "sampled: 2 samples per question, temperature 0.6, top-p 0.95",
                  "metrics": {"exact_match_pass@2,strict-match": {"value": 1.0},
                              "exact_match_avg@2,strict-match": {"value": 0.5},
                              "exact_match,strict-match-maj@2": {"value": 0.0}}}}}))
    ours = next(r for r in eval_rows([load_run(run)]) if r["kind"] == "run")
    assert ours["metric"] == "exact_match_avg@2,strict-match" and ours["percent"] == 50.0
