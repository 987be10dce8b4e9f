"""Tiny, offline models for tests: a tokenizer trained on the spot and a random 2-layer model.

Used by gamermath's own tests and available to plugin authors: ``make_tiny_model(path)``
writes a directory that ``AutoModelForCausalLM.from_pretrained`` and
``AutoTokenizer.from_pretrained`` load without any hub, with a chat template, in seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "Question: What is 12 + 7? Answer: <think>12 + 7 = 19</think>\n#### 19",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many.",
    "The final answer is 72. Let's think step by step.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 + - * / = ( ) $ % , . ? ! #### \\boxed{}",
    "A B C D Answer: The answer is (B). system user assistant",
    "<think> </think> reasoning solve compute total each how many more less",
]


def make_tokenizer(vocab_size: int = 400):
    """A byte-level BPE tokenizer trained on a small corpus, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def make_tiny_model(
    path: str | Path, hidden_size: int = 64, layers: int = 2, seed: int = 0,
    initializer_range: float = 0.02,
) -> Path:
    """Write a random Qwen2-architecture model and its tokenizer to ``path``; return it.

    With the default ``initializer_range`` its next-token distributions are nearly flat
    (tied embeddings of norm ~0.16 bound every logit), so sampling looks uniform whatever a
    LoRA adapter learns; a larger one (e.g. 0.5) gives peaked distributions that training
    can move.
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, Qwen2Config

    path = Path(path)
    tokenizer = make_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def pip_install_target(package: Path, target: Path) -> None:
    """Install a plugin package (no dependencies) into ``target``, for a subprocess's
    ``PYTHONPATH``: a real installed distribution with real entry points."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(package)],
        check=True,
        capture_output=True,
    )
