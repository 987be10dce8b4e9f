"""Chat templates that open ``<think>`` in the prompt, detected from the tokenizer itself.

Some chat templates end the generation prompt inside an open reasoning block
(``<|im_start|>assistant\\n<think>\\n``: DeepSeek-R1 distills, Qwen3.5 with
``enable_thinking=True``); the model then writes only the reasoning and ``</think>``, and
a completion never contains the opening tag. Others close an empty block in the prompt
(Qwen3.5-0.8B by default: ``<think>\\n\\n</think>\\n\\n``) or add nothing.

``opened_in_prompt`` renders a one-turn conversation through the tokenizer's chat template
with and without the generation prompt (with the run's ``chat_template_kwargs``) and reads
what the template adds for the assistant: if that ends inside an open ``<think>``, it
returns the opening (``"<think>\\n"``), and rewards and the held-out metric read each
completion as the assistant turn really is, that opening followed by the completion. So a
think term is paid exactly when the turn holds one closed block, whichever side wrote the
opening tag. A system prompt that merely mentions ``<think>`` is not the template's doing
and is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def generation_prompt(tokenizer: Any, chat_template_kwargs: Mapping[str, Any] | None = None
                      ) -> str | None:
    """What the chat template appends to open the assistant turn (None: no chat template)."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    kwargs = dict(chat_template_kwargs or {})
    conversation = [{"role": "user", "content": "1 + 1"}]
    try:
        closed = tokenizer.apply_chat_template(conversation, tokenize=False,
                                               add_generation_prompt=False, **kwargs)
        opened = tokenizer.apply_chat_template(conversation, tokenize=False,
                                               add_generation_prompt=True, **kwargs)
    except Exception:  # a template that needs more than a bare user turn (e.g. a bos_token)
        return None
    if not opened.startswith(closed):
        return None
    return opened[len(closed):]


def opened_in_prompt(tokenizer: Any, chat_template_kwargs: Mapping[str, Any] | None = None
                     ) -> str:
    """The ``<think>`` opening the generation prompt leaves open, or "" when it leaves none."""
    suffix = generation_prompt(tokenizer, chat_template_kwargs)
    if not suffix:
        return ""
    start = suffix.rfind(THINK_OPEN)
    if start < 0 or suffix.rfind(THINK_CLOSE) > start:
        return ""
    return suffix[start:]
