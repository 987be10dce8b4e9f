"""Make a tokenizer ready for chat GRPO/SFT: a pad token and a chat template."""

from __future__ import annotations

#: ChatML, used only when a tokenizer ships no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def prepare_tokenizer(tokenizer):
    """Give ``tokenizer`` a pad token (its EOS) and a chat template (ChatML) when missing."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError("tokenizer has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer
