"""The built-in prompt templates.

- ``chat-think``: chat messages, a system prompt asking for reasoning inside
  ``<think></think>`` and a last line ``#### <number>``, then the question as the user turn.
  Zero-shot.
- ``paper-fewshot``: plain text in the style of "Can A Gamer Train A Mathematical
  Reasoning Model?": ``k`` worked examples from the train split (default 8) of the form
  ``Question: ...\nSolution: Let's think step by step. ...\n#### The final answer is N``,
  then the target question with an open solution. Stops at the next ``\nQuestion:``.
- ``youronmath-qa``: the prompt the paper's released training code builds (``gsm8k.py``,
  ``--format qa``): two of the repository's eight Wei et al. exemplars
  (``resources/examplars.py``, byte for byte) drawn once per run, each solution's lines
  joined with ". " and its calculator annotations removed, ``..`` collapsed to ``.``, then
  the question and ``Solution: Let's think step by step. `` (trailing space).
- ``qwen3.5-card``: the Qwen3.5-0.8B-GRPO-Math card's prompt (its gpu-lab training and
  evaluation scripts): system prompt, then the question as the user turn; zero-shot, or
  its 8 plain exemplars as user/assistant turns. ``qwen3.5-card-sft``: the same with the
  system prompt its SFT data uses (the first two sentences only).
- ``plain``: the question text alone, as a plain string (no chat wrapping), for base
  models and for reward/eval debugging.

Each template's ``completion_format`` option says how an SFT target is written from a
row's ``reasoning`` and ``answer``; ``stop`` and ``answer_line`` (see
``gamermath.specs.PromptTemplate``) say where its completions end and what its answer line
looks like.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gamermath.builtin.exemplars import GPU_LAB_PLAIN, YOURONMATH_EXAMPLARS
from gamermath.hookspecs import hookimpl
from gamermath.specs import PromptTemplate

THINK_SYSTEM_PROMPT = (
    "You are a careful math tutor. Work through the problem step by step inside "
    "<think> and </think> tags. After the closing </think> tag, write the final answer "
    "alone on its own line in the form: #### <number>"
)

PAPER_PREFIX = "Question: {question}\nSolution: Let's think step by step."

#: The answer line of the paper's prompts: ``#### The final answer is 42``.
PAPER_ANSWER_LINE = r"####[ \t]*The final answer is[ \t]*(?:\$[ \t]*)?-?\d"

#: A new few-shot block: what a base model writes after answering a few-shot prompt.
NEXT_QUESTION = "\nQuestion:"

#: The Qwen3.5-0.8B-GRPO-Math card's system prompt for GRPO and evaluation
#: (gpu-lab projects/05-grpo-reasoning/scripts/train_grpo.py and eval_gsm8k.py, SYSTEM_PROMPT).
QWEN35_CARD_SYSTEM_PROMPT = (
    "You are a helpful assistant that thinks step by step. "
    "Show your reasoning inside <think> tags before giving your final answer. "
    "End math answers with: #### <number>"
)

#: The system prompt of the card's SFT data (gpu-lab merge_sft_data.py, SYSTEM_PROMPT).
QWEN35_CARD_SFT_SYSTEM_PROMPT = (
    "You are a helpful assistant that thinks step by step. "
    "Show your reasoning inside <think> tags before giving your final answer."
)

_CALCULATOR = re.compile(r"<<.*?>>")


def worked_steps(row: Mapping[str, Any]) -> str:
    """A row's worked solution without its final-answer line."""
    return str(row.get("reasoning") or row.get("solution") or "").strip()


def render_chat_think(
    row: Mapping[str, Any], shots: list[Mapping[str, Any]], options: Mapping[str, Any]
) -> list[dict[str, str]]:
    """System prompt + (optional worked shots as turns) + the question as the user turn."""
    messages = [{"role": "system", "content": str(options["system"])}]
    for shot in shots:
        answer = str(shot["answer"]).replace(",", "")
        messages.append({"role": "user", "content": str(shot["question"])})
        messages.append(
            {"role": "assistant", "content": f"<think>{worked_steps(shot)}</think>\n#### {answer}"}
        )
    messages.append({"role": "user", "content": str(row["question"])})
    return messages


def render_paper_fewshot(
    row: Mapping[str, Any], shots: list[Mapping[str, Any]], options: Mapping[str, Any]
) -> str:
    """Worked ``Question/Solution`` examples separated by blank lines, then the open target."""
    blocks = []
    for shot in shots:
        steps = worked_steps(shot)
        body = f" {steps}" if steps else ""
        blocks.append(
            PAPER_PREFIX.format(question=shot["question"])
            + f"{body}\n#### The final answer is {shot['answer']}"
        )
    blocks.append(PAPER_PREFIX.format(question=row["question"]))
    return str(options["separator"]).join(blocks)


def youronmath_block(question: str, solution: str | None, answer: str | None) -> str:
    """One ``Question/Solution`` block exactly as YouronMath's ``gsm8k.py`` writes it (qa, cot).

    The solution's lines are joined with ". ", ``<<...>>`` annotations are removed, a period
    and a newline follow, and then ``..`` becomes ``.`` in the whole block (question
    included), before the answer line and a blank line are added.
    """
    block = f"Question: {question}\nSolution: Let's think step by step. "
    if solution is not None:
        joined = _CALCULATOR.sub("", ". ".join(solution.split("\n")))
        block += f"{joined}.\n"
    block = block.replace("..", ".")
    if answer is not None:
        block += f"#### The final answer is {answer}\n\n"
    return block


def render_youronmath_qa(
    row: Mapping[str, Any], shots: list[Mapping[str, Any]], options: Mapping[str, Any]
) -> str:
    """The exemplar blocks, then the question with an open ``Let's think step by step. ``."""
    exemplars = "".join(
        youronmath_block(str(s["question"]), worked_steps(s), str(s["answer"])) for s in shots
    )
    return exemplars + youronmath_block(str(row["question"]), None, None)


def render_qwen35_card(
    row: Mapping[str, Any], shots: list[Mapping[str, Any]], options: Mapping[str, Any]
) -> list[dict[str, str]]:
    """System prompt, the exemplars as (user, assistant ``steps\n#### N``) turns, the question."""
    messages = [{"role": "system", "content": str(options["system"])}]
    for shot in shots:
        messages.append({"role": "user", "content": str(shot["question"])})
        messages.append(
            {"role": "assistant", "content": f"{worked_steps(shot)}\n#### {shot['answer']}"}
        )
    messages.append({"role": "user", "content": str(row["question"])})
    return messages


def render_plain(
    row: Mapping[str, Any], shots: list[Mapping[str, Any]], options: Mapping[str, Any]
) -> str:
    """The question text alone."""
    return str(row["question"])


@hookimpl
def register_templates(register) -> None:
    register(
        PromptTemplate(
            name="chat-think",
            render=render_chat_think,
            description="chat: system prompt asking for <think>...</think> then '#### N'; "
            "zero-shot",
            shots=0,
            options={
                "system": THINK_SYSTEM_PROMPT,
                "completion_format": "<think>{reasoning}</think>\n#### {answer}",
            },
        )
    )
    register(
        PromptTemplate(
            name="paper-fewshot",
            render=render_paper_fewshot,
            description="text: k-shot 'Question: / Solution: Let's think step by step. / "
            "#### The final answer is N' from train (gamer-math paper; default 8 shots)",
            shots=8,
            options={
                "separator": "\n\n",
                "completion_format": " {reasoning}\n#### The final answer is {answer}",
            },
            stop=(NEXT_QUESTION,),
            answer_line=PAPER_ANSWER_LINE,
        )
    )
    register(
        PromptTemplate(
            name="youronmath-qa",
            render=render_youronmath_qa,
            description="text: YouronMath train.py's prompt: 2 of Wei et al.'s 8 exemplars "
            "drawn once per run, steps joined by '. ', then 'Let's think step by step. '",
            shots=2,
            options={"completion_format": "{reasoning}.\n#### The final answer is {answer}"},
            stop=(NEXT_QUESTION,),
            answer_line=PAPER_ANSWER_LINE,
            exemplars=YOURONMATH_EXAMPLARS,
            shot_draw="per-run",
        )
    )
    card_completion = "<think>\n{reasoning}\n</think>\n#### {answer}"
    register(
        PromptTemplate(
            name="qwen3.5-card",
            render=render_qwen35_card,
            description="chat: the Qwen3.5-0.8B-GRPO-Math card's system prompt, then the "
            "question; zero-shot (or its 8 plain exemplars as turns)",
            shots=0,
            options={"system": QWEN35_CARD_SYSTEM_PROMPT, "completion_format": card_completion},
            exemplars=GPU_LAB_PLAIN,
            shot_draw="first",
        )
    )
    register(
        PromptTemplate(
            name="qwen3.5-card-sft",
            render=render_qwen35_card,
            description="chat: qwen3.5-card with the system prompt of the card's SFT data "
            "(no '#### <number>' sentence)",
            shots=0,
            options={"system": QWEN35_CARD_SFT_SYSTEM_PROMPT,
                     "completion_format": card_completion},
            exemplars=GPU_LAB_PLAIN,
            shot_draw="first",
        )
    )
    register(
        PromptTemplate(
            name="plain",
            render=render_plain,
            description="text: the question alone, no instructions",
            shots=0,
            options={"completion_format": "{reasoning}\n#### {answer}"},
        )
    )
