"""GGUF conversion and its content-keyed cache, on tiny GGUF files written from tiny test models."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from gamermath.models import load_model, resolve_model
from gamermath.models.gguf import HASH_INDEX, MARKER, converted_dir

gguf = pytest.importorskip("gguf")

#: Hugging Face Qwen2 module names -> GGUF tensor names (per block).
BLOCK_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}


def write_gguf(model_dir: Path, out: Path) -> Path:
    """Write the tiny Qwen2 model and its byte-level BPE tokenizer as an F32 GGUF file."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    writer = gguf.GGUFWriter(str(out), "qwen2")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    tokens = sorted(spec["model"]["vocab"], key=spec["model"]["vocab"].get)
    special = {added["content"] for added in spec["added_tokens"]}
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if token in special else 1 for token in tokens])
    merges = spec["model"]["merges"]
    writer.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in merges])
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_chat_template(tokenizer.chat_template)
    for name, tensor in load_file(str(model_dir / "model.safetensors")).items():
        if name == "model.embed_tokens.weight":
            target = "token_embd.weight"
        elif name == "model.norm.weight":
            target = "output_norm.weight"
        else:
            _, _, layer, rest = name.split(".", 3)
            module, kind = rest.rsplit(".", 1)
            target = f"blk.{layer}.{BLOCK_NAMES[module]}.{kind}"
        writer.add_tensor(target, tensor.float().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


@pytest.fixture
def tiny_gguf(tiny_model, tmp_path) -> Path:
    return write_gguf(Path(tiny_model), tmp_path / "tiny.gguf")


def test_gguf_converts_once_and_matches_the_original(tiny_model, tiny_gguf, tmp_path, capfd):
    import torch
    from transformers import AutoModelForCausalLM

    cache = tmp_path / "cache"
    first = resolve_model(str(tiny_gguf), cache_dir=cache)
    err = capfd.readouterr().err
    assert "converting tiny.gguf once into" in err and "converted tiny.gguf in" in err
    assert Path(first) == converted_dir(tiny_gguf, cache)
    # no temporary folder left: the conversion and the digest index only
    assert sorted(os.listdir(cache / "gguf")) == sorted([Path(first).name, HASH_INDEX])
    stamp = (Path(first) / MARKER).stat().st_mtime_ns

    model, tokenizer, record = load_model(str(tiny_gguf), cache_dir=cache)
    assert "converted" not in capfd.readouterr().err
    assert (Path(first) / MARKER).stat().st_mtime_ns == stamp
    assert record["resolved"] == first
    reference = AutoModelForCausalLM.from_pretrained(tiny_model)
    # the saved weights are dequantised, so config.json must not call them GGUF-quantised:
    # plain from_pretrained (Trainer, lm_eval's HFLM) would refuse the folder
    assert "quantization_config" not in json.loads((Path(first) / "config.json").read_text())
    ids = tokenizer("What is 12 + 7? #### 19", return_tensors="pt").input_ids
    plain = AutoModelForCausalLM.from_pretrained(first)
    assert torch.allclose(plain(ids).logits, reference(ids).logits, atol=1e-5)
    assert torch.allclose(model(ids).logits, reference(ids).logits, atol=1e-5)
    assert (
        tokenizer.apply_chat_template(
            [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
        )
        == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_cache_is_keyed_by_content_not_path(tiny_gguf, tmp_path, capfd):
    import shutil

    cache = tmp_path / "cache"
    first = resolve_model(str(tiny_gguf), cache_dir=cache)
    capfd.readouterr()
    # the same bytes at another path and under another name: no second conversion
    elsewhere = tmp_path / "elsewhere" / "renamed.gguf"
    elsewhere.parent.mkdir()
    shutil.copyfile(tiny_gguf, elsewhere)
    assert resolve_model(str(elsewhere), cache_dir=cache) == first
    # a touched but unchanged file is hashed again and still hits
    stat = tiny_gguf.stat()
    os.utime(tiny_gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert resolve_model(str(tiny_gguf), cache_dir=cache) == first
    assert "converting" not in capfd.readouterr().err
    index = json.loads((cache / "gguf" / HASH_INDEX).read_text())
    digest = hashlib.sha256(tiny_gguf.read_bytes()).hexdigest()
    assert {e["sha256"] for e in index.values()} == {digest}
    assert len(index) == 2  # one entry per path
    assert json.loads((Path(first) / MARKER).read_text())["sha256"] == next(
        iter(index.values()))["sha256"]


def test_changed_content_gets_a_new_cache_entry(tiny_gguf, tmp_path):
    from gamermath.testing import make_tiny_model

    cache = tmp_path / "cache"
    first = resolve_model(str(tiny_gguf), cache_dir=cache)
    other = make_tiny_model(tmp_path / "other-model", seed=1)
    changed = write_gguf(other, tmp_path / "tiny-retrained.gguf")
    second = resolve_model(str(changed), cache_dir=cache)
    assert second != first and (Path(second) / MARKER).is_file()
    # the digest remembered for a path is dropped when the file changes in place
    tiny_gguf.write_bytes(changed.read_bytes())
    assert resolve_model(str(tiny_gguf), cache_dir=cache) == second


def test_unfinished_cache_entry_is_redone(tiny_gguf, tmp_path):
    cache = tmp_path / "cache"
    first = Path(resolve_model(str(tiny_gguf), cache_dir=cache))
    (first / MARKER).unlink()
    (first / "model.safetensors").write_bytes(b"truncated")
    again = Path(resolve_model(str(tiny_gguf), cache_dir=cache))
    assert again == first and (again / MARKER).is_file()
    load_model(str(tiny_gguf), cache_dir=cache)  # the rewritten weights load
