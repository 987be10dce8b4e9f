"""A bounded in-memory cache of reward verdicts, kept in the trainer's own process."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any


def freeze_options(options: Mapping[str, Any]) -> str:
    """A stable, hashable form of resolved options."""
    return json.dumps(dict(options), sort_keys=True, default=repr)


def text_digest(completion: str, columns: Mapping[str, Any]) -> str:
    """A content hash of a whole sample, used when a reward declares no ``cache_key``."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(completion.encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update(json.dumps(dict(columns), sort_keys=True, default=repr).encode(
        "utf-8", "surrogatepass"
    ))
    return digest.hexdigest()


class VerdictCache:
    """Least-recently-used map from (reward, options, normalised answer, gold) to a score."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, float] = OrderedDict()

    def get(self, key: Hashable) -> float | None:
        """The cached score, or None."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: float) -> None:
        """Remember a score, evicting the oldest entry past ``max_entries``."""
        if self.max_entries <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()
