"""``gmr eval --harness TASKS --model SOURCE``: lm-evaluation-harness on a (trained) model."""

from __future__ import annotations

from pathlib import Path

import click

from gamermath.cli.evals import emit_table
from gamermath.cli.output import stderr
from gamermath.errors import GmrError


def _limit(value: float | None) -> int | float | None:
    if value is None:
        return None
    if value <= 0:
        raise GmrError("--limit must be positive (a count, or a fraction below 1)")
    return int(value) if value >= 1 and float(value).is_integer() else value


def _batch_size(value: str | None) -> int | str | None:
    if value is None or value == "auto" or value.startswith("auto:"):
        return value
    if not value.isdigit() or int(value) < 1:
        raise GmrError(f"--batch-size {value}: expected a positive integer or 'auto'")
    return int(value)


@click.command("eval")
@click.option("--harness", "tasks", required=True, metavar="TASKS",
              help="Comma-separated lm-eval task or group names (gmr evals list).")
@click.option("--model", "model", metavar="SOURCE",
              help="Hub id, local dir, .gguf, pkg:NAME, or a training run directory.")
@click.option("--adapter", metavar="RUN_DIR_OR_PATH",
              help="A PEFT adapter folder or a run directory whose final adapter to apply.")
@click.option("--num-fewshot", type=int, default=None, help="Override each task's shot count.")
@click.option("--limit", type=float, default=None,
              help="Evaluate only the first N documents (a quick look: not ranked by --compare "
              "below 100 questions).")
@click.option("--batch-size", default=None,
              help="Integer or 'auto' (default: 1 with --backend hf, auto with vllm).")
@click.option("--max-gen-toks", type=int, default=None,
              help="Cap on generated tokens (overrides the tasks' own limits).")
@click.option("--samples", type=int, default=None, metavar="K",
              help="Sample K answers per question: maj@K, pass@K and avg@K with intervals.")
@click.option("--temperature", type=float, default=0.6, show_default=True,
              help="Sampling temperature with --samples.")
@click.option("--top-p", type=float, default=0.95, show_default=True,
              help="Nucleus sampling with --samples.")
@click.option("--top-k", type=int, default=0, show_default=True,
              help="Top-k sampling with --samples (0: no top-k cut; the YouronMath paper's "
              "text uses 50).")
@click.option("--backend", type=click.Choice(["hf", "vllm"]), default="hf", show_default=True,
              help="lm-eval model type: hf (transformers) or vllm (needs gamermath[vllm], a GPU).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Offline benchmark files (else $GMR_DATA_DIR, else the hub).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for results.json, results.md and samples_<task>.jsonl "
              "(default with a run directory: RUN_DIR/eval).")
@click.option("--compare", is_flag=True,
              help="Show published baselines beside our scores, ranked only like with like.")
@click.option("--baselines", "baselines_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="A baselines TOML for --compare (default: evals/baselines.toml).")
@click.option("--dtype", default="auto", show_default=True, help="auto, float32, bfloat16...")
@click.option("--device", default=None, help="cpu, cuda, cuda:1... (default: cuda if present)")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads torch evaluates with (default on a CPU: 1, measured fastest "
              "on a busy machine; on a GPU: torch's own).")
def eval_cmd(tasks, model, adapter, num_fewshot, limit, batch_size, max_gen_toks, samples,
             temperature, top_p, top_k, backend, data_dir, output, compare, baselines_file, dtype,
             device, threads) -> None:
    """Evaluate a model with lm-evaluation-harness and compare with published scores."""
    from gamermath.data import resolve_data_dir
    from gamermath.evaluation import baselines, resolve_target, run_harness, tables
    from gamermath.evaluation.harness import eval_threads
    from gamermath.evaluation.sampling import Sampling

    names = [t.strip() for t in tasks.split(",") if t.strip()]
    target = resolve_target(model, adapter)
    data = resolve_data_dir(data_dir)
    if data is not None and not data.is_dir():
        raise GmrError(f"data directory {data} does not exist (--data-dir / GMR_DATA_DIR)")
    if output is None and target.run_dir is not None:
        output = target.run_dir / "eval"
    if max_gen_toks is not None and max_gen_toks < 1:
        raise GmrError("--max-gen-toks must be at least 1")
    sampling = None if samples is None else Sampling(samples, temperature, top_p, top_k)
    if compare:  # a broken baselines file fails before the model runs
        baselines.load_baselines(baselines_file)
    threads = eval_threads(threads, backend, device)
    on = f", {threads} CPU thread{'s' if threads != 1 else ''}" if threads else ""
    stderr.print(f"evaluating {target.label} on {', '.join(names)} ({backend}{on})",
                 soft_wrap=True)
    run = run_harness(
        target,
        names,
        threads=threads,
        num_fewshot=num_fewshot,
        limit=_limit(limit),
        batch_size=_batch_size(batch_size),
        max_gen_toks=max_gen_toks,
        data_dir=data,
        dtype=dtype,
        device=device,
        backend=backend,
        sampling=sampling,
    )
    emit_table(f"lm-eval results: {target.label}", tables.RESULT_HEADER,
               tables.results_rows(run.results))
    extra = ""
    if compare:
        section = tables.compare_section(run.results, baselines_file)
        for note in section.notes:
            stderr.print(note, soft_wrap=True)
        if section.rows:
            emit_table("published baselines (ranked only like with like)",
                       baselines.COMPARE_HEADER, section.rows)
        extra = section.markdown()
    if output is not None:
        written = tables.write_outputs(run, output, extra)
        stderr.print(f"wrote {len(written)} files to {output}")
    if compare and target.run_dir is not None:
        from gamermath.data.overlap import check_run

        check_run(target.run_dir, names, data, stderr, output)
