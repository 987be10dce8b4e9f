#!/usr/bin/env bash
# The model card of the CPU demo run (recipes/smollm2-arith-cpu.toml).
#
#   bash bench/render_demo_card.sh [RUN_DIR]               # default runs/smollm2-arith-cpu
#   TASKS=gsm8k LIMIT=100 bash bench/render_demo_card.sh   # with a gmr eval --compare first
#
# Trains the demo when RUN_DIR holds no finished run, optionally evaluates it with lm-eval
# (TASKS, LIMIT questions each; the card then lists the published baselines and says the run
# is limited), and writes the card to bench/demo-card.md. GMR_DATA_DIR (or --data-dir in the
# commands below) must point at the offline benchmark files when TASKS is set.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/smollm2-arith-cpu}
GMR=${GMR:-.venv/bin/python -m gamermath}
if [ ! -f "$RUN/adapter/adapter_config.json" ]; then
  $GMR train recipes/smollm2-arith-cpu.toml --run-dir "$RUN"
fi
EVAL_ARGS=()
if [ -n "${TASKS:-}" ]; then
  $GMR eval --harness "$TASKS" --model "$RUN" --compare --limit "${LIMIT:-100}" \
    --output "$RUN/eval"
  EVAL_ARGS=(--eval "$RUN/eval")
fi
$GMR card "$RUN" "${EVAL_ARGS[@]}" -o bench/demo-card.md
