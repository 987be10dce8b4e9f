"""The built-in prompt templates: ``chat-think``, ``paper-fewshot`` and ``plain``.

- ``chat-think``: chat messages, a system prompt asking for reasoning inside
  ``<think></think>`` and a last line ``#### <number>`` (the answer format of the
  Qwen3.5-0.8B-GRPO-Math card), then the question as the user turn. Zero-shot.
- ``paper-fewshot``: plain text in the style of "Can A Gamer Train A Mathematical
  Reasoning Model?": ``k`` worked examples (default 8, as the paper evaluates; its training
  code uses 2) of the form ``Question: ...\\nSolution: Let's think step by step. ...\\n####
  The final answer is N``, then the target question with an open solution.
- ``plain``: the question text alone, as a plain string (no chat wrapping), for base
  models and for reward/eval debugging.

Each template's ``completion_format`` option says how an SFT target is written from a
row's ``reasoning`` and ``answer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gamermath.hookspecs import hookimpl
from gamermath.specs import PromptTemplate

THINK_SYSTEM_PROMPT = (
    "You are a careful math tutor. Work through the problem step by step inside "
    "<think> and </think> tags. After the closing </think> tag, write the final answer "
    "alone on its own line in the form: #### <number>"
)

PAPER_PREFIX = "Question: {question}\nSolution: Let's think step by step."


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
            description="chat: system prompt asking for <think>...</think> then '#### N' "
            "(Qwen3.5-0.8B-GRPO-Math card format); zero-shot",
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
            "#### The final answer is N' (gamer-math paper; default 8 shots)",
            shots=8,
            options={
                "separator": "\n\n",
                "completion_format": " {reasoning}\n#### The final answer is {answer}",
            },
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
