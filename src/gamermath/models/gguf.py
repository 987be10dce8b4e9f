"""Convert a ``.gguf`` file once into a ``from_pretrained`` directory, cached.

transformers can read a GGUF file (``gguf_file=``), but that takes tens of seconds per
load and the loaded model refuses ``save_pretrained``. So the first use dequantises it,
copies the weights into a fresh model built from the same config, and saves that model
with the tokenizer under ``CACHE/gguf/<key>``, where the key is the SHA-256 of the file's
bytes (and the layout version): a copy of the file at another path, or under another
name, finds the same conversion. Hashing streams the file once (about 0.1 s per 100 MB);
the digest is remembered in ``CACHE/gguf/hashes.json`` under the file's absolute path,
size and modification time, so an unchanged file is not read again. The directory is
written under a temporary name and renamed into place, so an interrupted conversion never
leaves a half cache. Later loads read the saved directory in about a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from gamermath.errors import GmrError

MARKER = "gmr-gguf-source.json"
#: Bumped whenever the converted layout changes, so older cache entries are converted again.
FORMAT_VERSION = 2


HASH_INDEX = "hashes.json"
_CHUNK = 1 << 20


def _read_index(index: Path) -> dict[str, dict]:
    try:
        found = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _index_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "gguf" / HASH_INDEX


def content_digest(path: Path, cache_dir: Path) -> str:
    """The SHA-256 of ``path``'s bytes; read from the index when the file's absolute path,
    size and modification time are the ones remembered there."""
    path = Path(path)
    stat = path.stat()
    known = _read_index(_index_path(cache_dir)).get(str(path.resolve())) or {}
    if known.get("size") == stat.st_size and known.get("mtime_ns") == stat.st_mtime_ns:
        return str(known["sha256"])
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def remember_digest(path: Path, cache_dir: Path, sha256: str) -> None:
    """Record ``sha256`` for ``path`` (as it is now) in the index; written only once a
    conversion exists, so a failed conversion leaves nothing in the cache."""
    stat = Path(path).stat()
    index_path = _index_path(cache_dir)
    index = _read_index(index_path)
    entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
    if index.get(str(Path(path).resolve())) == entry:
        return
    index[str(Path(path).resolve())] = entry
    index_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = index_path.with_name(f".{HASH_INDEX}.{os.getpid()}")
    tmp.write_text(json.dumps(index, indent=1), encoding="utf-8")
    os.replace(tmp, index_path)  # atomic: a concurrent reader sees the old or the new index


def _key(sha256: str) -> str:
    return f"{sha256[:16]}-v{FORMAT_VERSION}"


def cache_key(path: Path, cache_dir: Path) -> str:
    """The file's content digest (16 hex digits) and the converted layout's version."""
    return _key(content_digest(path, cache_dir))


def converted_dir(path: Path, cache_dir: Path) -> Path:
    """Where the conversion of ``path`` lives (whether or not it exists yet)."""
    return Path(cache_dir) / "gguf" / cache_key(path, cache_dir)


def _convert_into(path: Path, target: Path, sha256: str) -> None:
    """Dequantise ``path`` and save model + tokenizer into the empty folder ``target``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gamermath.models.tokenizer_setup import prepare_tokenizer

    folder, name = str(path.parent), path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    # The weights are saved dequantised: a GGUF quantization_config left in config.json would
    # make from_pretrained (and so Trainer and plain lm_eval) treat them as quantised.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        bad = missing or unexpected
        raise GmrError(f"{path}: GGUF weights do not fit the model config ({bad[:3]})")
    if model.config.tie_word_embeddings:
        model.tie_weights()
    model.generation_config = loaded.generation_config
    model.save_pretrained(target)
    if tokenizer.model_max_length > 10**9:  # a GGUF tokenizer carries no length limit
        tokenizer.model_max_length = model.config.max_position_embeddings
    prepare_tokenizer(tokenizer).save_pretrained(target)
    stat = path.stat()
    (target / MARKER).write_text(
        json.dumps(
            {"gguf": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
             "sha256": sha256},
            indent=2,
        )
    )


def convert_gguf(path: str | Path, cache_dir: str | Path) -> Path:
    """The cached ``from_pretrained`` directory for a ``.gguf`` file, converting it if needed."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GmrError(f"GGUF file not found: {path}")
    sha256 = content_digest(path, Path(cache_dir))
    target = Path(cache_dir) / "gguf" / _key(sha256)
    if (target / MARKER).is_file():
        remember_digest(path, Path(cache_dir), sha256)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        console.print(f"converting {path.name} once into {target} (about a minute)")
        with console.status(f"dequantising {path.name} and saving it"):
            try:
                _convert_into(path, tmp, sha256)
            except GmrError:
                raise
            except Exception as exc:  # not a GGUF, an unsupported architecture...
                detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
                raise GmrError(f"{path}: cannot convert this GGUF file ({detail})") from None
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        if target.exists() and not (target / MARKER).is_file():
            shutil.rmtree(target)  # not a finished conversion (its marker was removed)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / MARKER).is_file():  # not a concurrent winner: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    remember_digest(path, Path(cache_dir), sha256)
    console.print(f"converted {path.name} in {time.monotonic() - started:.1f} s -> {target}")
    return target
